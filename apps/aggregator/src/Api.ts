/**
 * The aggregator's HTTP API as an `@effect/platform` `HttpApi`: the contract
 * that `Server` implements, that `/docs` documents (OpenAPI) and from which
 * a typed client is derived (`HttpApiClient.make(Api, { baseUrl })`).
 *
 * Parameters arrive as strings and are validated by the schemas exported
 * here ({@link SymbolParam}, {@link IntervalParam}, {@link TimeParam}); a
 * value that does not decode is answered `400` with an
 * {@link InvalidParameter} body that names the parameter, repeats the value
 * and says what is accepted. Declaring them as plain strings in the
 * endpoints (and decoding in the handlers) is deliberate: every bad input
 * then gets the same `{ _tag, parameter, value, message }` body, and the
 * typed client can send any string, so the 400s are part of the contract
 * and tested through it.
 *
 * History parameters:
 * - `interval`: a positive whole number and a unit `s`, `m`, `h` or `d`
 *   (`1m`, `5m`, `1h`, `1d`), from 1 s to 30 d; default `1m`.
 * - `from`, `to`: epoch milliseconds (`1714564800000`) or ISO-8601
 *   (`2024-05-01`, `2024-05-01T12:00:00Z`, `2024-05-01T14:00:00+02:00`; a
 *   date-time without an offset is UTC). The range is `[from, to)`. `to`
 *   defaults to now, `from` to `to − 120 × interval`. `from` must be before
 *   `to`, and the range may span at most {@link maxCandles} intervals
 *   ({@link InvalidRange} otherwise).
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  AggregateSchema,
  Candle,
  ExclusionReasonSchema,
  SourceStatus,
  SymbolSchema,
  SymbolSummary
} from "./Model.js"

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/**
 * The most candles one history request may span.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxCandles = 1000

/**
 * How many intervals `from` lies before `to` when it is not given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCandles = 120

/**
 * The history interval when none is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultInterval = "1m"

/**
 * A canonical symbol in a path or query (`BTCUSDT`).
 *
 * @since 0.1.0
 * @category parameters
 */
export const SymbolParam = SymbolSchema

const unitMs = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const intervalPattern = /^([1-9][0-9]{0,5})([smhd])$/
const maxIntervalMs = 30 * unitMs.d
const intervalHelp = "use a positive whole number and a unit s, m, h or d, e.g. 1m, 5m, 1h, 1d (from 1s to 30d)"

/**
 * Parses an interval (`5m`) to milliseconds, or `undefined` when it is not
 * one (wrong syntax, below 1 s or above 30 d).
 *
 * @since 0.1.0
 * @category parameters
 */
export const parseInterval = (text: string): number | undefined => {
  const match = intervalPattern.exec(text)
  if (match === null) return undefined
  const [, count, unit] = match
  if (count === undefined || unit === undefined) return undefined
  const ms = Number(count) * unitMs[unit as keyof typeof unitMs]
  return ms > maxIntervalMs ? undefined : ms
}

/**
 * A candle interval: decodes `"5m"` to `300000` (milliseconds).
 *
 * @since 0.1.0
 * @category parameters
 */
export const IntervalParam: Schema.Schema<number, string> = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) => {
    const ms = parseInterval(text)
    return ms === undefined ? ParseResult.fail(new ParseResult.Type(ast, text, intervalHelp)) : ParseResult.succeed(ms)
  },
  encode: (ms, _, ast) => {
    for (const unit of ["d", "h", "m", "s"] as const) {
      if (ms % unitMs[unit] === 0 && ms > 0) {
        const text = `${ms / unitMs[unit]}${unit}`
        if (parseInterval(text) !== undefined) return ParseResult.succeed(text)
      }
    }
    return ParseResult.fail(new ParseResult.Type(ast, ms, "an interval is a whole number of seconds, from 1s to 30d"))
  }
}).annotations({ identifier: "Interval", description: intervalHelp, examples: [60_000] })

