/**
 * `Robots`: robots.txt per RFC 9309, as pure functions.
 *
 * - {@link fromResponse} turns what fetching `/robots.txt` gave (status and
 *   body, or unreachable) into a {@link Robots}: 2xx → the parsed file;
 *   3xx left after the fetcher followed up to {@link maxRedirects} hops, and
 *   4xx → allow everything; 5xx, 429 and unreachable → disallow everything
 *   and mark it `unavailable`, so the fetcher tries again later.
 * - {@link parse} reads at most {@link maxBytes} (500 KiB): groups of
 *   `User-agent` lines with their `Allow`/`Disallow` rules and
 *   `Crawl-delay`, plus the global `Sitemap` lines.
 * - {@link forAgent} picks the crawler's rules: the groups naming its product
 *   token most specifically (case-insensitive; several groups for the same
 *   agent are merged), else the `*` groups, else none.
 * - {@link isAllowed} matches a path: the longest matching rule wins, `Allow`
 *   wins a tie, `*` matches any run of characters, a final `$` anchors the
 *   end, both sides are compared percent-normalized, and `/robots.txt`
 *   itself is always allowed.
 *
 * Nothing here throws, whatever the input.
 *
 * @example
 * ```ts
 * import { Robots } from "@fiberkit/crawler"
 *
 * const robots = Robots.fromResponse(200, "User-agent: *\nDisallow: /private/\nAllow: /private/public/\nCrawl-delay: 2\n")
 * const agent = Robots.forAgent(robots, "fiberkit-crawler/0.1")
 * Robots.isAllowed(agent, "/private/x")         // false
 * Robots.isAllowed(agent, "/private/public/x")  // true
 * agent.crawlDelayMs                            // 2000
 * ```
 *
 * @since 0.1.0
 */
import type * as Url from "./Url.js"
import * as Match from "./internal/robotsMatch.js"
import * as internal from "./internal/robotsParse.js"

/**
 * The most of a robots.txt file that is read (RFC 9309 §2.5: at least 500
 * kibibytes). Content past it is ignored, with the line it cuts.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBytes = 500 * 1024

/**
 * Redirect hops the fetcher should follow for robots.txt (RFC 9309 §2.3.1.2:
 * at least five). A 3xx left after them counts as a 4xx.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxRedirects = 5

/**
 * How long a fetched robots.txt may be used (RFC 9309 §2.4: crawlers should
 * not use a cached copy for more than 24 hours).
 *
 * @since 0.1.0
 * @category constants
 */
export const cacheTtlMs = 24 * 60 * 60 * 1000

/**
 * One `Allow` or `Disallow` line, compiled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule {
  readonly allow: boolean
  /** The path pattern as written (a leading `/` added when missing). */
  readonly pattern: string
  /** The literal parts between `*` wildcards, percent-normalized. */
  readonly pieces: ReadonlyArray<string>
  /** Whether the pattern ends with `$` (matches to the end of the path only). */
  readonly anchored: boolean
  /** Length of the normalized pattern in octets: the longest matching rule wins. */
  readonly specificity: number
}

/**
 * One group: the product tokens of its `User-agent` lines (lower-case, `*`
 * for all), its rules in file order and its `Crawl-delay` in seconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Group {
  readonly agents: ReadonlyArray<string>
  readonly rules: ReadonlyArray<Rule>
  readonly crawlDelay: number | undefined
}

/**
 * A site's robots policy.
 *
 * - `parsed`: from a 2xx robots.txt;
 * - `allow_all`: no usable file (4xx, a redirect chain too long): everything is allowed;
 * - `unavailable`: the server failed (5xx, 429) or could not be reached: nothing is allowed until it is fetched again.
 *
 * @since 0.1.0
 * @category models
 */
export interface Robots {
  readonly source: "parsed" | "allow_all" | "unavailable"
  /** The HTTP status it came from; `undefined` for unreachable or a direct {@link parse}. */
  readonly status: number | undefined
  readonly groups: ReadonlyArray<Group>
  /** `Sitemap` URLs as written, deduplicated, in file order. */
  readonly sitemaps: ReadonlyArray<string>
  /** Whether the file was longer than {@link maxBytes} and cut. */
  readonly truncated: boolean
}

/**
 * The rules one crawler obeys on one site.
 *
 * @since 0.1.0
 * @category models
 */
export interface Agent {
  /** The crawler's product token, lower-case. */
  readonly token: string
  /** What the rules came from: groups naming the crawler, the `*` groups, or nothing. */
  readonly matched: "agent" | "*" | "none"
  /** The merged rules, in precedence order (longest first, `Allow` first on a tie). */
  readonly rules: ReadonlyArray<Rule>
  /** `Crawl-delay` of the selected groups in milliseconds (the largest when merged); `undefined` when absent. */
  readonly crawlDelayMs: number | undefined
  /** The site's robots.txt could not be fetched: nothing is allowed, try again later. */
  readonly unavailable: boolean
}

const decoder = new TextDecoder("utf-8")

