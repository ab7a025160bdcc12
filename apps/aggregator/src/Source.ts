/**
 * Sources of quotes: an exchange adapter over HTTP ({@link exchange}), a
 * generic JSON endpoint described in configuration ({@link json}), or a
 * JSONL/CSV file ({@link file}).
 *
 * A {@link Source} answers one tick: `fetch(symbols)` never fails and never
 * throws, and gives every requested symbol exactly one {@link Observation} —
 * a quote, or a failure whose kind says why:
 *
 * | what happened | kind |
 * |---|---|
 * | an attempt timed out (after the retries) | `timeout` |
 * | HTTP 429 or 418 (after the retries), or the venue's own rate-limit answer | `rate_limited` |
 * | the venue does not list the symbol, or it cannot be spelled there | `unsupported` |
 * | any other HTTP status, a transport failure, a payload that does not decode (the message names the path), a price that is not a finite number above zero | `error` |
 *
 * HTTP sources own an `Http` client from `@fiberkit/core` (closed with the
 * scope): their own rate limit, a timeout per attempt, retries with backoff
 * that honour `Retry-After`. `latencyMs` is the duration of the HTTP call
 * that brought the observation, retries and `Retry-After` waits included.
 * Extra weight tokens (Binance batches weigh 2) are taken before the clock
 * starts; the call's own token is taken inside it, which only waits when
 * the source is asked faster than its rate. File sources report the time to
 * check and read the file.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Files, Http, type HttpError, KeyedRateLimiter } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Exchanges from "./Exchanges.js"
import { parseCsv, parseJsonl, PriceValue, type Snapshot, VolumeValue } from "./internal/sourceFile.js"
import {
  fill,
  getPath,
  hasPlaceholder,
  parsePath,
  type Path,
  type Placeholders,
  presentPrefix,
  unknownPlaceholders
} from "./internal/sourcePath.js"
import { decodeWith, formatPath, toEpochMillis } from "./internal/sourceValues.js"
import { type FailureKind, type Observation, splitSymbol } from "./Model.js"

// ---------------------------------------------------------------------------
// The interface
// ---------------------------------------------------------------------------

/**
 * A source of quotes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Source {
  /** `binance`, `coinbase`, `my-feed`, … (`/^[a-z0-9][a-z0-9_-]*$/`). */
  readonly id: string
  readonly kind: "exchange" | "json" | "file"
  /**
   * Quote these canonical symbols for one tick. Never fails and never
   * throws: every distinct requested symbol gets exactly one Observation, in
   * the order asked. Interruption (a tick deadline) is allowed; the caller
   * then records `timeout` for the symbols of this source.
   */
  readonly fetch: (symbols: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Observation>>
}

/**
 * A source could not be built from its settings: `field` names the setting,
 * `reason` says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: string
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return `Source ${JSON.stringify(this.source)}: invalid ${this.field}: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------
// Configuration schemas
// ---------------------------------------------------------------------------

const idPattern = /^[a-z0-9][a-z0-9_-]*$/

/**
 * A source id: lower-case letters, digits, `_` and `-`, starting with a
 * letter or digit.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SourceId = Schema.String.pipe(
  Schema.pattern(idPattern, {
    message: () => "a source id is lower-case letters, digits, '_' and '-', starting with a letter or digit"
  }),
  Schema.annotations({ identifier: "SourceId", examples: ["binance", "my-feed"] })
)

/**
 * A duration in configuration: a number of milliseconds (`2000`) or a
 * duration string (`"2 seconds"`, `"500 millis"`, `"1 minute"`); decodes to
 * milliseconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DurationMs = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    const ms = typeof input === "number"
      ? input
      : Option.getOrUndefined(Option.map(Duration.decodeUnknown(input.trim()), Duration.toMillis))
    return ms !== undefined && Number.isFinite(ms) && ms >= 0
      ? ParseResult.succeed(ms)
      : ParseResult.fail(
        new ParseResult.Type(
          ast,
          input,
          `${JSON.stringify(input)} is not a duration; write e.g. "2 seconds", "500 millis" or 2000 (milliseconds)`
        )
      )
  },
  encode: (ms) => ParseResult.succeed(ms)
}).annotations({ identifier: "DurationMs", examples: [2000] })

/**
 * A rate limit: `perSecond` on average (above 0), `burst` back to back (a
 * whole number, at least 1).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RateConfig = Schema.Struct({
  perSecond: Schema.Number.pipe(Schema.finite(), Schema.positive()),
  burst: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))
}).annotations({ identifier: "Rate" })

const Retries = Schema.Int.pipe(Schema.between(0, 10)).annotations({ identifier: "Retries" })

/**
 * A map from canonical symbols to the source's own spelling.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SymbolMap = Schema.Record({ key: Schema.String, value: Schema.NonEmptyString }).pipe(
  Schema.filter((map) => {
    const bad = Object.keys(map).filter((key) => !/^[A-Z0-9]{2,24}$/.test(key))
    return bad.length === 0 ? true : `symbol map keys are canonical symbols such as BTCUSDT, not ${bad.join(", ")}`
  }),
  Schema.annotations({ identifier: "SymbolMap" })
)

const FieldPath = Schema.String.pipe(
  Schema.filter((text) => Either.match(parsePath(text), { onLeft: (reason) => reason, onRight: () => true })),
  Schema.annotations({ identifier: "FieldPath", examples: ["data.0.last", "$.data[0].last"] })
)

const UrlTemplate = Schema.String.pipe(
  Schema.filter((text) => {
    if (!/^https?:\/\//i.test(text)) return "the URL template must start with http:// or https://"
    const unknown = unknownPlaceholders(text)
    return unknown.length === 0 ? true : `unknown placeholder ${unknown.join(", ")}; use {symbol}, {base}, {quote} or {venue}`
  }),
  Schema.annotations({ identifier: "UrlTemplate", examples: ["https://api.example.com/ticker?pair={base}-{quote}"] })
)

const HttpFields = {
  /** Per attempt. Default 2 s. */
  timeout: Schema.optional(DurationMs),
  /** Retries after the first attempt. Default 2. */
  retries: Schema.optional(Retries),
  /** Default: the adapter's documented limit; 10/s, burst 10 for JSON sources. */
  rate: Schema.optional(RateConfig),
  userAgent: Schema.optional(Schema.NonEmptyString)
}

