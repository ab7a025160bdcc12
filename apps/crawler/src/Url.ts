/**
 * `Url`: what makes two links the same page, and whether a page belongs to the
 * crawl.
 *
 * {@link normalize} turns any string into the one URL the crawler fetches and
 * keys on, or says why it cannot ({@link InvalidUrl}):
 *
 * - parsed with the WHATWG URL parser (browsers' rules): relative and
 *   protocol-relative references are resolved ({@link resolve}), scheme and
 *   host lower-cased, international host names turned to punycode, default
 *   ports dropped, dot segments removed, an empty path made `/`;
 * - then RFC 3986 §6.2.2: escapes of unreserved characters decoded
 *   (`/p/%312` → `/p/12`, `%7E` → `~`), the hex of other escapes upper-cased,
 *   a stray `%` encoded as `%25`; the fragment and an empty `?` dropped;
 * - optionally the query rewritten: {@link trackingParameters} removed
 *   (`stripTracking`), parameters sorted by name (`sortQuery`, stable).
 *
 * Path case, query order (without `sortQuery`) and user info are kept. Only
 * `http:` and `https:` URLs are accepted. The result is idempotent:
 * `normalize(normalize(x).href)` is `normalize(x)`.
 *
 * {@link scope} decides whether a normalized URL is part of the crawl,
 * relative to the seeds, and why not.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Url } from "@fiberkit/crawler"
 *
 * Url.key("HTTP://Example.COM:80/a/./b/../%7euser?utm_source=x#top", { stripTracking: true })
 * // Either.right("http://example.com/a/~user")
 *
 * const inScope = Either.getOrThrow(Url.scope(["https://example.com/"], "same-domain", { exclude: ["/logout"] }))
 * Either.map(Url.normalize("https://blog.example.com/post"), inScope) // Either.right(true)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { getDomain } from "tldts"
import * as internal from "./internal/urlNormalize.js"

/**
 * How to normalize. All optional; the defaults change nothing beyond the
 * equivalences of RFC 3986 and WHATWG.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Drop {@link trackingParameters} (and every `utm_*`) from the query. Default `false`. */
  readonly stripTracking?: boolean | undefined
  /** Sort query parameters by name (stable: repeated names keep their order). Default `false`. */
  readonly sortQuery?: boolean | undefined
  /** Longest accepted normalized URL, in characters. Default {@link defaultMaxLength}. */
  readonly maxLength?: number | undefined
}

/**
 * Default {@link Options.maxLength}: the sitemap protocol's limit, and short
 * enough for a unique B-tree index on Postgres (whose entries must stay under
 * about 2,700 bytes).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLength: number = internal.defaultMaxLength

/**
 * A normalized `http(s)` URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface Normalized {
  /** The normalized URL: what to fetch and the frontier key ({@link key}). */
  readonly href: string
  readonly scheme: "http" | "https"
  /** Host name and non-default port (`URL.host`): the politeness key. */
  readonly host: string
  /** Host name only, lower-case, punycode; IPv6 in brackets. */
  readonly hostname: string
  /** Path and query, e.g. `/a/b?x=1`: what robots.txt rules match. */
  readonly path: string
}

/**
 * Why a string is not a crawlable URL:
 *
 * - `empty`: nothing but whitespace;
 * - `malformed`: the URL parser rejects it (no scheme and no base, bad host, bad port…);
 * - `unsupported_scheme`: not `http:`/`https:` (`mailto:`, `tel:`, `javascript:`, `data:`, `ftp:`…);
 * - `too_long`: longer than {@link Options.maxLength} once normalized.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = internal.Failure

const describe: Record<Reason, string> = {
  empty: "it is empty",
  malformed: "it is not a valid absolute URL (resolve relative links against their page)",
  unsupported_scheme: "only http: and https: URLs are crawled",
  too_long: "it is longer than the maximum URL length (raise maxLength to accept it)"
}

const excerpt = (s: string): string => JSON.stringify(s.length > 200 ? s.slice(0, 200) + "…" : s)

/**
 * A string that is not a crawlable URL, and why. A value, not an exception:
 * links are rejected routinely (every `mailto:`), so it carries no stack
 * trace.
 *
 * @since 0.1.0
 * @category models
 */
