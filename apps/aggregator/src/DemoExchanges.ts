/**
 * Simulated exchanges for the offline demo and for tests: one real HTTP
 * server per exchange on a loopback port, each speaking its real exchange's
 * public ticker API — the same paths, symbol spellings, JSON shapes (numbers
 * as strings where the exchange sends strings) and error bodies as Binance,
 * Coinbase Exchange, Kraken, OKX, Bybit and Bitstamp — so the real adapters
 * run unchanged against `baseUrl`.
 *
 * Prices follow one seeded random walk per symbol, shared by all exchanges
 * (reference BTCUSDT ≈ 67 000, ETHUSDT ≈ 3 500, SOLUSDT ≈ 150; any other
 * symbol with a known quote asset gets a seeded reference). Each exchange
 * quotes it with its own small constant offset, per-step noise and spread,
 * so aggregates have a real dispersion.
 *
 * Faults, per request and seeded: latency (uniform in `latencyMs`), 5xx,
 * 429 with `Retry-After` (seconds), timeouts (the request is accepted and
 * never answered; closing the scope closes the socket), stale quotes (a
 * stuck feed: for `staleEpisodeMs` the exchange serves its snapshot from
 * `staleAgeMs` ago, old timestamps included where the shape has one) and
 * outliers (one answer 3–8 % off). Tests force faults per exchange at run
 * time ({@link DemoExchange.force}) and read each server's request log with
 * server-side timestamps ({@link DemoExchange.requests}).
 *
 * Prices are a pure function of (seed, exchange, symbol, step) with step =
 * `floor((now - start) / stepMs)`, read from the `Clock` the exchanges were
 * started with; the fault sequence depends only on the seed and the order of
 * requests. Same seed, same requests: same answers.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as DemoExchanges from "@fiberkit/aggregator/DemoExchanges"
 *
 * const program = Effect.gen(function*() {
 *   const exchanges = yield* DemoExchanges.start({ seed: 7, faults: DemoExchanges.noFaults })
 *   const binance = exchanges[0]
 *   // GET `${binance.baseUrl}/api/v3/ticker/24hr?symbols=["BTCUSDT","ETHUSDT"]`
 *   yield* binance.force({ status: 429, retryAfter: 2 }, { times: 1 })
 *   const log = yield* binance.requests
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as TestServer from "@fiberkit/testkit/TestServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Market, referencePrice } from "./internal/demoMarket.js"
import { hash, hashString } from "./internal/demoRandom.js"
import { DemoHandler, type Fault as InternalFault } from "./internal/demoServer.js"
import { type VenueId, venue as venueById, venues } from "./internal/demoVenues.js"

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/**
 * The exchanges the demo can simulate.
 *
 * @since 0.1.0
 * @category models
 */
export type ExchangeId = VenueId

/**
 * Every simulated exchange, in start order.
 *
 * @since 0.1.0
 * @category constants
 */
export const exchangeIds: ReadonlyArray<ExchangeId> = venues.map((v) => v.id)

/**
 * Per-request probabilities (0–1) of the random faults. Draws are exclusive
 * in this order: `timeout`, `error5xx`, `rateLimited`; a request that
 * escapes them may start a stale episode (`stale`) or, outside one, carry
 * an outlier price (`outlier`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultRates {
  /** A 500, 502, 503 or 504 in the exchange's error envelope. */
  readonly error5xx: number
  /** A 429 with `Retry-After: retryAfterSeconds`. */
  readonly rateLimited: number
  /** The request is accepted and never answered. */
  readonly timeout: number
  /** Starts a stale episode (the feed freezes on an old snapshot for `staleEpisodeMs`). */
  readonly stale: number
  /** The answer's prices are 3–8 % off (up or down). */
  readonly outlier: number
}

/**
 * No random faults: what most tests want.
 *
 * @since 0.1.0
 * @category constants
 */
export const noFaults: FaultRates = { error5xx: 0, rateLimited: 0, timeout: 0, stale: 0, outlier: 0 }

