/**
 * The aggregator's configuration: a config file (JSON or YAML), then the
 * environment, then command-line flags, each overriding the one before,
 * validated once by `Schema`. A bad field is reported by its path and where
 * it came from (`sources[1].urlTemplate: is missing (in ./aggregator.yaml)`).
 *
 * Every field has a default, so an empty file (or none) is a working
 * configuration: the three demo symbols from the six exchanges.
 *
 * ```yaml
 * symbols: [BTCUSDT, ETHUSDT, SOLUSDT]
 * interval: 1s          # durations: a number of ms, or "500ms", "2s", "1m", "1h", "1 second"
 * jitter: 100ms
 * quorum: 3
 * maxAge: 10s
 * db: ./data/aggregator.db
 * sources:
 *   - { type: exchange, exchange: binance }
 *   - { type: exchange, exchange: kraken, interval: 5s }
 *   - { type: json, id: mybank, urlTemplate: "https://rates.example/{base}-{quote}", pricePath: data.price }
 *   - { type: file, id: manual, path: ./prices.csv }
 * ```
 *
 * Environment: `AGGREGATOR_SYMBOLS` (comma-separated), `AGGREGATOR_INTERVAL`,
 * `AGGREGATOR_QUORUM`, `AGGREGATOR_PORT`, `AGGREGATOR_HOST`, `AGGREGATOR_DB`
 * or `DATABASE_URL`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"
import * as Aggregate from "./Aggregate.js"
import { SymbolSchema } from "./Model.js"
import * as Source from "./Source.js"

const SHORT = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration in milliseconds, written as a number of milliseconds or a
 * string: `"500ms"`, `"2s"`, `"1m"`, `"1h"`, `"1d"`, or Effect's long form
 * (`"1 second"`, `"500 millis"`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Millis = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") return ParseResult.succeed(input)
      const short = SHORT.exec(input)
      if (short !== null) return ParseResult.succeed(Number(short[1]) * (unitMs[(short[2] ?? "ms").toLowerCase()] ?? 1))
      const decoded = Duration.decodeUnknown(input)
      return decoded._tag === "Some" && Duration.isFinite(decoded.value)
        ? ParseResult.succeed(Duration.toMillis(decoded.value))
        : ParseResult.fail(new ParseResult.Type(ast, input, `"${input}" is not a duration: write e.g. 500ms, 2s, 1m, 1h or a number of milliseconds`))
    },
    encode: (ms) => ParseResult.succeed(ms)
  }
).annotations({ identifier: "Duration" })

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

/** The fields every source entry has on top of its constructor's configuration. */
const scheduling = <Type extends "exchange" | "json" | "file">(type: Type) =>
  Schema.Struct({
    type: Schema.Literal(type),
    /** Ask it at most this often. Default: every tick. */
    interval: Schema.optional(Millis),
    /** Ask this source for these symbols only. Default: all of the configuration's symbols. */
    only: Schema.optional(Schema.Array(SymbolSchema))
  })

/**
 * A source of the exchange adapters (`Exchanges.all`); see `Source.ExchangeSourceConfig`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExchangeSource = Schema.extend(scheduling("exchange"), Source.ExchangeSourceConfig).annotations({
  identifier: "ExchangeSource"
})

/**
 * A generic JSON source (see `Source.JsonSourceConfig`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonSource = Schema.extend(scheduling("json"), Source.JsonSourceConfig).annotations({ identifier: "JsonSource" })

/**
 * A file source (see `Source.FileSourceConfig`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileSource = Schema.extend(scheduling("file"), Source.FileSourceConfig).annotations({ identifier: "FileSource" })

/**
 * One configured source.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SourceEntry = Schema.Union(ExchangeSource, JsonSource, FileSource)

/**
 * @since 0.1.0
 * @category models
 */
export type SourceEntry = typeof SourceEntry.Type

