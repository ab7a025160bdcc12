/**
 * The records that flow through the aggregator, one way:
 * a {@link Source} answers a tick with one {@link Observation} per symbol
 * (a {@link Quote} or a {@link SourceFailure}), the processor turns a tick's
 * observations of one symbol into an {@link Aggregate}, and the writer stores
 * both.
 *
 * Symbols are spelled the canonical way everywhere in the API, the
 * database and the configuration: base and quote asset, upper case, no
 * separator (`BTCUSDT`, `ETHUSDT`, `SOLUSDT`). Each source maps them to its
 * own spelling (`BTC-USDT`, `XBTUSDT`, `btcusdt`, …).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A canonical symbol: 2 to 24 upper-case letters or digits, e.g. `BTCUSDT`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SymbolSchema = Schema.String.pipe(
  Schema.pattern(/^[A-Z0-9]{2,24}$/, {
    message: () => "a symbol is 2 to 24 upper-case letters or digits, e.g. BTCUSDT"
  }),
  Schema.annotations({ identifier: "Symbol", examples: ["BTCUSDT"] })
)

/**
 * The quote assets a canonical symbol may end with, longest first, so that
 * `splitSymbol("BTCUSDT")` is `["BTC", "USDT"]`, not `["BTCUS", "DT"]`.
 *
 * @since 0.1.0
 * @category constants
 */
export const quoteAssets: ReadonlyArray<string> = [
  "FDUSD",
  "USDT",
  "USDC",
  "TUSD",
  "BUSD",
  "DAI",
  "USD",
  "EUR",
  "GBP",
  "JPY",
  "BTC",
  "ETH"
]

/**
 * Split a canonical symbol into base and quote asset, or `undefined` when
 * it ends with no known quote asset.
 *
 * @since 0.1.0
 * @category symbols
 */
export const splitSymbol = (symbol: string): readonly [base: string, quote: string] | undefined => {
  for (const quote of quoteAssets) {
    if (symbol.length > quote.length && symbol.endsWith(quote)) {
      return [symbol.slice(0, symbol.length - quote.length), quote]
    }
  }
  return undefined
}

/**
 * One source's price for one symbol at one moment.
 *
 * `price` is the last trade price (or the mid when a source publishes only
 * bid/ask). `volume` is the source's rolling 24 h volume in the base asset,
 * `null` when the source does not publish it. `quotedAt` is the source's own
 * timestamp when it sends one, else `receivedAt`. Times are epoch
 * milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Quote {
  readonly source: string
  readonly symbol: string
  readonly price: number
  readonly bid: number | null
  readonly ask: number | null
  readonly volume: number | null
  readonly quotedAt: number
  readonly receivedAt: number
  /** How long the request that brought this quote took, in milliseconds. */
  readonly latencyMs: number
}

/**
 * Why a source gave no usable quote for a symbol in a tick.
 *
 * - `timeout`: the attempt or the tick deadline ran out.
 * - `error`: transport failure, HTTP error status after retries, a payload
 *   that does not decode, or a price that is missing/non-positive.
 * - `rate_limited`: the source answered 429/418 and retries were spent (or
 *   the wait would pass the tick deadline).
 * - `unsupported`: the source does not list this symbol.
 * - `circuit_open`: the source's circuit breaker is open; it was not asked.
 *
 * @since 0.1.0
 * @category models
 */
export type FailureKind = "timeout" | "error" | "rate_limited" | "unsupported" | "circuit_open"

/**
 * A source's failure to quote a symbol, with a message that says what
 * happened (status, URL, decode path, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceFailure {
  readonly source: string
  readonly symbol: string
  readonly kind: FailureKind
  readonly message: string
  readonly latencyMs: number
}

/**
 * What one source said about one symbol in one tick.
 *
 * @since 0.1.0
 * @category models
 */
export type Observation =
  | { readonly _tag: "Quote"; readonly quote: Quote }
  | { readonly _tag: "Failure"; readonly failure: SourceFailure }

/**
 * Why a source did not contribute to an aggregate: any {@link FailureKind},
 * or `stale` (its quote was older than the staleness bound) or `outlier`
 * (rejected by the median-absolute-deviation test).
 *
 * @since 0.1.0
 * @category models
 */
export type ExclusionReason = FailureKind | "stale" | "outlier"

/**
 * A source left out of an aggregate, and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exclusion {
  readonly source: string
  readonly reason: ExclusionReason
  readonly detail: string
  /** The price it quoted, when it quoted one (stale and outlier quotes). */
  readonly price: number | null
}

/**
 * A source that contributed to an aggregate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Contribution {
  readonly source: string
  readonly price: number
  readonly volume: number | null
  /** `receivedAt - quotedAt` at the tick, milliseconds. */
  readonly ageMs: number
  /** `(price - median) / median`: signed relative deviation from the aggregate. */
  readonly deviation: number
}

/**
 * One symbol's aggregate for one tick.
 *
 * When fewer than the quorum of sources contribute, `status` is
 * `"no_quorum"` and every price figure is `null`; the contributions and
 * exclusions still say what happened.
 *
 * - `price`: the median of the contributing prices.
 * - `mean`: their arithmetic mean.
 * - `vwap`: volume-weighted mean over the contributions that have a volume,
 *   `null` when none has.
 * - `spread`: `max - min` of the contributing prices.
 * - `dispersion`: `1.4826 × MAD / median`, a robust relative standard
 *   deviation (0.001 = 0.1 %), published like an oracle's confidence.
 *
 * @since 0.1.0
 * @category models
 */