/**
 * The demo's default fault rates: a little of everything (a stale episode lasts 10 s, so stale is rarer), so a running demo
 * shows exclusions, retries and circuit breakers at work.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFaults: FaultRates = { error5xx: 0.02, rateLimited: 0.01, timeout: 0.005, stale: 0.0015, outlier: 0.005 }

/**
 * Latency added before the response headers, uniform in `[min, max]` ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface Latency {
  readonly min: number
  readonly max: number
}

/**
 * An exchange's own request rate limit (token bucket): a client that goes
 * faster gets 429 with `Retry-After` (logged as `throttled`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimit {
  readonly perSecond: number
  readonly burst: number
}

/**
 * A fault forced on an exchange's requests.
 *
 * - `Status`: that status in the exchange's error envelope; a 429 carries
 *   `Retry-After: retryAfter` (seconds, default `retryAfterSeconds`).
 * - `Stall`: the request is accepted and never answered.
 * - `Reset`: the connection is reset before anything is sent.
 * - `Stale`: quotes frozen `ageMs` (default `staleAgeMs`) before the moment
 *   the fault was forced, timestamps included.
 * - `Outlier`: prices multiplied by `factor` (default 1.05).
 * - `Slow`: a normal answer after `latencyMs`.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = InternalFault

/**
 * A {@link Fault} or a shorthand: `503` / `"503"` (a status), `"stall"`,
 * `"reset"`, `"stale"`, `"outlier"`, or `{ status: 429, retryAfter: 1 }`.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultInput =
  | Fault
  | number
  | `${number}`
  | "stall"
  | "reset"
  | "stale"
  | "outlier"
  | { readonly status: number; readonly retryAfter?: number }

/**
 * What the server did to a request besides answering it normally:
 * `server_error` (5xx), `rate_limited` (429, random or forced), `throttled`
 * (429 from the exchange's own {@link RateLimit}), `stall`, `reset`,
 * `stale`, `outlier`, `slow`.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultKind = "server_error" | "rate_limited" | "throttled" | "stall" | "reset" | "stale" | "outlier" | "slow"

/**
 * One request as the exchange's server saw it. Times are server-side epoch
 * milliseconds (sub-millisecond resolution).
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoRequest {
  /** 1-based arrival order since start or the last `reset`. */
  readonly id: number
  readonly method: string
  /** Path and query as received. */
  readonly path: string
  readonly arrivedAt: number
  /** When the response was fully written or the connection closed; `undefined` while pending. */
  readonly completedAt: number | undefined
  /** The status sent; `undefined` when no headers were sent (stall, reset, still waiting). */
  readonly status: number | undefined
  /** The injected fault, `null` for a normal answer. */
  readonly fault: FaultKind | null
  /** Whether the fault was forced by a test rather than drawn. */
  readonly forced: boolean
  /** Injected delay before the headers, ms (0 for a stall). */
  readonly latencyMs: number
  /** `aborted`: the client gave up first (e.g. its timeout during a stall). */
  readonly outcome: "pending" | "completed" | "aborted" | "reset"
}

/**
 * One running simulated exchange.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoExchange {
  readonly id: ExchangeId
  readonly name: string
  /** `http://127.0.0.1:PORT`: use it as the adapter's base URL. */
  readonly baseUrl: string
  readonly port: number
  /** The URL of the real exchange's public API this one imitates. */
  readonly liveBaseUrl: string
  /** Canonical symbols this exchange lists. */
  readonly symbols: ReadonlyArray<string>
  /** The request log, oldest first (the newest `logLimit` requests). */
  readonly requests: Effect.Effect<ReadonlyArray<DemoRequest>>
  /** Completes once `count` requests have arrived since start or the last `reset`. */
  readonly awaitRequests: (count: number) => Effect.Effect<void>
  /** Forces `fault` on every following request, or on the next `times` only. Replaces any forced fault. */
  readonly force: (fault: FaultInput, options?: { readonly times?: number }) => Effect.Effect<void>
  /** Stops a forced fault and ends a random stale episode. */
  readonly clearFault: Effect.Effect<void>
  /** Changes the random fault rates (missing fields keep their value). */
  readonly setFaults: (rates: Partial<FaultRates>) => Effect.Effect<void>
  readonly setLatency: (latency: Latency) => Effect.Effect<void>
  /** Sets or removes (`null`) the exchange's own rate limit. */
  readonly setRateLimit: (limit: RateLimit | null) => Effect.Effect<void>
  /** Clears the request log and any forced fault. */
  readonly reset: Effect.Effect<void>
}

