/**
 * robots.txt rules as matchers (RFC 9309 §2.2.2–2.2.3): compiling a path
 * pattern, matching a path, selecting and merging the groups of a crawler.
 *
 * A pattern is split on `*` into literal pieces matched greedily left to
 * right with `indexOf`, which is exact for `*`-only wildcards and linear in
 * practice: no regular expression is built from file content, so a hostile
 * robots.txt cannot cause catastrophic backtracking.
 *
 * @internal
 */
import type * as Robots from "../Robots.js"
import * as Percent from "./urlPercent.js"

/**
 * The form both sides are compared in: percent-encoding normalized,
 * non-ASCII encoded, and `%2A`/`%24` decoded so that a pattern can name a
 * literal `*` or `$` (RFC 9309 §2.2.3) and a path with either written raw or
 * encoded matches it.
 */
export const matchForm = (s: string): string => {
  let t = Percent.normalizeForMatch(s)
  if (t.indexOf("%2") >= 0) t = t.replaceAll("%2A", "*").replaceAll("%24", "$")
  return t
}

/** Compiles a rule value (non-empty, trimmed). Values not starting with `/` or `*` get a leading `/`. */
export const compileRule = (allow: boolean, value: string): Robots.Rule => {
  const pattern = value.charCodeAt(0) === 47 /* / */ || value.charCodeAt(0) === 42 /* * */ ? value : "/" + value
  const anchored = pattern.endsWith("$")
  const body = anchored ? pattern.slice(0, -1) : pattern
  const pieces = body.split("*").map(matchForm)
  let specificity = anchored ? 1 : 0
  for (const piece of pieces) specificity += piece.length
  specificity += pieces.length - 1
  return { allow, pattern, pieces, anchored, specificity }
}

/** Whether `rule` matches `path` (already in {@link matchForm}). */
export const matches = (rule: Robots.Rule, path: string): boolean => {
  const pieces = rule.pieces
  const first = pieces[0] ?? ""
  if (!path.startsWith(first)) return false
  const last = pieces.length - 1
  if (last === 0) return rule.anchored ? path.length === first.length : true
  let position = first.length
  for (let i = 1; i < last; i++) {
    const piece = pieces[i] ?? ""
    const at = path.indexOf(piece, position)
    if (at < 0) return false
    position = at + piece.length
  }
  const tail = pieces[last] ?? ""
  // Leftmost placement of the middle pieces leaves the most room for the tail.
  return rule.anchored
    ? path.length - tail.length >= position && path.endsWith(tail)
    : tail === "" || path.indexOf(tail, position) >= 0
}

/** Longest rule first; on a tie `allow` first (RFC 9309 §2.2.2). */
export const byPrecedence = (a: Robots.Rule, b: Robots.Rule): number =>
  b.specificity - a.specificity || (a.allow === b.allow ? 0 : a.allow ? -1 : 1)

const tokenPattern = /^[A-Za-z_-]+/

/**
 * The product token of a user-agent string or line, lower-case:
 * `Mozilla/5.0 (compatible; FooBot/1.2)` → `mozilla`, `FooBot/1.2` →
 * `foobot`, `*` → `*`. A value with no token (`123bot`) is kept whole, so
 * it still names a group — one that matches no crawler.
 */
export const productToken = (value: string): string => {
  const trimmed = value.trim()
  if (trimmed.charCodeAt(0) === 42 /* * */) return "*"
  const match = tokenPattern.exec(trimmed)
  return (match === null ? trimmed : match[0]).toLowerCase()
}

/**
 * How specifically a group's agent token names the crawler's token: its
 * length when equal, or when a prefix ending at a `-`/`_` boundary
 * (`googlebot` names `googlebot-news`); -1 otherwise.
 */
export const agentScore = (agent: string, token: string): number => {
  if (agent === "" || agent === "*") return -1
  if (agent === token) return agent.length
  if (token.length > agent.length && token.startsWith(agent)) {
    const next = token.charCodeAt(agent.length)
    if (next === 45 /* - */ || next === 95 /* _ */) return agent.length
  }
  return -1
}

/** The groups a crawler obeys: those naming it most specifically, else the `*` groups, else none. */
export const selectGroups = (
  groups: ReadonlyArray<Robots.Group>,
  token: string
): { readonly groups: ReadonlyArray<Robots.Group>; readonly matched: "agent" | "*" | "none" } => {
  let best = -1
  for (const group of groups) {
    for (const agent of group.agents) best = Math.max(best, agentScore(agent, token))
  }
  const selected: Array<Robots.Group> = []
  if (best >= 0) {
    for (const group of groups) {
      if (group.agents.some((agent) => agentScore(agent, token) === best)) selected.push(group)
    }
    return { groups: selected, matched: "agent" }
  }
  for (const group of groups) if (group.agents.includes("*")) selected.push(group)
  return { groups: selected, matched: selected.length > 0 ? "*" : "none" }
}