export class InvalidUrl extends Data.TaggedClass("InvalidUrl")<{
  /** The input as given (before resolution). */
  readonly input: string
  readonly reason: Reason
  /** The scheme without `:` for `unsupported_scheme` (e.g. `mailto`), else `undefined`. */
  readonly scheme: string | undefined
}> {
  /** What was rejected and why. */
  get message(): string {
    const scheme = this.scheme === undefined ? "" : ` (scheme ${this.scheme}:)`
    return `Url: rejected ${excerpt(this.input)}${scheme}: ${describe[this.reason]}.`
  }
}

const invalid = (input: string, base: string | undefined, reason: Reason): InvalidUrl =>
  new InvalidUrl({
    input: typeof input === "string" ? input : String(input),
    reason,
    scheme: reason === "unsupported_scheme" ? internal.schemeOf(input, base) : undefined
  })

const finish = (
  input: string,
  base: string | undefined,
  result: Normalized | Reason
): Either.Either<Normalized, InvalidUrl> =>
  typeof result === "string" ? Either.left(invalid(input, base, result)) : Either.right(result)

/**
 * Normalizes an absolute URL. Never throws: anything that is not an absolute
 * `http(s)` URL is a `Left` with the reason.
 *
 * @example
 * ```ts
 * Url.normalize("HTTP://EXAMPLE.com:80/p/%312?#x") // Right({ href: "http://example.com/p/12", host: "example.com", ... })
 * Url.normalize("mailto:a@example.com")           // Left(InvalidUrl { reason: "unsupported_scheme", scheme: "mailto" })
 * ```
 *
 * @since 0.1.0
 * @category normalization
 */
export const normalize = (input: string, options?: Options): Either.Either<Normalized, InvalidUrl> =>
  finish(input, undefined, internal.run(input, undefined, options))

/**
 * Resolves a reference (relative, root-relative, protocol-relative or
 * absolute, as written in an `href`) against `base` (the page URL, or its
 * `<base href>`) and normalizes the result. Never throws.
 *
 * @example
 * ```ts
 * Url.resolve("../b?x#f", "http://example.com/a/c/d") // Right({ href: "http://example.com/a/b?x", ... })
 * Url.resolve("//cdn.example.com/x", "https://example.com/") // Right({ href: "https://cdn.example.com/x", ... })
 * ```
 *
 * @since 0.1.0
 * @category normalization
 */
export const resolve = (href: string, base: string, options?: Options): Either.Either<Normalized, InvalidUrl> =>
  finish(href, base, internal.run(href, base, options))

/**
 * The frontier key of a URL: its normalized `href`. Two links are the same
 * page to the crawler exactly when their keys are equal, so use the same
 * {@link Options} for a whole crawl.
 *
 * @since 0.1.0
 * @category normalization
 */
export const key = (input: string, options?: Options): Either.Either<string, InvalidUrl> => {
  const result = internal.run(input, undefined, options)
  return typeof result === "string" ? Either.left(invalid(input, undefined, result)) : Either.right(result.href)
}

/**
 * The query parameters {@link Options.stripTracking} removes, lower-case,
 * compared case-insensitively: click identifiers of ad and social networks
 * (`gclid`, `fbclid`, `msclkid`, `ttclid`, …), mail and marketing tools
 * (`mc_cid`, `_hsenc`, `mkt_tok`, …) and analytics cookies passed in URLs
 * (`_ga`, `_gl`). Every name starting with {@link trackingPrefixes} counts
 * too. Session or referral parameters (`ref`, `sessionid`) are not on the
 * list: some sites serve different content for them; canonical links
 * deduplicate those.
 *
 * @since 0.1.0
 * @category constants
 */
export const trackingParameters: ReadonlyArray<string> = internal.trackingParameters

/**
 * Name prefixes of tracking parameters: `utm_` (Google Analytics campaigns:
 * `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`, `utm_id`, …).
 *
 * @since 0.1.0
 * @category constants
 */
export const trackingPrefixes: ReadonlyArray<string> = internal.trackingPrefixes

/**
 * Whether a query parameter name (as written, percent-normalized) is a
 * tracking parameter (case-insensitive).
 *
 * @since 0.1.0
 * @category normalization
 */
export const isTrackingParameter: (name: string) => boolean = internal.isTrackingParameter

// ---------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------

/**
 * Which URLs belong to a crawl, relative to its seeds (a URL is in scope when
 * it is for at least one seed):
 *
 * - `same-origin`: same scheme, host and port;
 * - `same-host`: same host and port (`URL.host`, default ports dropped), any
 *   scheme: `http://a.com/` and `https://a.com/` are one host, `a.com:8080`
 *   is another (as it is for politeness: limits count per host and port);
 * - `same-domain`: same registrable domain (`blog.example.co.uk` and
 *   `example.co.uk`), from the Public Suffix List including its private
 *   section, so `a.github.io` and `b.github.io` are different sites. An IP
 *   address or a single-label host (`localhost`) is its own domain;
 * - `prefix`: the URL starts with the seed's URL without its query
 *   (seed `https://example.com/docs/` → everything under `/docs/`);
 * - `any`: every URL (only `include`/`exclude` limit it).
 *
 * @since 0.1.0
 * @category scope
 */