/**
 * An exchange source in configuration: the adapter (`exchange`, one of
 * {@link Exchanges.all} or `okx-swap`), and optional overrides. `id`
 * defaults to the exchange, `baseUrl` to its live API.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExchangeSourceConfig = Schema.Struct({
  exchange: Schema.Literal("binance", "coinbase", "kraken", "okx", "bybit", "bitstamp", "okx-swap"),
  id: Schema.optional(SourceId),
  baseUrl: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\//i, {
    message: () => "the base URL must start with http:// or https://"
  }))),
  ...HttpFields
}).annotations({ identifier: "ExchangeSourceConfig" })

/**
 * @since 0.1.0
 * @category models
 */
export interface ExchangeSourceConfig extends Schema.Schema.Type<typeof ExchangeSourceConfig> {}

/**
 * A generic JSON source.
 *
 * - `urlTemplate`: the URL of one symbol's price, with placeholders
 *   `{symbol}` (canonical, `BTCUSDT`), `{base}`/`{quote}` (`BTC`/`USDT`) and
 *   `{venue}` (the `symbols` map's spelling, else the canonical symbol), each
 *   optionally `:lower` or `:upper` (`{base:lower}`); values are
 *   percent-encoded. Symbols whose URL comes out the same share one request
 *   per tick (a URL without placeholders serves every symbol from one body).
 * - `pricePath` (required), `volumePath`, `timestampPath`, `bidPath`,
 *   `askPath`: where the values are in the body, `data.0.last` or
 *   `$.data[0].last` style, `["quoted keys"]` allowed, placeholders allowed
 *   (`prices.{symbol}.last`). Values may be JSON numbers or numeric strings.
 *   The price must be finite and above zero. A timestamp is seconds,
 *   milliseconds, microseconds or nanoseconds since the epoch (told apart by
 *   magnitude: below 1e11 seconds, below 1e14 ms, below 1e17 µs, else ns), or
 *   an ISO 8601 string; without `timestampPath` the quote is timed when the
 *   response arrived. A missing or `null` volume is `null`.
 * - A price missing at a path that uses a placeholder means the source does
 *   not list the symbol (`unsupported`); at a fixed path it is an `error`.
 * - `symbols`: canonical → the source's spelling, for `{venue}`.
 * - `headers`: sent with every request.
 * - `timeout` (default `2 seconds`), `retries` (default 2), `rate` (default
 *   `{ perSecond: 10, burst: 10 }`), `userAgent` (default `fiberkit-aggregator/0.1`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonSourceConfig = Schema.Struct({
  id: SourceId,
  urlTemplate: UrlTemplate,
  pricePath: FieldPath,
  volumePath: Schema.optional(FieldPath),
  timestampPath: Schema.optional(FieldPath),
  bidPath: Schema.optional(FieldPath),
  askPath: Schema.optional(FieldPath),
  symbols: Schema.optional(SymbolMap),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  ...HttpFields
}).annotations({ identifier: "JsonSourceConfig" })

/**
 * @since 0.1.0
 * @category models
 */