const epochPattern = /^[0-9]{1,15}$/
const isoPattern = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/i
const timeHelp =
  "use epoch milliseconds (e.g. 1714564800000) or ISO-8601 (e.g. 2024-05-01T12:00:00Z; without an offset it is UTC)"

/**
 * Parses a time: epoch milliseconds or ISO-8601 (a date, or a date-time
 * with an optional offset, UTC when none), or `undefined` when it is
 * neither.
 *
 * @since 0.1.0
 * @category parameters
 */
export const parseTime = (text: string): number | undefined => {
  if (epochPattern.test(text)) return Number(text)
  const match = isoPattern.exec(text)
  if (match === null) return undefined
  // `Date.parse` rolls 2024-02-30 over to March; a calendar date must exist.
  const [year, month, day] = [Number(text.slice(0, 4)), Number(text.slice(5, 7)), Number(text.slice(8, 10))]
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined
  // `Date.parse` reads a date-time without an offset as local time; the API says UTC.
  const hasTime = text.length > 10
  const normalized = hasTime && match[1] === undefined ? `${text}Z` : text
  const ms = Date.parse(normalized.replace(" ", "T"))
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

/**
 * A point in time: decodes epoch milliseconds or ISO-8601 text to epoch
 * milliseconds.
 *
 * @since 0.1.0
 * @category parameters
 */
export const TimeParam: Schema.Schema<number, string> = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) => {
    const ms = parseTime(text)
    return ms === undefined ? ParseResult.fail(new ParseResult.Type(ast, text, timeHelp)) : ParseResult.succeed(ms)
  },
  encode: (ms) => ParseResult.succeed(String(ms))
}).annotations({ identifier: "Time", description: timeHelp })

/**
 * The number of interval-aligned candles that `[from, to)` touches.
 *
 * @since 0.1.0
 * @category parameters
 */
export const candleCount = (from: number, to: number, intervalMs: number): number =>
  to <= from ? 0 : Math.floor((to - 1) / intervalMs) - Math.floor(from / intervalMs) + 1

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * `400`: a parameter did not decode. Names the parameter, repeats the value
 * and says what is accepted.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidParameter extends Schema.TaggedError<InvalidParameter>()(
  "InvalidParameter",
  {
    parameter: Schema.String,
    value: Schema.String,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 400, description: "A parameter is malformed; the body names it." })
) {}

/**
 * `400`: the history range is empty or reversed (`parameter: "from"`), or
 * spans more than {@link maxCandles} intervals (`parameter: "interval"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRange extends Schema.TaggedError<InvalidRange>()(
  "InvalidRange",
  {
    parameter: Schema.String,
    from: Schema.Number,
    to: Schema.Number,
    intervalMs: Schema.Number,
    candles: Schema.Number,
    maxCandles: Schema.Number,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 400, description: "The history range is reversed or too long." })
) {}

/**
 * `404`: a well-formed symbol the aggregator has no aggregate for.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownSymbol extends Schema.TaggedError<UnknownSymbol>()(
  "UnknownSymbol",
  {
    symbol: Schema.String,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 404, description: "No aggregate is known for this symbol." })
) {}

/**
 * `503`: the database could not answer.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()(
  "StoreUnavailable",
  {
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 503, description: "The database could not answer." })
) {}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/**
 * One source's part in a symbol's latest aggregate: contributed (with its
 * deviation from the aggregate in basis points) or excluded (with the
 * reason and, when it quoted, its price and deviation).
 *
 * @since 0.1.0
 * @category schemas
 */
export const PriceSource = Schema.Struct({
  source: Schema.String,
  status: Schema.Literal("contributed", "excluded"),
  price: Schema.NullOr(Schema.Number),
  /** `(price − aggregate) / aggregate × 10 000`; null without a price or an aggregate price. */
  deviationBps: Schema.NullOr(Schema.Number),
  volume: Schema.NullOr(Schema.Number),
  ageMs: Schema.NullOr(Schema.Number),
  reason: Schema.NullOr(ExclusionReasonSchema),
  detail: Schema.NullOr(Schema.String)
}).annotations({ identifier: "PriceSource" })