/**
 * How the demo exchanges start. Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Seed of prices, faults and latencies. Default `1`. */
  readonly seed?: number
  /** Canonical symbols every exchange lists. Default `BTCUSDT`, `ETHUSDT`, `SOLUSDT`. */
  readonly symbols?: ReadonlyArray<string>
  /** Which exchanges to start, in order. Default: all six. */
  readonly exchanges?: ReadonlyArray<ExchangeId>
  /** Symbols an exchange does not list (its "unknown symbol" error answers them). */
  readonly unlisted?: Partial<Record<ExchangeId, ReadonlyArray<string>>>
  /** Default `{ min: 20, max: 120 }`. */
  readonly latencyMs?: Latency
  /** Random fault rates; missing fields take {@link defaultFaults}' value. Use {@link noFaults} for none. */
  readonly faults?: Partial<FaultRates>
  /** Per-exchange overrides of `faults`. */
  readonly faultsByExchange?: Partial<Record<ExchangeId, Partial<FaultRates>>>
  /** Per-exchange rate limits. Default: none. */
  readonly rateLimits?: Partial<Record<ExchangeId, RateLimit>>
  /** `Retry-After` of random 429s, seconds. Default `1`. */
  readonly retryAfterSeconds?: number
  /** Milliseconds per random-walk step. Default `1_000`. */
  readonly stepMs?: number
  /** Standard deviation of one step's relative price move. Default `0.0002` (≈ 1.2 % an hour at 1 s steps). */
  readonly volatility?: number
  /** How old a stale snapshot is when the feed freezes, ms. Default `30_000`. */
  readonly staleAgeMs?: number
  /** How long a random stale episode lasts, ms. Default `10_000`. */
  readonly staleEpisodeMs?: number
  /** Default `127.0.0.1`. */
  readonly host?: string
  /** Fixed ports; default `0` (a free port) for each. */
  readonly ports?: Partial<Record<ExchangeId, number>>
  /** Requests kept in each exchange's log. Default `10_000`. */
  readonly logLimit?: number
}

/**
 * The default symbols.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSymbols: ReadonlyArray<string> = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

/**
 * The options are unusable (unknown exchange, symbol the demo cannot price,
 * probability out of range, …). Raised as a defect: options come from
 * validated configuration, so this is a bug in the caller.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidDemoOptions extends Data.TaggedError("InvalidDemoOptions")<{
  readonly option: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `DemoExchanges: option "${this.option}" is ${JSON.stringify(this.value)}; expected ${this.expected}.`
  }
}

// ---------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------

const SYMBOL = /^[A-Z0-9]{2,24}$/

const isProbability = (p: number) => Number.isFinite(p) && p >= 0 && p <= 1

const checkRates = (option: string, rates: FaultRates): InvalidDemoOptions | undefined => {
  for (const [name, value] of Object.entries(rates)) {
    if (typeof value !== "number" || !isProbability(value)) {
      return new InvalidDemoOptions({ option: `${option}.${name}`, value, expected: "a probability between 0 and 1" })
    }
  }
  const total = rates.timeout + rates.error5xx + rates.rateLimited
  return total > 1
    ? new InvalidDemoOptions({
      option: option,
      value: rates,
      expected: "timeout + error5xx + rateLimited at most 1"
    })
    : undefined
}

const checkLatency = (option: string, latency: Latency): InvalidDemoOptions | undefined =>
  Number.isFinite(latency.min) && Number.isFinite(latency.max) && latency.min >= 0 && latency.max >= latency.min
    ? undefined
    : new InvalidDemoOptions({ option, value: latency, expected: "0 <= min <= max, finite milliseconds" })

const checkRateLimit = (option: string, limit: RateLimit): InvalidDemoOptions | undefined =>
  limit.perSecond > 0 && Number.isFinite(limit.perSecond) && limit.burst >= 1
    ? undefined
    : new InvalidDemoOptions({ option, value: limit, expected: "perSecond > 0 and burst >= 1" })

/** The first problem with `options`, if any. */
const validate = (options: Options): InvalidDemoOptions | undefined => {
  const symbols = options.symbols ?? defaultSymbols
  if (symbols.length === 0) return new InvalidDemoOptions({ option: "symbols", value: symbols, expected: "at least one symbol" })
  for (const symbol of symbols) {
    if (!SYMBOL.test(symbol) || referencePrice(symbol) === undefined) {
      return new InvalidDemoOptions({
        option: "symbols",
        value: symbol,
        expected: "a canonical symbol with a known quote asset, e.g. BTCUSDT"
      })
    }
  }
  const ids = options.exchanges ?? exchangeIds
  if (ids.length === 0) return new InvalidDemoOptions({ option: "exchanges", value: ids, expected: "at least one exchange" })
  for (const id of ids) {
    if (venueById(id) === undefined) {
      return new InvalidDemoOptions({ option: "exchanges", value: id, expected: `one of ${exchangeIds.join(", ")}` })
    }
  }
  if (new Set(ids).size !== ids.length) {
    return new InvalidDemoOptions({ option: "exchanges", value: ids, expected: "no exchange twice" })
  }
  const rates = { ...defaultFaults, ...options.faults }
  const latency = options.latencyMs
  const positive: ReadonlyArray<readonly [string, number | undefined]> = [
    ["stepMs", options.stepMs],
    ["logLimit", options.logLimit]
  ]
  for (const [option, value] of positive) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      return new InvalidDemoOptions({ option, value, expected: "a positive number" })
    }
  }
  const nonNegative: ReadonlyArray<readonly [string, number | undefined]> = [
    ["volatility", options.volatility],
    ["staleAgeMs", options.staleAgeMs],
    ["staleEpisodeMs", options.staleEpisodeMs],
    ["retryAfterSeconds", options.retryAfterSeconds]
  ]
  for (const [option, value] of nonNegative) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      return new InvalidDemoOptions({ option, value, expected: "a finite number >= 0" })
    }
  }
  return checkRates("faults", rates) ??
    (latency === undefined ? undefined : checkLatency("latencyMs", latency)) ??
    ids.map((id) => {
      const own = options.faultsByExchange?.[id]
      const limit = options.rateLimits?.[id]
      return (own === undefined ? undefined : checkRates(`faultsByExchange.${id}`, { ...rates, ...own })) ??
        (limit === undefined ? undefined : checkRateLimit(`rateLimits.${id}`, limit))
    }).find((e) => e !== undefined)
}

