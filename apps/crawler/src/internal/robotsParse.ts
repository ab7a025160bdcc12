/**
 * robots.txt text to groups (RFC 9309 §2.1–2.2.1): lines are
 * `key: value # comment`; one or more `user-agent` lines start a group and
 * the rules (and `crawl-delay`) after them belong to it until the next
 * `user-agent` line that follows one of them. Blank lines and unknown keys do
 * not end a group. `sitemap`
 * lines are global.
 *
 * @internal
 */
import type * as Robots from "../Robots.js"
import * as Match from "./robotsMatch.js"

type Directive = "agent" | "allow" | "disallow" | "delay" | "sitemap"

/** Keys, lower-case, with the misspellings RFC 9309 §2.2.4 lets crawlers accept and real files contain. */
const directives: ReadonlyMap<string, Directive> = new Map<string, Directive>([
  ["user-agent", "agent"],
  ["useragent", "agent"],
  ["user agent", "agent"],
  ["allow", "allow"],
  ["disallow", "disallow"],
  ["dissallow", "disallow"],
  ["dissalow", "disallow"],
  ["disalow", "disallow"],
  ["diasllow", "disallow"],
  ["disallaw", "disallow"],
  ["crawl-delay", "delay"],
  ["crawldelay", "delay"],
  ["crawl delay", "delay"],
  ["sitemap", "sitemap"],
  ["site-map", "sitemap"]
])

const lineBreak = /\r\n|\r|\n/
const delayPattern = /^(?:\d+(?:\.\d*)?|\.\d+)$/

interface MutableGroup {
  readonly agents: Array<string>
  readonly rules: Array<Robots.Rule>
  crawlDelay: number | undefined
}

export interface Parsed {
  readonly groups: ReadonlyArray<Robots.Group>
  readonly sitemaps: ReadonlyArray<string>
}

export const parse = (text: string): Parsed => {
  const groups: Array<MutableGroup> = []
  const sitemaps: Array<string> = []
  const seen = new Set<string>()
  let current: MutableGroup | undefined
  // Whether the previous group line was a user-agent line: consecutive ones share a group.
  let inAgents = false
  const lines = text.split(lineBreak)
  for (let raw of lines) {
    const hash = raw.indexOf("#")
    if (hash >= 0) raw = raw.slice(0, hash)
    const colon = raw.indexOf(":")
    if (colon < 0) continue
    const directive = directives.get(raw.slice(0, colon).trim().toLowerCase())
    if (directive === undefined) continue
    const value = raw.slice(colon + 1).trim()
    switch (directive) {
      case "agent": {
        if (current === undefined || !inAgents) {
          current = { agents: [], rules: [], crawlDelay: undefined }
          groups.push(current)
        }
        current.agents.push(Match.productToken(value))
        inAgents = true
        break
      }
      case "allow":
      case "disallow": {
        inAgents = false
        // Rules before any user-agent line belong to no group; an empty value matches nothing.
        if (current !== undefined && value !== "") current.rules.push(Match.compileRule(directive === "allow", value))
        break
      }
      case "delay": {
        // A group member like a rule (as Bing and Yandex read it): files write
        // "User-agent: slowbot / Crawl-delay: 5" then "User-agent: * / ..." as two groups.
        inAgents = false
        if (current !== undefined && delayPattern.test(value)) {
          const seconds = Number(value)
          if (Number.isFinite(seconds)) current.crawlDelay = Math.max(current.crawlDelay ?? 0, seconds)
        }
        break
      }
      case "sitemap": {
        if (value !== "" && !seen.has(value)) {
          seen.add(value)
          sitemaps.push(value)
        }
        break
      }
    }
  }
  return { groups, sitemaps }
}