export interface Aggregate {
  readonly symbol: string
  /** The tick's scheduled time, epoch milliseconds. */
  readonly tick: number
  readonly status: "ok" | "no_quorum"
  readonly price: number | null
  readonly mean: number | null
  readonly vwap: number | null
  readonly min: number | null
  readonly max: number | null
  readonly spread: number | null
  readonly dispersion: number | null
  readonly quorum: number
  readonly contributions: ReadonlyArray<Contribution>
  readonly exclusions: ReadonlyArray<Exclusion>
}

/**
 * The schema of {@link Contribution}, for the API and storage.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ContributionSchema = Schema.Struct({
  source: Schema.String,
  price: Schema.Number,
  volume: Schema.NullOr(Schema.Number),
  ageMs: Schema.Number,
  deviation: Schema.Number
}).annotations({ identifier: "Contribution" })

/**
 * The schema of {@link ExclusionReason}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExclusionReasonSchema = Schema.Literal(
  "timeout",
  "error",
  "rate_limited",
  "unsupported",
  "circuit_open",
  "stale",
  "outlier"
)

/**
 * The schema of {@link Exclusion}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExclusionSchema = Schema.Struct({
  source: Schema.String,
  reason: ExclusionReasonSchema,
  detail: Schema.String,
  price: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "Exclusion" })

/**
 * The schema of {@link Aggregate}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AggregateSchema = Schema.Struct({
  symbol: Schema.String,
  tick: Schema.Number,
  status: Schema.Literal("ok", "no_quorum"),
  price: Schema.NullOr(Schema.Number),
  mean: Schema.NullOr(Schema.Number),
  vwap: Schema.NullOr(Schema.Number),
  min: Schema.NullOr(Schema.Number),
  max: Schema.NullOr(Schema.Number),
  spread: Schema.NullOr(Schema.Number),
  dispersion: Schema.NullOr(Schema.Number),
  quorum: Schema.Number,
  contributions: Schema.Array(ContributionSchema),
  exclusions: Schema.Array(ExclusionSchema)
}).annotations({ identifier: "Aggregate" })

/**
 * The schema of {@link Quote}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const QuoteSchema = Schema.Struct({
  source: Schema.String,
  symbol: Schema.String,
  price: Schema.Number,
  bid: Schema.NullOr(Schema.Number),
  ask: Schema.NullOr(Schema.Number),
  volume: Schema.NullOr(Schema.Number),
  quotedAt: Schema.Number,
  receivedAt: Schema.Number,
  latencyMs: Schema.Number
}).annotations({ identifier: "Quote" })

/**
 * A circuit breaker's state: `closed` (requests flow), `open` (the source is
 * not asked until the cool-down ends), `half_open` (one probe tick decides).
 *
 * @since 0.1.0
 * @category models
 */
export type CircuitState = "closed" | "open" | "half_open"

/**
 * The schema of {@link CircuitState}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CircuitStateSchema = Schema.Literal("closed", "open", "half_open")

/**
 * One source's health, as `GET /api/sources` serves it. Rates and
 * percentiles cover the recent window (the last `windowSize` requests).
 *
 * @since 0.1.0
 * @category schemas
 */
export const SourceStatus = Schema.Struct({
  source: Schema.String,
  kind: Schema.Literal("exchange", "json", "file"),
  /** Epoch ms of the last request that brought at least one quote, or null. */
  lastSuccessAt: Schema.NullOr(Schema.Number),
  /** Epoch ms and message of the last failure, or null. */
  lastErrorAt: Schema.NullOr(Schema.Number),
  lastError: Schema.NullOr(Schema.String),
  requests: Schema.Number,
  errors: Schema.Number,
  /** errors / requests over the recent window, 0 when there were none. */
  errorRate: Schema.Number,
  latencyMs: Schema.Struct({
    p50: Schema.NullOr(Schema.Number),
    p90: Schema.NullOr(Schema.Number),
    p99: Schema.NullOr(Schema.Number)
  }),
  circuit: CircuitStateSchema,
  /** Epoch ms when the circuit last opened, or null. */
  circuitOpenedAt: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "SourceStatus" })

/**
 * @since 0.1.0
 * @category models
 */
export interface SourceStatus extends Schema.Schema.Type<typeof SourceStatus> {}

/**
 * One OHLC candle of a symbol's aggregate price over `[time, time + interval)`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Candle = Schema.Struct({
  /** Start of the interval, epoch ms, a multiple of the interval. */
  time: Schema.Number,
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  /** How many aggregates fell into the interval. */
  count: Schema.Number
}).annotations({ identifier: "Candle" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Candle extends Schema.Schema.Type<typeof Candle> {}

/**
 * A symbol the aggregator knows, with its latest aggregate price.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SymbolSummary = Schema.Struct({
  symbol: Schema.String,
  lastTick: Schema.NullOr(Schema.Number),
  price: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "SymbolSummary" })

/**
 * @since 0.1.0
 * @category models
 */
export interface SymbolSummary extends Schema.Schema.Type<typeof SymbolSummary> {}