export interface JsonSourceConfig extends Schema.Schema.Type<typeof JsonSourceConfig> {}

/**
 * A file source: rows `{symbol, price, volume?, time?}`.
 *
 * - `path`: the file. `format`: `"jsonl"` (one JSON object per line) or
 *   `"csv"` (a header row naming the columns `symbol` and `price`, optionally
 *   `volume` and `time`, in any order; RFC 4180 quoting; extra columns are
 *   ignored). Default: `csv` when the path ends in `.csv`, else `jsonl`.
 * - `price` and `volume` are numbers or numeric strings; `time` as for JSON
 *   sources (epoch s/ms/µs/ns or ISO 8601). Without `time` the quote is
 *   timed by the file's modification time, so a file nobody updates goes stale.
 * - The last row of a symbol in the file wins (an append log or a snapshot
 *   both work).
 * - The file is re-read when its modification time, size or inode changed
 *   (checked at every fetch), when it was modified within 2 s of the last
 *   read (timestamps too coarse to tell two writes apart), and in any case
 *   every `rereadEvery` (default `30 seconds`).
 * - A missing or unreadable file fails every symbol with `error`. A row that
 *   does not decode fails its symbol with `error` naming the file and line;
 *   a line that cannot be attributed to a symbol (not JSON, no symbol) fails
 *   every symbol. A last line without a newline that does not parse is being
 *   written: it is ignored until complete. A symbol with no row is `unsupported`.
 * - `symbols`: canonical → the spelling used in the file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileSourceConfig = Schema.Struct({
  id: SourceId,
  path: Schema.NonEmptyString,
  format: Schema.optional(Schema.Literal("jsonl", "csv")),
  rereadEvery: Schema.optional(DurationMs),
  symbols: Schema.optional(SymbolMap)
}).annotations({ identifier: "FileSourceConfig" })

/**
 * @since 0.1.0
 * @category models
 */
export interface FileSourceConfig extends Schema.Schema.Type<typeof FileSourceConfig> {}

// ---------------------------------------------------------------------------
// HTTP sources
// ---------------------------------------------------------------------------

/**
 * Settings of an HTTP source; every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpSourceOptions {
  /** Source id. Default: the adapter's id. */
  readonly id?: string | undefined
  /** Default: the adapter's live base URL. */
  readonly baseUrl?: string | undefined
  /** Per attempt (connection, headers and body). Default 2 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Retries after the first attempt, with backoff from 100 ms up to 1 s. Default 2. */
  readonly retries?: number | undefined
  /** Default: the adapter's documented limit (`Adapter.rate`). */
  readonly rate?: Exchanges.Rate | undefined
  /** Default `fiberkit-aggregator/0.1`. */
  readonly userAgent?: string | undefined
  /**
   * Longest `Retry-After` waited for. A venue asking for longer is not
   * retried: the symbols fail `rate_limited` at once rather than holding the
   * tick. Default 5 s.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /**
   * How long a symbol the venue said it does not list is answered
   * `unsupported` without asking again (so that one unknown symbol does not
   * keep breaking a multi-symbol request). Default 10 minutes.
   */
  readonly rememberUnsupported?: Duration.DurationInput | undefined
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const defaults = {
  timeoutMs: 2_000,
  retries: 2,
  maxRetryAfterMs: 5_000,
  rememberUnsupportedMs: 10 * 60_000,
  userAgent: "fiberkit-aggregator/0.1",
  jsonRate: { perSecond: 10, burst: 10 } satisfies Exchanges.Rate
}

interface HttpClient {
  readonly http: Http.Service
  readonly limiter: KeyedRateLimiter.KeyedRateLimiter<string>
}

const validateId = (id: string): Effect.Effect<string, SourceError> =>
  idPattern.test(id) ? Effect.succeed(id) : Effect.fail(
    new SourceError({ source: id, field: "id", reason: "use lower-case letters, digits, '_' and '-' (e.g. my-feed)" })
  )

const validateRate = (source: string, rate: Exchanges.Rate): Effect.Effect<Exchanges.Rate, SourceError> =>
  Number.isFinite(rate.perSecond) && rate.perSecond > 0 && Number.isInteger(rate.burst) && rate.burst >= 1
    ? Effect.succeed(rate)
    : Effect.fail(
      new SourceError({ source, field: "rate", reason: "perSecond must be above 0 and burst a whole number of at least 1" })
    )