/**
 * The exchanges asked when the configuration lists no sources.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExchanges = ["binance", "coinbase", "kraken", "okx", "bybit", "bitstamp"] as const

/**
 * The whole configuration, with its defaults.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AppConfig = Schema.Struct({
  /** Default BTCUSDT, ETHUSDT, SOLUSDT. */
  symbols: Schema.optionalWith(Schema.Array(SymbolSchema).pipe(Schema.minItems(1)), {
    default: () => ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
  }),
  /** Time between ticks. Default 1 s. */
  interval: Schema.optionalWith(Millis.pipe(Schema.greaterThanOrEqualTo(10)), { default: () => 1000 }),
  /** Random delay before each tick's fetches. Default 0. */
  jitter: Schema.optionalWith(Millis, { default: () => 0 }),
  /** Ticks on multiples of the interval. Default true. */
  align: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** How long a tick's fetches may take. Default 80 % of the interval. */
  deadline: Schema.optional(Millis),
  /** Fewest sources for an aggregate. Default 3. */
  quorum: Schema.optionalWith(PositiveInt, { default: () => Aggregate.defaultPolicy.quorum }),
  /** Oldest quote still used. Default 10 s. */
  maxAge: Schema.optionalWith(Millis, { default: () => Aggregate.defaultPolicy.maxAgeMs }),
  /** Outlier distance in robust standard deviations. Default 5. */
  outlierMads: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => Aggregate.defaultPolicy.outlierMads }),
  /** Prices within this fraction of the median are never outliers. Default 0.02. */
  maxDeviation: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), {
    default: () => Aggregate.defaultPolicy.maxDeviation
  }),
  /** Circuit breaker: failed fetches in a row that open it (default 5) and the cool-down (default 30 s). */
  breaker: Schema.optionalWith(
    Schema.Struct({
      failureThreshold: Schema.optionalWith(PositiveInt, { default: () => 5 }),
      coolDown: Schema.optionalWith(Millis, { default: () => 30_000 })
    }),
    { default: () => ({ failureThreshold: 5, coolDown: 30_000 }) }
  ),
  /** SQLite file or postgres:// URL. Default ./data/aggregator.db. */
  db: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => "./data/aggregator.db" }),
  /** How long raw quotes are kept. Default 24 h. */
  retention: Schema.optionalWith(Millis, { default: () => 86_400_000 }),
  /** Items held in memory while the database is unavailable. Default 100000. */
  buffer: Schema.optionalWith(PositiveInt, { default: () => 100_000 }),
  /** HTTP port. Default 8080. */
  port: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(0, 65535)), { default: () => 8080 }),
  /** HTTP host. Default 127.0.0.1. */
  host: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => "127.0.0.1" }),
  /** Default: the six exchanges. */
  sources: Schema.optionalWith(Schema.Array(SourceEntry), {
    default: () => defaultExchanges.map((exchange) => ({ type: "exchange" as const, exchange }))
  })
}).annotations({ identifier: "AggregatorConfig" })

/**
 * The decoded configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type AppConfig = typeof AppConfig.Type

/**
 * The configuration (file, environment or flags) is invalid or unreadable.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Data.TaggedError("AggregatorConfigError")<{
  readonly problems: ReadonlyArray<string>
  readonly origin: string
}> {
  override get message(): string {
    return `invalid configuration (${this.origin}): ${this.problems.join("; ")}`
  }
}

/** A plain JSON-like object. */
type Raw = Record<string, unknown>

const isRecord = (u: unknown): u is Raw => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Read a JSON or YAML configuration file (by extension; `.json` is JSON,
 * anything else is parsed as YAML, of which JSON is a subset).
 *
 * @since 0.1.0
 * @category loading
 */
export const readFile = (path: string): Effect.Effect<Raw, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((e) =>
        new ConfigError({ origin: path, problems: [`cannot read the file: ${e.message}. Check the --config path.`] })
      )
    )
    const parsed = yield* Effect.try({
      try: () => path.endsWith(".json") ? JSON.parse(text) as unknown : YAML.parse(text) as unknown,
      catch: (e) => new ConfigError({ origin: path, problems: [`not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${e instanceof Error ? e.message : String(e)}`] })
    })
    if (parsed === null || parsed === undefined) return {}
    if (!isRecord(parsed)) return yield* new ConfigError({ origin: path, problems: ["the file must hold an object (key: value pairs)"] })
    return parsed
  })