export type ScopeMode = "same-origin" | "same-host" | "same-domain" | "prefix" | "any"

/**
 * Every {@link ScopeMode}, for CLI choices.
 *
 * @since 0.1.0
 * @category scope
 */
export const scopeModes: ReadonlyArray<ScopeMode> = ["same-origin", "same-host", "same-domain", "prefix", "any"]

/**
 * Regular expressions tested against the normalized `href`. A URL must match
 * one `include` pattern (when any are given) and no `exclude` pattern:
 * exclude wins. Strings are compiled with `new RegExp(source)`; `g`/`y`
 * flags of given `RegExp`s are dropped (they would make `test` stateful).
 *
 * @since 0.1.0
 * @category scope
 */
export interface ScopeOptions {
  readonly include?: ReadonlyArray<string | RegExp> | undefined
  readonly exclude?: ReadonlyArray<string | RegExp> | undefined
}

/**
 * Why a URL is out of scope: outside the seeds' `mode`, matched by an
 * `exclude` pattern, or matched by none of the `include` patterns.
 *
 * @since 0.1.0
 * @category scope
 */
export class OutOfScope extends Data.TaggedClass("OutOfScope")<{
  readonly url: string
  readonly rule: "mode" | "exclude" | "include"
  readonly mode: ScopeMode
  /** The exclude pattern that matched (`rule: "exclude"`), else `undefined`. */
  readonly pattern: string | undefined
}> {
  /** Which rule rejected the URL. */
  get message(): string {
    switch (this.rule) {
      case "mode":
        return `Url: ${excerpt(this.url)} is outside the crawl's scope (${this.mode} of the seeds).`
      case "exclude":
        return `Url: ${excerpt(this.url)} matches the exclude pattern /${this.pattern ?? ""}/.`
      case "include":
        return `Url: ${excerpt(this.url)} matches none of the include patterns.`
    }
  }
}

/**
 * The scope could not be built: a seed that is not a crawlable URL, no seeds
 * (for any mode but `any`), or a pattern that is not a valid regular
 * expression.
 *
 * @since 0.1.0
 * @category scope
 */
export class InvalidScope extends Data.TaggedError("InvalidScope")<{
  readonly option: "seeds" | "include" | "exclude"
  readonly value: string
  readonly reason: string
}> {
  override get message(): string {
    return `Url.scope: invalid ${this.option} ${excerpt(this.value)}: ${this.reason}.`
  }
}

/**
 * A scope predicate: `true`, or why the URL is out of scope.
 *
 * @since 0.1.0
 * @category scope
 */
export type Scope = (url: Normalized) => true | OutOfScope

const domainOptions = { allowPrivateDomains: true, extractHostname: false } as const
const domainCache = new Map<string, string>()
const domainCacheSize = 4096

/**
 * The registrable domain of a host name (`www.example.co.uk` →
 * `example.co.uk`), using the Public Suffix List with its private section
 * (`user.github.io` is its own). A host with no registrable domain (an IP
 * address, `localhost`, a bare public suffix) is its own domain.
 *
 * @since 0.1.0
 * @category scope
 */
export const registrableDomain = (hostname: string): string => {
  if (hostname.charCodeAt(0) === 91 /* [ */) return hostname
  const cached = domainCache.get(hostname)
  if (cached !== undefined) return cached
  const result = getDomain(hostname, domainOptions) ?? hostname
  if (domainCache.size >= domainCacheSize) domainCache.clear()
  domainCache.set(hostname, result)
  return result
}

const toRegExp = (pattern: string | RegExp): RegExp =>
  typeof pattern === "string"
    ? new RegExp(pattern)
    : pattern.global || pattern.sticky
    ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""))
    : pattern

const compile = (
  option: "include" | "exclude",
  patterns: ReadonlyArray<string | RegExp> | undefined
): Either.Either<ReadonlyArray<RegExp>, InvalidScope> => {
  const out: Array<RegExp> = []
  for (const pattern of patterns ?? []) {
    try {
      out.push(toRegExp(pattern))
    } catch (error) {
      return Either.left(
        new InvalidScope({
          option,
          value: String(pattern),
          reason: error instanceof Error ? error.message : String(error)
        })
      )
    }
  }
  return Either.right(out)
}