/**
 * @since 0.1.0
 * @category models
 */
export interface PriceSource extends Schema.Schema.Type<typeof PriceSource> {}

/**
 * `GET /api/prices/:symbol`: the latest aggregate and every source's part in it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PriceResponse = Schema.Struct({
  symbol: Schema.String,
  aggregate: AggregateSchema,
  /** Milliseconds between the aggregate's tick and the answer. */
  ageMs: Schema.Number,
  sources: Schema.Array(PriceSource)
}).annotations({ identifier: "PriceResponse" })

/**
 * @since 0.1.0
 * @category models
 */
export interface PriceResponse extends Schema.Schema.Type<typeof PriceResponse> {}

/**
 * `GET /api/prices/:symbol/history`: OHLC candles of the aggregate price
 * (ticks with a quorum only) over `[from, to)`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const HistoryResponse = Schema.Struct({
  symbol: Schema.String,
  interval: Schema.String,
  intervalMs: Schema.Number,
  from: Schema.Number,
  to: Schema.Number,
  candles: Schema.Array(Candle)
}).annotations({ identifier: "HistoryResponse" })

/**
 * @since 0.1.0
 * @category models
 */
export interface HistoryResponse extends Schema.Schema.Type<typeof HistoryResponse> {}

/**
 * The body of `GET /health`, with `200` when `status` is `ok` or
 * `degraded` (some circuits open) and, inside {@link Unhealthy}, `503`
 * when it is `down` (database unreachable or no fresh tick).
 *
 * @since 0.1.0
 * @category schemas
 */