/** A {@link FaultInput} as a {@link Fault}, or `undefined` when it is not one. */
const toFault = (input: FaultInput): Fault | undefined => {
  if (typeof input === "number") return { _tag: "Status", status: input }
  if (typeof input === "string") {
    switch (input) {
      case "stall":
        return { _tag: "Stall" }
      case "reset":
        return { _tag: "Reset" }
      case "stale":
        return { _tag: "Stale" }
      case "outlier":
        return { _tag: "Outlier" }
      default: {
        const status = Number(input)
        return Number.isInteger(status) ? { _tag: "Status", status } : undefined
      }
    }
  }
  if ("_tag" in input) return input
  return { _tag: "Status", status: input.status, retryAfter: input.retryAfter }
}

const validFault = (fault: Fault): boolean => {
  switch (fault._tag) {
    case "Status":
      return Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599 &&
        (fault.retryAfter === undefined || (Number.isFinite(fault.retryAfter) && fault.retryAfter >= 0))
    case "Slow":
      return Number.isFinite(fault.latencyMs) && fault.latencyMs >= 0
    case "Outlier":
      return fault.factor === undefined || (Number.isFinite(fault.factor) && fault.factor > 0)
    case "Stale":
      return fault.ageMs === undefined || (Number.isFinite(fault.ageMs) && fault.ageMs >= 0)
    case "Stall":
    case "Reset":
      return true
  }
}

// ---------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------

/**
 * The running demo exchanges.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly exchanges: ReadonlyArray<DemoExchange>
  /** The canonical symbols the demo prices. */
  readonly symbols: ReadonlyArray<string>
  /** The exchange with this id; fails when it was not started. */
  readonly get: (id: ExchangeId) => Effect.Effect<DemoExchange, Cause.NoSuchElementException>
  /** The shared (true) price of `symbol` now, before any exchange's offset and noise; `undefined` for an unknown symbol. */
  readonly truth: (symbol: string) => Effect.Effect<number | undefined>
  /** Resets every exchange. */
  readonly reset: Effect.Effect<void>
}

