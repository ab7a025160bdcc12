/**
 * The crawl's options, their defaults, and their validation. The CLI maps
 * its flags onto these one to one; library users pass them to
 * `Crawler.crawl`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import type * as Url from "./Url.js"

/**
 * Which URLs belong to the crawl, relative to the start URLs (see `Url.scope`).
 *
 * @since 0.1.0
 * @category models
 */
export type ScopeMode = Url.ScopeMode

/**
 * Every option of a crawl.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Start URLs. */
  readonly seeds: ReadonlyArray<string>
  /** Requests in flight at once, all hosts together. Default `32`. */
  readonly concurrency: number
  /** Requests in flight at once to one host. Default `4`. */
  readonly perHost: number
  /** Request starts per second to one host; `undefined`: no rate limit beyond robots Crawl-delay. Default `undefined`. */
  readonly rate: number | undefined
  /** Stop after this many pages (fetched or failed). Default: no limit. */
  readonly maxPages: number | undefined
  /** Do not follow links deeper than this (start URLs are depth 0). Default: no limit. */
  readonly maxDepth: number | undefined
  /** Default `same-host`. */
  readonly scope: ScopeMode
  /** Only URLs matching one of these regular expressions (when any are given). */
  readonly include: ReadonlyArray<string>
  /** Never URLs matching one of these regular expressions (wins over `include`). */
  readonly exclude: ReadonlyArray<string>
  /** Obey robots.txt (Disallow, Allow, Crawl-delay). Default `true`. */
  readonly robots: boolean
  /** Follow the sitemaps robots.txt lists. Default `false`. */
  readonly sitemaps: boolean
  /** Sitemaps to read at the start (also index and gzipped sitemaps). */
  readonly sitemapUrls: ReadonlyArray<string>
  /** Default `fiberkit-crawler/0.1`. Its first token is what robots.txt groups are matched against. */
  readonly userAgent: string
  /** Timeout of one request attempt, in ms. Default `30_000`. */
  readonly timeoutMs: number
  /** Retries of a failed request (timeouts, transport errors, 408/425/429/5xx). Default `3`. */
  readonly retries: number
  /** Largest body, after decompression. Default 10 MiB. */
  readonly maxBytes: number
  /**
   * Fetch hosts that resolve to private, loopback or link-local addresses
   * even when they are not a start URL's host (see `AddressPolicy`). Default `false`.
   */
  readonly allowPrivate: boolean
  /** Keep every body in a content-addressed store in this directory. Default: none. */
  readonly saveBodies: string | undefined
  /** Treat URLs differing only in query parameter order as one. Default `false`. */
  readonly sortQuery: boolean
  /** Drop tracking parameters (`utm_*`, `gclid`, `fbclid`, …) from URLs. Default `true`. */
  readonly stripTracking: boolean
  /** Append every page's record to this JSONL file as pages complete. */
  readonly out: string | undefined
  /** Continue the crawl stored in the database. */
  readonly resume: boolean
  /**
   * How long a claimed URL stays reserved before another worker may take
   * it, in ms; the worker renews its leases every third of this (its
   * heartbeat), so only a dead worker's leases run out. Also how long a
   * worker may be silent before the others declare it dead. Default `30_000`.
   */
  readonly leaseMs: number
  /** How long in-flight pages may take after a stop request, in ms. Default `10_000`. */
  readonly graceMs: number
  /** Show a progress display on stderr. Default `true`. */
  readonly progress: boolean
}

/**
 * The defaults (see each field of {@link Options}); `seeds` is empty.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Options = {
  seeds: [],
  concurrency: 32,
  perHost: 4,
  rate: undefined,
  maxPages: undefined,
  maxDepth: undefined,
  scope: "same-host",
  include: [],
  exclude: [],
  robots: true,
  sitemaps: false,
  sitemapUrls: [],
  userAgent: "fiberkit-crawler/0.1",
  timeoutMs: 30_000,
  retries: 3,
  maxBytes: 10 * 1024 * 1024,
  allowPrivate: false,
  saveBodies: undefined,
  sortQuery: false,
  stripTracking: true,
  out: undefined,
  resume: false,
  leaseMs: 30_000,
  graceMs: 10_000,
  progress: true
}

/**
 * An option is invalid: `option` names it (as the CLI flag), the message
 * says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOption extends Data.TaggedError("InvalidOption")<{
  readonly option: string
  readonly reason: string
}> {
  override get message(): string {
    return `--${this.option}: ${this.reason}`
  }
}

const positiveInt = (option: string, n: number | undefined): InvalidOption | undefined =>
  n === undefined || (Number.isInteger(n) && n >= 1)
    ? undefined
    : new InvalidOption({ option, reason: `expected a whole number >= 1, got ${n}` })

/**
 * Applies partial options to the defaults and checks them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: Partial<Options>): Either.Either<Options, InvalidOption> => {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
  const o: Options = { ...defaults, ...defined }
  const problem = (!o.resume && o.seeds.length === 0
    ? new InvalidOption({ option: "url", reason: "give at least one start URL (or --resume to continue a stored crawl)" })
    : undefined) ??
    positiveInt("concurrency", o.concurrency) ??
    positiveInt("per-host", o.perHost) ??
    positiveInt("max-pages", o.maxPages) ??
    (o.maxDepth === undefined || (Number.isInteger(o.maxDepth) && o.maxDepth >= 0)
      ? undefined
      : new InvalidOption({ option: "max-depth", reason: `expected a whole number >= 0, got ${o.maxDepth}` })) ??
    (o.rate === undefined || (Number.isFinite(o.rate) && o.rate > 0)
      ? undefined
      : new InvalidOption({ option: "rate", reason: `expected requests per second > 0, got ${o.rate}` })) ??
    (Number.isFinite(o.timeoutMs) && o.timeoutMs > 0
      ? undefined
      : new InvalidOption({ option: "timeout", reason: `expected a duration > 0, got ${o.timeoutMs} ms` })) ??
    (Number.isFinite(o.leaseMs) && o.leaseMs >= 5000
      ? undefined
      : new InvalidOption({ option: "lease", reason: `expected at least 5 s, got ${o.leaseMs / 1000} s` })) ??
    (Number.isInteger(o.retries) && o.retries >= 0
      ? undefined
      : new InvalidOption({ option: "retries", reason: `expected a whole number >= 0, got ${o.retries}` })) ??
    (Number.isInteger(o.maxBytes) && o.maxBytes >= 1
      ? undefined
      : new InvalidOption({ option: "max-bytes", reason: `expected a byte count >= 1, got ${o.maxBytes}` })) ??
    (o.userAgent.trim() !== "" && /^[\t\x20-\x7e\x80-\xff]*$/.test(o.userAgent)
      ? undefined
      : new InvalidOption({ option: "user-agent", reason: "expected printable text" }))
  return problem === undefined ? Either.right(o) : Either.left(problem)
}