const inDomains = (hostname: string, domains: ReadonlyArray<string>): boolean => {
  for (const domain of domains) {
    // Only a host equal to or under a seed's domain can share it: skip the
    // suffix-list lookup for everything else.
    if (
      hostname === domain ||
      (hostname.length > domain.length && hostname.endsWith(domain) &&
        hostname.charCodeAt(hostname.length - domain.length - 1) === 46 /* . */ &&
        registrableDomain(hostname) === domain)
    ) return true
  }
  return false
}

const withinMode = (
  url: Normalized,
  mode: ScopeMode,
  keys: ReadonlySet<string>,
  domains: ReadonlyArray<string>,
  prefixes: ReadonlyArray<string>
): boolean => {
  switch (mode) {
    case "any":
      return true
    case "same-origin":
      return keys.has(url.scheme + "://" + url.host)
    case "same-host":
      return keys.has(url.host)
    case "same-domain":
      return keys.has(url.hostname) || inDomains(url.hostname, domains)
    case "prefix":
      for (const prefix of prefixes) if (url.href.startsWith(prefix)) return true
      return false
  }
}

/**
 * Builds the scope predicate of a crawl from its seeds (URLs or already
 * normalized ones), a {@link ScopeMode} and include/exclude patterns.
 * Checks run in that order: mode, exclude, include.
 *
 * @example
 * ```ts
 * const inScope = Either.getOrThrow(Url.scope(["http://127.0.0.1:8080/"], "same-origin", { exclude: ["\\?print="] }))
 * const verdict = inScope(Either.getOrThrow(Url.normalize("http://127.0.0.1:8080/a?print=1")))
 * // OutOfScope { rule: "exclude", pattern: "\\?print=" }
 * ```
 *
 * @since 0.1.0
 * @category scope
 */
export const scope = (
  seeds: ReadonlyArray<string | Normalized>,
  mode: ScopeMode,
  options: ScopeOptions = {}
): Either.Either<Scope, InvalidScope> => {
  if (!scopeModes.includes(mode)) {
    return Either.left(
      new InvalidScope({ option: "seeds", value: String(mode), reason: `unknown scope mode; use one of ${scopeModes.join(", ")}` })
    )
  }
  const normalized: Array<Normalized> = []
  for (const seed of seeds) {
    if (typeof seed !== "string") {
      normalized.push(seed)
      continue
    }
    const result = normalize(seed)
    if (Either.isLeft(result)) {
      return Either.left(new InvalidScope({ option: "seeds", value: seed, reason: describe[result.left.reason] }))
    }
    normalized.push(result.right)
  }
  if (normalized.length === 0 && mode !== "any") {
    return Either.left(new InvalidScope({ option: "seeds", value: "", reason: `mode ${mode} needs at least one seed` }))
  }
  const include = compile("include", options.include)
  if (Either.isLeft(include)) return Either.left(include.left)
  const exclude = compile("exclude", options.exclude)
  if (Either.isLeft(exclude)) return Either.left(exclude.left)
  const includes = include.right
  const excludes = exclude.right

  const keys = new Set<string>()
  const domains: Array<string> = []
  const prefixes: Array<string> = []
  for (const seed of normalized) {
    if (mode === "same-origin") keys.add(seed.scheme + "://" + seed.host)
    else if (mode === "same-host") keys.add(seed.host)
    else keys.add(seed.hostname)
    const domain = registrableDomain(seed.hostname)
    if (!domains.includes(domain)) domains.push(domain)
    const q = seed.href.indexOf("?")
    prefixes.push(q < 0 ? seed.href : seed.href.slice(0, q))
  }

  return Either.right((url: Normalized): true | OutOfScope => {
    if (!withinMode(url, mode, keys, domains, prefixes)) {
      return new OutOfScope({ url: url.href, rule: "mode", mode, pattern: undefined })
    }
    for (const pattern of excludes) {
      if (pattern.test(url.href)) return new OutOfScope({ url: url.href, rule: "exclude", mode, pattern: pattern.source })
    }
    if (includes.length > 0) {
      let matched = false
      for (const pattern of includes) {
        if (pattern.test(url.href)) {
          matched = true
          break
        }
      }
      if (!matched) return new OutOfScope({ url: url.href, rule: "include", mode, pattern: undefined })
    }
    return true
  })
}