const toMs = (source: string, field: string, input: Duration.DurationInput | undefined, fallback: number) =>
  Effect.suspend(() => {
    if (input === undefined) return Effect.succeed(fallback)
    const decoded = Duration.decodeUnknown(input)
    return Option.isSome(decoded) && Duration.toMillis(decoded.value) >= 0
      ? Effect.succeed(Duration.toMillis(decoded.value))
      : Effect.fail(new SourceError({ source, field, reason: `${JSON.stringify(input)} is not a duration` }))
  })

/** One `Http` client per source: its own pool, its own limiter, its own timeouts. */
const makeClient = (
  source: string,
  options: {
    readonly rate: Exchanges.Rate
    readonly timeoutMs: number
    readonly retries: number
    readonly maxRetryAfterMs: number
    readonly userAgent: string
    readonly headers: Readonly<Record<string, string>> | undefined
  }
): Effect.Effect<HttpClient, SourceError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!Number.isInteger(options.retries) || options.retries < 0) {
      return yield* new SourceError({ source, field: "retries", reason: "a whole number of at least 0" })
    }
    const rate = yield* validateRate(source, options.rate)
    // Every attempt, retries included, takes a token from this limiter (it
    // is handed to Http); weights above 1 take the rest before the request.
    const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: rate.perSecond, burst: rate.burst })
    const attempts = options.retries + 1
    const http = yield* Http.make({
      userAgent: options.userAgent,
      headers: options.headers,
      timeouts: {
        connect: options.timeoutMs,
        headers: options.timeoutMs,
        body: options.timeoutMs,
        attempt: options.timeoutMs,
        // Room for every attempt, the backoff and the longest Retry-After.
        total: attempts * options.timeoutMs + options.retries * Math.max(options.maxRetryAfterMs, 1_000) + 1_000
      },
      retry: { maxAttempts: attempts, baseDelay: 100, maxDelay: 1_000, maxRetryAfter: options.maxRetryAfterMs },
      // adaptive: a 429/503 with Retry-After pauses every request to the host, not just the one
      // answered (exchanges ban clients that keep asking through a 429), and halves its rate for a while.
      limits: { perHostMaxInFlight: 8, adaptive: true },
      rateLimiter: limiter,
      // Aggregator sources talk to a handful of hosts; per-host labels are useful.
      metrics: { perHost: true, maxHosts: 64 }
    }).pipe(Effect.mapError((e) => new SourceError({ source, field: e.path, reason: e.reason })))
    return { http, limiter }
  })

interface Classified {
  readonly kind: FailureKind
  readonly message: string
}

/** The failure kind of an HTTP error, the venue's reading of a status first. */
const classifyHttpError = (
  error: HttpError.HttpError,
  venue: (status: number, body: string) => Exchanges.StatusFailure | undefined
): Classified => {
  switch (error._tag) {
    case "TimeoutError":
      return { kind: "timeout", message: error.message }
    case "StatusError": {
      const read = venue(error.status, error.bodyExcerpt)
      if (read !== undefined) return { kind: read.kind, message: `${read.reason} (${error.message})` }
      return { kind: error.status === 429 || error.status === 418 ? "rate_limited" : "error", message: error.message }
    }
    default:
      return { kind: "error", message: error.message }
  }
}

const failure = (source: string, symbol: string, kind: FailureKind, message: string, latencyMs: number): Observation => ({
  _tag: "Failure",
  failure: { source, symbol, kind, message, latencyMs }
})

const unique = (symbols: ReadonlyArray<string>): Array<string> => Array.from(new Set(symbols))

/** One observation per distinct symbol, in the order asked; a symbol nothing answered is an `error` (never expected). */
const inOrder = (
  source: string,
  symbols: ReadonlyArray<string>,
  observations: Iterable<Observation>
): ReadonlyArray<Observation> => {
  const bySymbol = new Map<string, Observation>()
  for (const o of observations) {
    const symbol = o._tag === "Quote" ? o.quote.symbol : o.failure.symbol
    if (!bySymbol.has(symbol)) bySymbol.set(symbol, o)
  }
  return symbols.map((symbol) =>
    bySymbol.get(symbol) ?? failure(source, symbol, "error", `${source}: no request answered ${symbol}`, 0)
  )
}

/** Turns a defect (a bug) into `error` observations, logged, so that `fetch` keeps its promise never to fail. */
const guard = (source: string, symbols: ReadonlyArray<string>) =>
<R>(self: Effect.Effect<ReadonlyArray<Observation>, never, R>): Effect.Effect<ReadonlyArray<Observation>, never, R> =>
  Effect.catchAllDefect(self, (defect) =>
    Effect.logError(`source ${source}: internal error`, defect).pipe(
      Effect.as(symbols.map((symbol) => failure(source, symbol, "error", `${source}: internal error: ${String(defect)}`, 0)))
    ))