const withoutLastLine = (text: string): string => {
  const cut = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"))
  return cut < 0 ? "" : text.slice(0, cut)
}

/**
 * Parses a robots.txt body (bytes are decoded as UTF-8). At most
 * {@link maxBytes} are read (bytes of a `Uint8Array`, characters of a
 * string); when the file is longer, the line the limit cuts is dropped too,
 * so a half-read rule never applies.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (body: string | Uint8Array): Robots => {
  let text: string
  let truncated: boolean
  if (typeof body === "string") {
    truncated = body.length > maxBytes
    text = truncated ? withoutLastLine(body.slice(0, maxBytes)) : body
  } else {
    truncated = body.length > maxBytes
    text = decoder.decode(truncated ? body.subarray(0, maxBytes) : body)
    if (truncated) text = withoutLastLine(text)
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const parsed = internal.parse(text)
  return { source: "parsed", status: undefined, groups: parsed.groups, sitemaps: parsed.sitemaps, truncated }
}

/**
 * Everything allowed: no robots.txt (4xx) or robots disabled.
 *
 * @since 0.1.0
 * @category constructors
 */
export const allowAll: Robots = { source: "allow_all", status: undefined, groups: [], sitemaps: [], truncated: false }

/**
 * Nothing allowed for now: robots.txt could not be fetched.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unavailable: Robots = { source: "unavailable", status: undefined, groups: [], sitemaps: [], truncated: false }

/**
 * The policy from fetching `/robots.txt` (RFC 9309 §2.3.1): give the final
 * status after following redirects (up to {@link maxRedirects}), or
 * `"unreachable"` when no response came (DNS, connection, timeout).
 *
 * - 200–299: the body is parsed;
 * - 300–399 (redirects left unfollowed) and 400–499: everything allowed;
 * - 429 (Too Many Requests): unavailable, like a 5xx — RFC 9309 would allow
 *   everything, but a server asking us to slow down is no invitation to
 *   crawl it unrestricted (Google does the same);
 * - 500–599, anything else, unreachable: unavailable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResponse = (status: number | "unreachable", body: string | Uint8Array = ""): Robots => {
  if (status === "unreachable" || !Number.isInteger(status)) return unavailable
  if (status >= 200 && status < 300) return { ...parse(body), status }
  if (status === 429) return { ...unavailable, status }
  if (status >= 300 && status < 500) return { ...allowAll, status }
  return { ...unavailable, status }
}

/**
 * The product token of a user-agent string, lower-case: `FiberKit/0.1
 * (+https://example.com/bot)` → `fiberkit`.
 *
 * @since 0.1.0
 * @category matching
 */
export const productToken: (userAgent: string) => string = Match.productToken

/**
 * The rules a crawler obeys. `userAgent` is its product token or its whole
 * user-agent string (the token is taken from it). Groups whose
 * `User-agent` equals the token, or is a prefix of it ending at `-`/`_`
 * (`googlebot` names `googlebot-news`), are candidates; the longest one wins
 * and all groups naming it are merged. Otherwise the `*` groups apply;
 * otherwise nothing is disallowed.
 *
 * @since 0.1.0
 * @category matching
 */
export const forAgent = (robots: Robots, userAgent: string): Agent => {
  const token = Match.productToken(userAgent)
  const selected = Match.selectGroups(robots.groups, token)
  const rules: Array<Rule> = []
  let delay: number | undefined
  for (const group of selected.groups) {
    for (const rule of group.rules) rules.push(rule)
    if (group.crawlDelay !== undefined) delay = Math.max(delay ?? 0, group.crawlDelay)
  }
  rules.sort(Match.byPrecedence)
  return {
    token,
    matched: selected.matched,
    rules,
    crawlDelayMs: delay === undefined ? undefined : Math.round(delay * 1000),
    unavailable: robots.source === "unavailable"
  }
}

/**
 * The rule that decides `path` (path and query, e.g. `Url.Normalized.path`),
 * or `undefined` when none matches (then it is allowed).
 *
 * @since 0.1.0
 * @category matching
 */
export const match = (agent: Agent, path: string): Rule | undefined => {
  if (agent.rules.length === 0) return undefined
  const form = Match.matchForm(typeof path === "string" && path !== "" ? path : "/")
  for (const rule of agent.rules) if (Match.matches(rule, form)) return rule
  return undefined
}

/**
 * Whether the crawler may fetch `path` (path and query, e.g.
 * `Url.Normalized.path`). Always `true` for `/robots.txt`; otherwise
 * always `false` while robots.txt is {@link Agent.unavailable}.
 *
 * @since 0.1.0
 * @category matching
 */
export const isAllowed = (agent: Agent, path: string): boolean => {
  if (path === "/robots.txt") return true
  if (agent.unavailable) return false
  const rule = match(agent, path)
  return rule === undefined || rule.allow
}

/**
 * The robots.txt URL governing a URL: its scheme, host and port with path
 * `/robots.txt` (user info dropped).
 *
 * @since 0.1.0
 * @category constructors
 */
export const urlFor = (url: Url.Normalized): string => `${url.scheme}://${url.host}/robots.txt`