export const HealthFields = {
  status: Schema.Literal("ok", "degraded", "down"),
  checkedAt: Schema.Number,
  uptimeMs: Schema.Number,
  db: Schema.Struct({
    ok: Schema.Boolean,
    latencyMs: Schema.NullOr(Schema.Number),
    error: Schema.NullOr(Schema.String)
  }),
  /** The latest tick seen live, epoch ms, and its age. */
  lastTick: Schema.NullOr(Schema.Number),
  lastTickAgeMs: Schema.NullOr(Schema.Number),
  sources: Schema.Struct({
    total: Schema.Number,
    closed: Schema.Number,
    halfOpen: Schema.Number,
    open: Schema.Number,
    /** The sources whose circuit is open. */
    down: Schema.Array(Schema.String)
  }),
  /** What is wrong, one sentence each; empty when `status` is `ok`. */
  problems: Schema.Array(Schema.String)
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Health = Schema.Struct(HealthFields).annotations({ identifier: "Health" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Health extends Schema.Schema.Type<typeof Health> {}

/**
 * `503` from `GET /health`: the health report with `status: "down"`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unhealthy extends Schema.TaggedError<Unhealthy>()(
  "Unhealthy",
  { ...HealthFields, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "The database is unreachable or no tick is fresh." })
) {}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

const symbolPath = Schema.Struct({
  symbol: Schema.String.annotations({ description: "A canonical symbol, e.g. BTCUSDT", examples: ["BTCUSDT"] })
})

/**
 * `/api/symbols`, `/api/prices/:symbol`, `/api/prices/:symbol/history`.
 *
 * @since 0.1.0
 * @category groups
 */
export class PricesGroup extends HttpApiGroup.make("prices")
  .add(
    HttpApiEndpoint.get("symbols", "/api/symbols")
      .addSuccess(Schema.Array(SymbolSummary))
      .addError(StoreUnavailable)
      .annotate(OpenApi.Summary, "Every symbol with its latest aggregate price")
  )
  .add(
    HttpApiEndpoint.get("price", "/api/prices/:symbol")
      .setPath(symbolPath)
      .addSuccess(PriceResponse)
      .addError(InvalidParameter)
      .addError(UnknownSymbol)
      .addError(StoreUnavailable)
      .annotate(OpenApi.Summary, "A symbol's latest aggregate with each source's price and deviation")
  )
  .add(
    HttpApiEndpoint.get("history", "/api/prices/:symbol/history")
      .setPath(symbolPath)
      .setUrlParams(Schema.Struct({
        from: Schema.optional(Schema.String.annotations({ description: `Start, inclusive: ${timeHelp}` })),
        to: Schema.optional(Schema.String.annotations({ description: `End, exclusive (default now): ${timeHelp}` })),
        interval: Schema.optional(Schema.String.annotations({ description: `Candle interval (default 1m): ${intervalHelp}` }))
      }))
      .addSuccess(HistoryResponse)
      .addError(InvalidParameter)
      .addError(InvalidRange)
      .addError(UnknownSymbol)
      .addError(StoreUnavailable)
      .annotate(OpenApi.Summary, "OHLC candles of the aggregate price")
      .annotate(
        OpenApi.Description,
        `Candles over [from, to). from defaults to to − ${defaultCandles} × interval; at most ${maxCandles} candles.`
      )
  )
{}

/**
 * `/api/sources`.
 *
 * @since 0.1.0
 * @category groups
 */
export class SourcesGroup extends HttpApiGroup.make("sources").add(
  HttpApiEndpoint.get("list", "/api/sources")
    .addSuccess(Schema.Array(SourceStatus))
    .annotate(OpenApi.Summary, "Per-source health: last success, error rate, latency percentiles, circuit state")
) {}

/**
 * `/api/stream`: Server-Sent Events, one `event: aggregate` per aggregate
 * (`data` is the aggregate as JSON), starting with the latest of each
 * symbol, and a `: heartbeat` comment when nothing else was sent for a
 * while. `?symbols=BTCUSDT,ETHUSDT` narrows it.
 *
 * @since 0.1.0
 * @category groups
 */
export class StreamGroup extends HttpApiGroup.make("stream").add(
  HttpApiEndpoint.get("aggregates", "/api/stream")
    .setUrlParams(Schema.Struct({
      symbols: Schema.optional(
        Schema.String.annotations({ description: "Comma-separated symbols to stream (default: all)" })
      )
    }))
    .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
    .addError(InvalidParameter)
    .annotate(OpenApi.Summary, "Live aggregates as Server-Sent Events (event: aggregate, data: JSON)")
) {}

/**
 * `/health` and `/metrics`.
 *
 * @since 0.1.0
 * @category groups
 */
export class SystemGroup extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(Health)
      .addError(Unhealthy)
      .annotate(OpenApi.Summary, "Database reachable, age of the last tick, sources' circuits")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      .annotate(OpenApi.Summary, "Prometheus text exposition")
  )
{}

/**
 * The aggregator's API.
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("aggregator")
  .add(PricesGroup)
  .add(SourcesGroup)
  .add(StreamGroup)
  .add(SystemGroup)
  .annotate(OpenApi.Title, "fiberkit aggregator")
  .annotate(
    OpenApi.Description,
    "Multi-source price aggregation: latest aggregates, history, source health and a live stream."
  )
{}

/**
 * Decodes `value` with `schema`, failing with an {@link InvalidParameter}
 * that names `parameter` and says what is accepted.
 *
 * @since 0.1.0
 * @category parameters
 */
export const decodeParam = <A>(
  schema: Schema.Schema<A, string>,
  parameter: string,
  value: string
): Effect.Effect<A, InvalidParameter> =>
  Schema.decode(schema)(value).pipe(
    Effect.mapError((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      return new InvalidParameter({
        parameter,
        value,
        message: `${parameter} ${JSON.stringify(value)} is not valid: ${issue?.message ?? error.message}`
      })
    })
  )