/**
 * A source for an exchange adapter. It owns an `Http` client (closed with
 * the scope) with the adapter's documented rate limit unless `rate` is given
 * — request weights above 1 take that many tokens — a timeout per attempt,
 * retries that honour `Retry-After`, and JSON bodies decoded by the adapter.
 *
 * Per tick, symbols the venue cannot spell, and symbols it said it does not
 * list within `rememberUnsupported`, are `unsupported` without a request; the
 * rest go through the adapter's request plan, concurrently. When a
 * multi-symbol request fails as `unsupported` (Binance `-1121`, Kraken
 * `EQuery:Unknown asset pair`), its symbols are asked one by one so that one
 * unknown symbol does not sink the others.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exchange = (
  adapter: Exchanges.Adapter,
  options: HttpSourceOptions = {}
): Effect.Effect<Source, SourceError, Scope.Scope> =>
  Effect.gen(function*() {
    const id = yield* validateId(options.id ?? adapter.id)
    const baseUrl = (options.baseUrl ?? adapter.liveBaseUrl).replace(/\/+$/, "")
    const hostKey = yield* Effect.try({
      try: () => new URL(baseUrl).host,
      catch: () => new SourceError({ source: id, field: "baseUrl", reason: `${JSON.stringify(baseUrl)} is not a URL` })
    })
    const maxRetryAfterMs = yield* toMs(id, "maxRetryAfter", options.maxRetryAfter, defaults.maxRetryAfterMs)
    const { http, limiter } = yield* makeClient(id, {
      rate: options.rate ?? adapter.rate,
      timeoutMs: yield* toMs(id, "timeout", options.timeout, defaults.timeoutMs),
      retries: options.retries ?? defaults.retries,
      maxRetryAfterMs,
      userAgent: options.userAgent ?? defaults.userAgent,
      headers: options.headers
    })
    const rememberMs = yield* toMs(id, "rememberUnsupported", options.rememberUnsupported, defaults.rememberUnsupportedMs)
    const unsupported = new Map<string, { readonly until: number; readonly message: string }>()

    const remember = (symbol: string, message: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          if (rememberMs > 0) unsupported.set(symbol, { until: now + rememberMs, message })
        }))

    const failAll = (plan: Exchanges.RequestPlan, classified: Classified, latencyMs: number) =>
      Effect.gen(function*() {
        if (classified.kind === "unsupported") {
          for (const symbol of plan.symbols) yield* remember(symbol, classified.message)
        }
        return plan.symbols.map((symbol) => failure(id, symbol, classified.kind, classified.message, latencyMs))
      })

    const runPlan = (plan: Exchanges.RequestPlan): Effect.Effect<ReadonlyArray<Observation>> =>
      Effect.gen(function*() {
        // A host that answered 429/503 with a long Retry-After is paused as a whole (adaptive
        // limits): fail now instead of queueing the request behind the pause.
        const paused = limiter.unsafeWaitTime(hostKey)
        if (paused > maxRetryAfterMs) {
          return yield* failAll(plan, {
            kind: "rate_limited",
            message: `${hostKey} asked to be left alone (Retry-After); paused for another ${Math.ceil(paused / 1000)} s`
          }, 0)
        }
        for (let i = 1; i < plan.weight; i++) yield* limiter.take(hostKey)
        const started = yield* Clock.currentTimeMillis
        const response = yield* Effect.either(http.json(Schema.Unknown, { url: baseUrl + plan.path }))
        const receivedAt = yield* Clock.currentTimeMillis
        const latencyMs = receivedAt - started
        const decoded = Either.isLeft(response)
          ? Either.left(classifyHttpError(response.left, adapter.statusFailure))
          : Either.mapLeft(
            adapter.decode(response.right, plan.symbols, receivedAt),
            (e): Classified => ({ kind: e.kind, message: e.message })
          )
        if (Either.isLeft(decoded)) {
          if (decoded.left.kind === "unsupported" && plan.symbols.length > 1) {
            // One unknown symbol fails the whole batch on Binance and Kraken:
            // ask one by one to find it (and remember it).
            const singles = plan.symbols.flatMap((symbol) => adapter.requests([symbol]))
            const answers = yield* Effect.forEach(singles, runPlan, { concurrency: 4 })
            return answers.flat()
          }
          return yield* failAll(plan, decoded.left, latencyMs)
        }
        const observations: Array<Observation> = []
        for (const result of decoded.right) {
          switch (result._tag) {
            case "Quote": {
              const q = result.quote
              observations.push({
                _tag: "Quote",
                quote: {
                  source: id,
                  symbol: q.symbol,
                  price: q.price,
                  bid: q.bid,
                  ask: q.ask,
                  volume: q.volume,
                  quotedAt: q.quotedAt,
                  receivedAt,
                  latencyMs
                }
              })
              break
            }
            case "Missing": {
              const message = `${id} does not list ${result.symbol} (${adapter.venueSymbol(result.symbol) ?? "?"}): ` +
                `not in the response of GET ${plan.path}`
              yield* remember(result.symbol, message)
              observations.push(failure(id, result.symbol, "unsupported", message, latencyMs))
              break
            }
            case "Invalid":
              observations.push(failure(id, result.symbol, "error", result.message, latencyMs))
              break
          }
        }
        return observations
      })

    const fetch = (symbols: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Observation>> => {
      const wanted = unique(symbols)
      return Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const early: Array<Observation> = []
        const ask: Array<string> = []
        for (const symbol of wanted) {
          const venue = adapter.venueSymbol(symbol)
          const known = unsupported.get(symbol)
          if (venue === undefined) {
            early.push(failure(id, symbol, "unsupported", `${adapter.name} has no spelling for ${symbol}`, 0))
          } else if (known !== undefined && known.until > now) {
            early.push(failure(id, symbol, "unsupported", `${known.message} (remembered)`, 0))
          } else {
            if (known !== undefined) unsupported.delete(symbol)
            ask.push(symbol)
          }
        }
        const plans = adapter.requests(ask)
        const answers = yield* Effect.forEach(plans, runPlan, { concurrency: 8 })
        return inOrder(id, wanted, [...early, ...answers.flat()])
      }).pipe(guard(id, wanted))
    }

    return { id, kind: "exchange", fetch } satisfies Source
  })

/**
 * {@link exchange} from an {@link ExchangeSourceConfig}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromExchangeConfig = (config: ExchangeSourceConfig): Effect.Effect<Source, SourceError, Scope.Scope> =>
  Effect.suspend(() => {
    const adapter = Exchanges.byId(config.exchange)
    if (adapter === undefined) {
      return Effect.fail(new SourceError({ source: config.exchange, field: "exchange", reason: "no such adapter" }))
    }
    return exchange(adapter, {
      id: config.id,
      baseUrl: config.baseUrl,
      timeout: config.timeout,
      retries: config.retries,
      rate: config.rate,
      userAgent: config.userAgent
    })
  })

// ---------------------------------------------------------------------------
// Generic JSON source
// ---------------------------------------------------------------------------


const parsePathOrFail = (source: string, field: string, text: string | undefined) =>
  text === undefined
    ? Effect.succeed(undefined)
    : Either.match(parsePath(text), {
      onLeft: (reason) => Effect.fail(new SourceError({ source, field, reason })),
      onRight: (path) => Effect.succeed({ text, path })
    })

interface FieldSpec {
  readonly text: string
  readonly path: Path
}

const fillPath = (path: Path, values: Placeholders): Path =>
  path.map((segment) => typeof segment === "string" ? fill(segment, values) : segment)

const placeholdersFor = (symbol: string, map: Readonly<Record<string, string>> | undefined): Placeholders => {
  const parts = splitSymbol(symbol)
  return { symbol, base: parts?.[0] ?? "", quote: parts?.[1] ?? "", venue: map?.[symbol] ?? symbol }
}

const usesBaseOrQuote = (text: string): boolean => /\{(base|quote)(:(lower|upper))?\}/.test(text)

/**
 * A source over any JSON HTTP endpoint, described by a
 * {@link JsonSourceConfig} (defaults there). Symbols whose URL is the same
 * share one request per tick.
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (config: JsonSourceConfig): Effect.Effect<Source, SourceError, Scope.Scope> =>
  Effect.gen(function*() {
    const id = yield* validateId(config.id)
    if (!/^https?:\/\//i.test(config.urlTemplate) || unknownPlaceholders(config.urlTemplate).length > 0) {
      return yield* new SourceError({
        source: id,
        field: "urlTemplate",
        reason: "an http(s) URL whose placeholders are {symbol}, {base}, {quote} or {venue}"
      })
    }
    const price = yield* parsePathOrFail(id, "pricePath", config.pricePath)
    if (price === undefined) return yield* new SourceError({ source: id, field: "pricePath", reason: "required" })
    const volume = yield* parsePathOrFail(id, "volumePath", config.volumePath)
    const timestamp = yield* parsePathOrFail(id, "timestampPath", config.timestampPath)
    const bid = yield* parsePathOrFail(id, "bidPath", config.bidPath)
    const ask = yield* parsePathOrFail(id, "askPath", config.askPath)
    const needsSplit = [config.urlTemplate, config.pricePath, config.volumePath ?? "", config.timestampPath ?? ""]
      .some(usesBaseOrQuote)
    const { http } = yield* makeClient(id, {
      rate: config.rate ?? defaults.jsonRate,
      timeoutMs: config.timeout ?? defaults.timeoutMs,
      retries: config.retries ?? defaults.retries,
      maxRetryAfterMs: defaults.maxRetryAfterMs,
      userAgent: config.userAgent ?? defaults.userAgent,
      headers: config.headers
    })

    const optionalNumber = <I>(
      body: unknown,
      spec: FieldSpec | undefined,
      values: Placeholders,
      schema: Schema.Schema<number | null, I, never>
    ): Either.Either<number | null, string> => {
      if (spec === undefined) return Either.right(null)
      const path = fillPath(spec.path, values)
      const value = getPath(body, path)
      return value === undefined ? Either.right(null) : decodeWith(schema, value, path)
    }

    const readQuote = (body: unknown, symbol: string, receivedAt: number, latencyMs: number, url: string): Observation => {
      const values = placeholdersFor(symbol, config.symbols)
      const pricePath = fillPath(price.path, values)
      const raw = getPath(body, pricePath)
      if (raw === undefined || raw === null) {
        const found = presentPrefix(body, pricePath)
        const where = `no value at ${formatPath(pricePath)}` +
          (found.length > 0 ? ` (the response has ${formatPath(found)})` : "") + ` in GET ${url}`
        return hasPlaceholder(price.text)
          ? failure(id, symbol, "unsupported", `${id} does not list ${symbol}: ${where}`, latencyMs)
          : failure(id, symbol, "error", `${id}: ${where}`, latencyMs)
      }
      const parsed = decodeWith(PriceValue, raw, pricePath)
      if (Either.isLeft(parsed)) return failure(id, symbol, "error", `${id}: ${symbol}: ${parsed.left}`, latencyMs)
      const vol = optionalNumber(body, volume, values, VolumeValue)
      if (Either.isLeft(vol)) return failure(id, symbol, "error", `${id}: ${symbol}: ${vol.left}`, latencyMs)
      const bidValue = optionalNumber(body, bid, values, Schema.NullOr(PriceValue))
      if (Either.isLeft(bidValue)) return failure(id, symbol, "error", `${id}: ${symbol}: ${bidValue.left}`, latencyMs)
      const askValue = optionalNumber(body, ask, values, Schema.NullOr(PriceValue))
      if (Either.isLeft(askValue)) return failure(id, symbol, "error", `${id}: ${symbol}: ${askValue.left}`, latencyMs)
      let quotedAt = receivedAt
      if (timestamp !== undefined) {
        const path = fillPath(timestamp.path, values)
        const rawTime = getPath(body, path)
        if (rawTime !== undefined && rawTime !== null) {
          const time = toEpochMillis(rawTime)
          if (time === undefined) {
            return failure(
              id,
              symbol,
              "error",
              `${id}: ${symbol}: at ${formatPath(path)}: ${JSON.stringify(rawTime)} is not a timestamp ` +
                "(epoch seconds, milliseconds or an ISO 8601 string)",
              latencyMs
            )
          }
          quotedAt = time
        }
      }
      return {
        _tag: "Quote",
        quote: {
          source: id,
          symbol,
          price: parsed.right,
          bid: bidValue.right,
          ask: askValue.right,
          volume: vol.right,
          quotedAt,
          receivedAt,
          latencyMs
        }
      }
    }

    const fetchUrl = (url: string, symbols: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Observation>> =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const response = yield* Effect.either(http.json(Schema.Unknown, { url }))
        const receivedAt = yield* Clock.currentTimeMillis
        const latencyMs = receivedAt - started
        if (Either.isLeft(response)) {
          const c = classifyHttpError(
            response.left,
            (status) => status === 404 ? { kind: "unsupported", reason: `${id}: not found` } : undefined
          )
          return symbols.map((symbol) => failure(id, symbol, c.kind, c.message, latencyMs))
        }
        return symbols.map((symbol) => readQuote(response.right, symbol, receivedAt, latencyMs, url))
      })

    const fetch = (symbols: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Observation>> => {
      const wanted = unique(symbols)
      return Effect.gen(function*() {
        const early: Array<Observation> = []
        const byUrl = new Map<string, Array<string>>()
        for (const symbol of wanted) {
          if (needsSplit && splitSymbol(symbol) === undefined) {
            early.push(failure(id, symbol, "unsupported", `${id}: cannot split ${symbol} into base and quote`, 0))
            continue
          }
          const url = fill(config.urlTemplate, placeholdersFor(symbol, config.symbols), encodeURIComponent)
          const group = byUrl.get(url)
          if (group === undefined) byUrl.set(url, [symbol])
          else group.push(symbol)
        }
        const answers = yield* Effect.forEach(byUrl, ([url, group]) => fetchUrl(url, group), { concurrency: 8 })
        return inOrder(id, wanted, [...early, ...answers.flat()])
      }).pipe(guard(id, wanted))
    }

    return { id, kind: "json", fetch } satisfies Source
  })

// ---------------------------------------------------------------------------
// File source
// ---------------------------------------------------------------------------

/**
 * A source over a JSONL or CSV file of rows `{symbol, price, volume?,
 * time?}`, re-read when it changes and on a schedule; see
 * {@link FileSourceConfig} for the rules. Needs a `FileSystem`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const file = (config: FileSourceConfig): Effect.Effect<Source, SourceError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const id = yield* validateId(config.id)
    const fs = yield* FileSystem.FileSystem
    const path = config.path
    const format = config.format ?? (path.toLowerCase().endsWith(".csv") ? "csv" : "jsonl")
    const rereadEvery = config.rereadEvery ?? 30_000
    const bySpelling = config.symbols
    const lock = yield* Effect.makeSemaphore(1)
    let state: { readonly signature: string; readonly readAt: number; readonly racy: boolean; readonly snapshot: Snapshot } | undefined

    const failed = (message: string): Snapshot => ({ rows: new Map(), broken: [], fileError: message, mtime: undefined })

    const load = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const info = yield* Effect.either(fs.stat(path))
      if (Either.isLeft(info)) {
        state = undefined
        const e = info.left
        const reason = e._tag === "SystemError" && e.reason === "NotFound" ? "no such file" : e.message
        return failed(`${id}: cannot read ${path}: ${reason}`)
      }
      const mtime = Option.getOrUndefined(Option.map(info.right.mtime, (d) => d.getTime()))
      const signature = `${mtime ?? "?"}:${info.right.size}:${Option.getOrElse(info.right.ino, () => 0)}`
      if (state !== undefined && state.signature === signature && !state.racy && now - state.readAt < rereadEvery) {
        return state.snapshot
      }
      const text = yield* Effect.either(Files.readText(path).pipe(Effect.provideService(FileSystem.FileSystem, fs)))
      if (Either.isLeft(text)) {
        state = undefined
        return failed(`${id}: ${text.left.message}`)
      }
      const parsed = format === "csv" ? parseCsv(path, text.right) : parseJsonl(path, text.right)
      const snapshot: Snapshot = { ...parsed, mtime }
      state = { signature, readAt: now, racy: mtime === undefined || mtime >= now - 2_000, snapshot }
      return snapshot
    })

    const fetch = (symbols: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Observation>> => {
      const wanted = unique(symbols)
      return Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const snapshot = yield* lock.withPermits(1)(load)
        const receivedAt = yield* Clock.currentTimeMillis
        const latencyMs = receivedAt - started
        return wanted.map((symbol): Observation => {
          if (snapshot.fileError !== undefined) return failure(id, symbol, "error", snapshot.fileError, latencyMs)
          const firstBroken = snapshot.broken[0]
          if (firstBroken !== undefined) {
            const more = snapshot.broken.length > 1 ? ` (and ${snapshot.broken.length - 1} more bad lines)` : ""
            return failure(id, symbol, "error", `${id}: ${firstBroken}${more}`, latencyMs)
          }
          const spelling = bySpelling?.[symbol] ?? symbol
          const row = snapshot.rows.get(spelling)
          if (row === undefined) {
            return failure(id, symbol, "unsupported", `${id}: ${path} has no row for ${spelling}`, latencyMs)
          }
          if (row._tag === "Bad") return failure(id, symbol, "error", `${id}: ${row.message}`, latencyMs)
          return {
            _tag: "Quote",
            quote: {
              source: id,
              symbol,
              price: row.price,
              bid: null,
              ask: null,
              volume: row.volume,
              quotedAt: row.time ?? snapshot.mtime ?? receivedAt,
              receivedAt,
              latencyMs
            }
          }
        })
      }).pipe(guard(id, wanted))
    }

    return { id, kind: "file", fetch } satisfies Source
  })
