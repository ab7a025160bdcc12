/**
 * URL normalization mechanics: one WHATWG parse, then the RFC 3986 steps the
 * WHATWG parser leaves out (unreserved escapes, hex case, fragment, empty
 * query) and the optional query rewrites (tracking parameters, order).
 *
 * Failures are returned as a code, not thrown, so a page full of `mailto:`
 * links costs no exceptions beyond the URL parser's own.
 *
 * @internal
 */
import type * as Url from "../Url.js"
import * as Percent from "./urlPercent.js"

/** Why an input is not a crawlable URL. */
export type Failure = "empty" | "malformed" | "unsupported_scheme" | "too_long"

export const defaultMaxLength = 2048

/** Query parameters that only identify a campaign or a click (lower-case). */
export const trackingParameters: ReadonlyArray<string> = [
  "gclid",
  "gclsrc",
  "gbraid",
  "wbraid",
  "gad_source",
  "dclid",
  "fbclid",
  "msclkid",
  "twclid",
  "ttclid",
  "li_fat_id",
  "igshid",
  "yclid",
  "ysclid",
  "srsltid",
  "mc_cid",
  "mc_eid",
  "_ga",
  "_gl",
  "_hsenc",
  "_hsmi",
  "__hstc",
  "__hssc",
  "__hsfp",
  "hsctatracking",
  "mkt_tok",
  "oly_anon_id",
  "oly_enc_id",
  "rb_clickid",
  "vero_id",
  "vero_conv",
  "wickedid",
  "epik",
  "_openstat"
]

/** Every parameter whose lower-cased name starts with one of these is tracking too. */
export const trackingPrefixes: ReadonlyArray<string> = ["utm_"]

const trackingSet: ReadonlySet<string> = new Set(trackingParameters)

export const isTrackingParameter = (name: string): boolean => {
  const lower = name.toLowerCase()
  if (trackingSet.has(lower)) return true
  for (const prefix of trackingPrefixes) if (lower.startsWith(prefix)) return true
  return false
}

const nameOf = (pair: string): string => {
  const eq = pair.indexOf("=")
  return eq < 0 ? pair : pair.slice(0, eq)
}

// Module-level so `sort` gets no fresh closure per call; `Array.prototype.sort`
// is stable, so repeated names keep their relative order (`a=2&a=1` stays).
const byName = (a: string, b: string): number => {
  const x = nameOf(a)
  const y = nameOf(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** Whether the pair `search[start, end)` is empty or (when stripping) a tracking parameter. */
const isDropped = (search: string, start: number, end: number, strip: boolean): boolean => {
  if (start === end) return true
  if (!strip) return false
  let eq = search.indexOf("=", start)
  if (eq < 0 || eq > end) eq = end
  return isTrackingParameter(search.slice(start, eq))
}

/** Rewrites a non-empty `?query`: empty pairs dropped, tracking pairs dropped, pairs sorted by name. */
const rewriteQuery = (search: string, strip: boolean, sort: boolean): string => {
  if (!sort) {
    // Most queries lose nothing: check without splitting, and return them as they are.
    let start = 1
    let keep = true
    while (keep && start <= search.length) {
      let end = search.indexOf("&", start)
      if (end < 0) end = search.length
      if (isDropped(search, start, end, strip)) keep = false
      start = end + 1
    }
    if (keep) return search
  }
  const pairs = search.slice(1).split("&")
  const kept: Array<string> = []
  for (const pair of pairs) {
    if (pair === "" || (strip && isTrackingParameter(nameOf(pair)))) continue
    kept.push(pair)
  }
  if (sort && kept.length > 1) kept.sort(byName)
  return kept.length === 0 ? "" : "?" + kept.join("&")
}

const isBlank = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x20) return false
  return true
}

/**
 * Normalizes `input`, resolved against `base` when given. Returns the
 * normalized URL or the reason it is not one. Never throws.
 */
export const run = (input: string, base: string | undefined, options: Url.Options | undefined): Url.Normalized | Failure => {
  if (typeof input !== "string") return "malformed"
  const maxLength = options?.maxLength ?? defaultMaxLength
  // A cheap bound before parsing; the exact limit applies to the result, which
  // can be shorter (dot segments, dropped parameters) or longer (escapes).
  if (input.length > maxLength * 4 + 64) return "too_long"
  let url: URL
  try {
    url = base === undefined ? new URL(input) : new URL(input, base)
  } catch {
    return isBlank(input) ? "empty" : "malformed"
  }
  const protocol = url.protocol
  if (protocol !== "http:" && protocol !== "https:") return "unsupported_scheme"
  const pathname = Percent.normalize(url.pathname)
  let search = url.search
  if (search !== "") {
    search = Percent.normalize(search)
    const strip = options?.stripTracking === true
    const sort = options?.sortQuery === true
    if (strip || sort) search = rewriteQuery(search, strip, sort)
  }
  const username = url.username
  const password = url.password
  const userinfo = username === "" && password === "" ? "" : password === "" ? username + "@" : username + ":" + password + "@"
  const host = url.host
  const href = protocol + "//" + userinfo + host + pathname + search
  if (href.length > maxLength) return "too_long"
  return {
    href,
    scheme: protocol === "http:" ? "http" : "https",
    host,
    hostname: url.hostname,
    path: pathname + search
  }
}

/** The scheme of an input that failed with `unsupported_scheme`, e.g. `mailto`. */
export const schemeOf = (input: string, base: string | undefined): string => {
  try {
    const url = base === undefined ? new URL(input) : new URL(input, base)
    return url.protocol.slice(0, -1)
  } catch {
    return ""
  }
}