/**
 * The demo exchanges as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class DemoExchanges extends Context.Tag("@fiberkit/aggregator/DemoExchanges")<DemoExchanges, Service>() {}

/**
 * Starts the demo exchanges for the lifetime of the scope and returns the
 * service. Closing the scope stops every server and destroys every
 * connection, stalled ones included. Invalid options are a defect
 * ({@link InvalidDemoOptions}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = validate(options)
    if (invalid !== undefined) return yield* Effect.die(invalid)
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const seed = options.seed ?? 1
    const symbols = options.symbols ?? defaultSymbols
    const market = new Market({
      seed,
      stepMs: options.stepMs ?? 1_000,
      volatility: options.volatility ?? 0.0002,
      startedAt: now()
    })
    const baseRates: FaultRates = { ...defaultFaults, ...options.faults }
    const logLimit = Math.floor(options.logLimit ?? 10_000)
    const exchanges: Array<DemoExchange> = []
    for (const id of options.exchanges ?? exchangeIds) {
      const venue = venueById(id)
      if (venue === undefined) return yield* Effect.die(new InvalidDemoOptions({ option: "exchanges", value: id, expected: exchangeIds.join(", ") }))
      const unlisted = new Set(options.unlisted?.[id] ?? [])
      const listed = symbols.filter((s) => !unlisted.has(s))
      let rates: FaultRates = { ...baseRates, ...options.faultsByExchange?.[id] }
      const handler = new DemoHandler({
        venue,
        market,
        symbols: listed,
        seed: hash(seed, hashString(id)),
        now,
        latency: options.latencyMs ?? { min: 20, max: 120 },
        rates,
        rateLimit: options.rateLimits?.[id] ?? null,
        staleAgeMs: options.staleAgeMs ?? 30_000,
        staleEpisodeMs: options.staleEpisodeMs ?? 10_000,
        retryAfterSeconds: options.retryAfterSeconds ?? 1
      })
      const server = yield* TestServer.make({
        hostname: options.host ?? "127.0.0.1",
        port: options.ports?.[id] ?? 0,
        seed: hash(seed, hashString(id), 1),
        log: logLimit,
        fallback: handler.handle
      })
      const requests = Effect.map(server.requests, (records) =>
        records.map((record): DemoRequest => {
          const decision = handler.decisions.get(record.headers)
          return {
            id: record.id,
            method: record.method,
            path: record.path,
            arrivedAt: record.arrivedAt,
            completedAt: record.completedAt,
            status: record.status,
            fault: decision?.fault ?? null,
            forced: decision?.forced ?? false,
            latencyMs: decision?.latencyMs ?? 0,
            outcome: record.outcome
          }
        }))
      exchanges.push({
        id,
        name: venue.name,
        baseUrl: server.url,
        port: server.port,
        liveBaseUrl: venue.liveBaseUrl,
        symbols: listed,
        requests,
        awaitRequests: (count) => server.awaitRequests(count),
        force: (input, forceOptions) =>
          Effect.suspend(() => {
            const fault = toFault(input)
            const times = forceOptions?.times ?? Infinity
            if (fault === undefined || !validFault(fault) || !(times > 0)) {
              return Effect.die(
                new InvalidDemoOptions({
                  option: "force",
                  value: { fault: input, times: forceOptions?.times },
                  expected: "a 4xx/5xx status, stall, reset, stale, outlier or { _tag: \"Slow\", latencyMs }, and times > 0"
                })
              )
            }
            return Effect.sync(() => handler.force(fault, times))
          }),
        clearFault: Effect.sync(() => handler.clear()),
        setFaults: (partial) =>
          Effect.suspend(() => {
            const next = { ...rates, ...partial }
            const problem = checkRates(`setFaults(${id})`, next)
            if (problem !== undefined) return Effect.die(problem)
            return Effect.sync(() => {
              rates = next
              handler.setRates(next)
            })
          }),
        setLatency: (latency) =>
          Effect.suspend(() => {
            const problem = checkLatency(`setLatency(${id})`, latency)
            return problem === undefined ? Effect.sync(() => handler.setLatency(latency)) : Effect.die(problem)
          }),
        setRateLimit: (limit) =>
          Effect.suspend(() => {
            const problem = limit === null ? undefined : checkRateLimit(`setRateLimit(${id})`, limit)
            return problem === undefined ? Effect.sync(() => handler.setRateLimit(limit)) : Effect.die(problem)
          }),
        reset: Effect.zipRight(Effect.sync(() => handler.clear()), server.reset)
      })
    }
    const byId = new Map(exchanges.map((e) => [e.id, e]))
    return {
      exchanges,
      symbols,
      get: (id) => {
        const exchange = byId.get(id)
        return exchange === undefined
          ? Effect.fail(new Cause.NoSuchElementException(`DemoExchanges: "${id}" was not started; started: ${[...byId.keys()].join(", ")}.`))
          : Effect.succeed(exchange)
      },
      truth: (symbol) => Effect.sync(() => market.mid(symbol, now())),
      reset: Effect.forEach(exchanges, (e) => e.reset, { discard: true })
    }
  })

/**
 * Starts one loopback server per exchange (on free ports unless `ports`
 * says otherwise) for the lifetime of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options?: Options): Effect.Effect<ReadonlyArray<DemoExchange>, never, Scope.Scope> =>
  Effect.map(make(options), (service) => service.exchanges)

/**
 * A layer that runs the demo exchanges while it is in use.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<DemoExchanges> => Layer.scoped(DemoExchanges, make(options))

/**
 * Runs the demo exchanges until interrupted, logging where each one
 * listens: the standalone form for a CLI command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (options?: Options): Effect.Effect<never> =>
  Effect.scoped(
    Effect.gen(function*() {
      const exchanges = yield* start(options)
      for (const exchange of exchanges) {
        yield* Effect.logInfo(`demo ${exchange.name} (${exchange.id}) at ${exchange.baseUrl}, imitating ${exchange.liveBaseUrl}`)
      }
      return yield* Effect.never
    })
  )