/**
 * The settings the environment gives (`AGGREGATOR_*`, `DATABASE_URL`), as
 * raw config fields.
 *
 * @since 0.1.0
 * @category loading
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>>): Raw => {
  const raw: Raw = {}
  const symbols = env["AGGREGATOR_SYMBOLS"]
  if (symbols !== undefined && symbols.trim() !== "") raw["symbols"] = splitList(symbols)
  const interval = env["AGGREGATOR_INTERVAL"]
  if (interval !== undefined && interval !== "") raw["interval"] = numberOrString(interval)
  const quorum = env["AGGREGATOR_QUORUM"]
  if (quorum !== undefined && quorum !== "") raw["quorum"] = numberOrString(quorum)
  const port = env["AGGREGATOR_PORT"]
  if (port !== undefined && port !== "") raw["port"] = numberOrString(port)
  const host = env["AGGREGATOR_HOST"]
  if (host !== undefined && host !== "") raw["host"] = host
  const db = env["AGGREGATOR_DB"] ?? env["DATABASE_URL"]
  if (db !== undefined && db !== "") raw["db"] = db
  return raw
}

const numberOrString = (s: string): number | string => /^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s

/**
 * Split a comma-separated list, trimming and dropping blanks; symbols are
 * upper-cased so `btcusdt,ethusdt` works.
 *
 * @since 0.1.0
 * @category loading
 */
export const splitList = (s: string): Array<string> =>
  s.split(",").map((x) => x.trim().toUpperCase()).filter((x) => x !== "")

const formatIssues = (error: ParseResult.ParseError): Array<string> => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(error)
  // An optional field's schema is `X | undefined`: its "Expected undefined" branch only repeats that X failed.
  const useful = all.filter((issue) => !issue.message.startsWith("Expected undefined, actual"))
  return (useful.length > 0 ? useful : all).map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, key) => typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`,
      ""
    )
    return path === "" ? issue.message : `${path}: ${issue.message}`
  })
}

/**
 * Decode layered raw settings (later layers win, field by field at the top
 * level) into the configuration, or say which field is wrong and where it
 * came from.
 *
 * @since 0.1.0
 * @category loading
 */
export const decode = (
  layers: ReadonlyArray<{ readonly origin: string; readonly raw: Raw }>
): Either.Either<AppConfig, ConfigError> => {
  const merged: Raw = {}
  const originOf = new Map<string, string>()
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.raw)) {
      if (value === undefined) continue
      merged[key] = value
      originOf.set(key, layer.origin)
    }
  }
  return Schema.decodeUnknownEither(AppConfig, { errors: "all", onExcessProperty: "error" })(merged).pipe(
    Either.mapLeft((error) => {
      const problems = formatIssues(error)
      const origins = new Set<string>()
      for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
        const top = issue.path[0]
        origins.add(top === undefined ? "configuration" : originOf.get(String(top)) ?? "defaults")
      }
      return new ConfigError({ problems, origin: [...origins].join(", ") })
    })
  )
}

/**
 * Load the configuration: defaults, then the file (when given), then the
 * environment, then the flags.
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (options: {
  readonly file?: string | undefined
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly flags?: Raw | undefined
}): Effect.Effect<AppConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const layers: Array<{ origin: string; raw: Raw }> = []
    if (options.file !== undefined) layers.push({ origin: options.file, raw: yield* readFile(options.file) })
    layers.push({ origin: "environment", raw: fromEnv(options.env ?? process.env) })
    if (options.flags !== undefined) layers.push({ origin: "command line", raw: options.flags })
    return yield* decode(layers)
  })

/**
 * The aggregation policy a configuration asks for.
 *
 * @since 0.1.0
 * @category accessors
 */
export const policy = (config: AppConfig): Aggregate.Policy => ({
  quorum: config.quorum,
  maxAgeMs: config.maxAge,
  outlierMads: config.outlierMads,
  maxDeviation: config.maxDeviation
})
