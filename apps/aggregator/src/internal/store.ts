/**
 * The `Store` implementation: row mapping, the SQL of every read (portable
 * between SQLite and Postgres), and the retention loop.
 *
 * @internal
 */
import type * as Statement from "@effect/sql/Statement"
import { Db, DbError, Migrations } from "@fiberkit/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Aggregate, Candle, Quote, SymbolSummary } from "../Model.js"
import { ContributionSchema, ExclusionSchema } from "../Model.js"
import type * as Store from "../Store.js"
import { migrations, MIGRATIONS_TABLE } from "./migrations.js"

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

/** Postgres returns `bigint` (and `count(*)`) as text; SQLite returns numbers. */
const DbNumber = Schema.Union(Schema.Number, Schema.NumberFromString)
const DbNullableNumber = Schema.NullOr(DbNumber)

const QuoteRow = Schema.Struct({
  source: Schema.String,
  symbol: Schema.String,
  price: DbNumber,
  bid: DbNullableNumber,
  ask: DbNullableNumber,
  volume: DbNullableNumber,
  quotedAt: DbNumber,
  receivedAt: DbNumber,
  latencyMs: DbNumber
})

const AggregateRow = Schema.Struct({
  symbol: Schema.String,
  tick: DbNumber,
  status: Schema.Literal("ok", "no_quorum"),
  price: DbNullableNumber,
  mean: DbNullableNumber,
  vwap: DbNullableNumber,
  min: DbNullableNumber,
  max: DbNullableNumber,
  spread: DbNullableNumber,
  dispersion: DbNullableNumber,
  quorum: DbNumber,
  contributions: Schema.parseJson(Schema.Array(ContributionSchema)),
  exclusions: Schema.parseJson(Schema.Array(ExclusionSchema))
})

const CandleRow = Schema.Struct({
  time: DbNumber,
  open: DbNumber,
  high: DbNumber,
  low: DbNumber,
  close: DbNumber,
  count: DbNumber
})

const SymbolRow = Schema.Struct({
  symbol: Schema.String,
  lastTick: DbNullableNumber,
  price: DbNullableNumber
})

const IdRow = Schema.Struct({ id: Schema.Unknown })

const decodeRows = <A, I>(table: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(Schema.Array(schema))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, DbError.InvalidRow> =>
    Effect.mapError(decode(rows), (error) =>
      new DbError.InvalidRow({ table, phase: "decode", reason: ParseResult.TreeFormatter.formatErrorSync(error) }))
}

const decodeQuotes = decodeRows("quotes", QuoteRow)
const decodeAggregates = decodeRows("aggregates", AggregateRow)
const decodeCandles = decodeRows("aggregates", CandleRow)
const decodeSymbols = decodeRows("aggregates", SymbolRow)

/** Epoch ms as whole numbers: Postgres refuses a fraction in a `bigint`. */
const ms = (n: number): number => Math.round(n)

const QUOTE_COLUMNS = [
  "source",
  "symbol",
  "price",
  "bid",
  "ask",
  "volume",
  "quoted_at",
  "received_at",
  "latency_ms"
] as const

const quoteRow = (q: Quote) => ({
  source: q.source,
  symbol: q.symbol,
  price: q.price,
  bid: q.bid,
  ask: q.ask,
  volume: q.volume,
  quoted_at: ms(q.quotedAt),
  received_at: ms(q.receivedAt),
  latency_ms: q.latencyMs
})

const AGGREGATE_COLUMNS = [
  "symbol",
  "tick",
  "status",
  "price",
  "mean",
  "vwap",
  "min",
  "max",
  "spread",
  "dispersion",
  "quorum",
  "contributions",
  "exclusions"
] as const

const aggregateRow = (a: Aggregate) => ({
  symbol: a.symbol,
  tick: ms(a.tick),
  status: a.status,
  price: a.price,
  mean: a.mean,
  vwap: a.vwap,
  min: a.min,
  max: a.max,
  spread: a.spread,
  dispersion: a.dispersion,
  quorum: a.quorum,
  contributions: JSON.stringify(a.contributions),
  exclusions: JSON.stringify(a.exclusions)
})

// Quoted aliases: Postgres folds unquoted identifiers to lower case.
const QUOTE_SELECT = `source, symbol, price, bid, ask, volume, quoted_at AS "quotedAt", received_at AS "receivedAt", latency_ms AS "latencyMs"`
const AGGREGATE_SELECT =
  `symbol, tick, status, price, mean, vwap, "min", "max", spread, dispersion, quorum, contributions, exclusions`

/** Rows a retention statement deletes at most: keeps each statement (and SQLite's event-loop block) short. */
const PRUNE_CHUNK = 10_000

const DEFAULT_QUOTES_LIMIT = 10_000

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

const invalid = (dialect: Db.Dialect, reason: string) =>
  new DbError.QueryFailed({ dialect, code: undefined, reason, cause: undefined })

/** @internal */
export const make: Effect.Effect<Store.Service, Migrations.MigrationError | DbError.DbError, Db.Db> = Effect.gen(
  function*() {
    const db = yield* Db.Db
    yield* Migrations.run(migrations, { table: MIGRATIONS_TABLE })
    const sql = db.sql
    // `tick / interval` must be integer division on both sides: SQLite binds
    // JS numbers as REAL, so the interval is cast.
    const int = (n: number): Statement.Fragment => sql`CAST(${n} AS BIGINT)`

    const writeQuotes = (quotes: ReadonlyArray<Quote>): Effect.Effect<void, DbError.DbError> =>
      quotes.length === 0
        ? Effect.void
        : Effect.asVoid(db.insertMany("quotes", quotes.map(quoteRow), { columns: QUOTE_COLUMNS }))

    const writeAggregates = (aggregates: ReadonlyArray<Aggregate>): Effect.Effect<void, DbError.DbError> =>
      aggregates.length === 0
        ? Effect.void
        : Effect.asVoid(
          db.upsert("aggregates", aggregates.map(aggregateRow), { columns: AGGREGATE_COLUMNS, key: ["symbol", "tick"] })
        )

    const write = (batch: Store.Batch): Effect.Effect<void, DbError.DbError> => {
      if (batch.quotes.length === 0) return writeAggregates(batch.aggregates)
      if (batch.aggregates.length === 0) return writeQuotes(batch.quotes)
      return db.transaction(Effect.zipRight(writeQuotes(batch.quotes), writeAggregates(batch.aggregates)))
    }

    const latest = (symbol: string): Effect.Effect<Option.Option<Aggregate>, DbError.DbError> =>
      db.typed(
        sql`SELECT ${sql.unsafe(AGGREGATE_SELECT)} FROM aggregates WHERE symbol = ${symbol} ORDER BY tick DESC LIMIT 1`
      ).pipe(Effect.flatMap(decodeAggregates), Effect.map((rows) => Option.fromNullable(rows[0])))

    // Distinct symbols by a loose index scan over the primary key (one
    // index probe per symbol, not a scan of every aggregate), then each
    // symbol's latest row by the same index.
    const symbols: Effect.Effect<ReadonlyArray<SymbolSummary>, DbError.DbError> = db.typed(sql`
      WITH RECURSIVE s(symbol) AS (
        SELECT MIN(symbol) FROM aggregates
        UNION ALL
        SELECT (SELECT MIN(a.symbol) FROM aggregates a WHERE a.symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL
      )
      SELECT a.symbol AS symbol, a.tick AS "lastTick", a.price AS price
      FROM s JOIN aggregates a ON a.symbol = s.symbol
        AND a.tick = (SELECT MAX(m.tick) FROM aggregates m WHERE m.symbol = s.symbol)
      ORDER BY a.symbol`).pipe(Effect.flatMap(decodeSymbols))

    // Group the ok ticks of the range by bucket, then fetch the first and
    // last tick's prices by primary key: plain joins, no window functions,
    // identical on both dialects.
    const history = (symbol: string, query: Store.HistoryQuery): Effect.Effect<ReadonlyArray<Candle>, DbError.DbError> => {
      const i = query.intervalMs
      if (!Number.isSafeInteger(i) || i <= 0) {
        return Effect.fail(invalid(db.dialect, `history of ${symbol}: intervalMs must be a positive whole number of milliseconds, got ${i}`))
      }
      return db.typed(sql`
        WITH b AS (
          SELECT (tick / ${int(i)}) * ${int(i)} AS bucket, tick, price
          FROM aggregates
          WHERE symbol = ${symbol} AND status = 'ok' AND price IS NOT NULL
            AND tick >= ${int(ms(query.from))} AND tick < ${int(ms(query.to))}
        ), g AS (
          SELECT bucket, MIN(tick) AS first_tick, MAX(tick) AS last_tick,
            MAX(price) AS high, MIN(price) AS low, COUNT(*) AS n
          FROM b GROUP BY bucket
        )
        SELECT g.bucket AS time, o.price AS open, g.high AS high, g.low AS low, c.price AS close, g.n AS count
        FROM g
        JOIN aggregates o ON o.symbol = ${symbol} AND o.tick = g.first_tick
        JOIN aggregates c ON c.symbol = ${symbol} AND c.tick = g.last_tick
        ORDER BY g.bucket`).pipe(Effect.flatMap(decodeCandles))
    }

    const quotes = (symbol: string, query: Store.QuotesQuery): Effect.Effect<ReadonlyArray<Quote>, DbError.DbError> => {
      const limit = query.limit ?? DEFAULT_QUOTES_LIMIT
      const bySource = query.source === undefined ? sql`` : sql`AND source = ${query.source}`
      return db.typed(sql`
        SELECT ${sql.unsafe(QUOTE_SELECT)} FROM quotes
        WHERE symbol = ${symbol} AND received_at >= ${int(ms(query.from))} AND received_at < ${int(ms(query.to))} ${bySource}
        ORDER BY received_at, id
        LIMIT ${int(Math.max(0, Math.floor(limit)))}`).pipe(Effect.flatMap(decodeQuotes))
    }

    const pruneChunk = (olderThan: number): Effect.Effect<number, DbError.DbError> =>
      db.typed(sql`
        DELETE FROM quotes WHERE id IN (
          SELECT id FROM quotes WHERE received_at < ${int(ms(olderThan))} ORDER BY received_at LIMIT ${int(PRUNE_CHUNK)}
        ) RETURNING id`).pipe(
        Effect.flatMap(decodeRows("quotes", IdRow)),
        Effect.map((rows) => rows.length)
      )

    const pruneQuotes = (olderThan: number): Effect.Effect<number, DbError.DbError> =>
      Effect.iterate({ total: 0, last: PRUNE_CHUNK }, {
        while: (s) => s.last === PRUNE_CHUNK,
        body: (s) => Effect.map(pruneChunk(olderThan), (n) => ({ total: s.total + n, last: n }))
      }).pipe(Effect.map((s) => s.total))

    const ping = Effect.asVoid(db.typed(sql`SELECT 1 AS one`))

    return {
      dialect: db.dialect,
      write,
      writeQuotes,
      writeAggregates,
      latest,
      symbols,
      history,
      quotes,
      pruneQuotes,
      ping
    } satisfies Store.Service
  }
)

// ---------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------

const pruned = Metric.counter("aggregator_quotes_pruned", {
  description: "Raw quotes deleted by retention",
  incremental: true
})

/** @internal */
export const retention = (store: Store.Service, options: Store.RetentionOptions | undefined): Effect.Effect<never> => {
  const keep = Duration.decode(options?.keep ?? "24 hours")
  const every = Duration.decode(options?.every ?? "10 minutes")
  const keepMs = Duration.toMillis(keep)
  const once = Effect.gen(function*() {
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const olderThan = now - keepMs
    const n = yield* store.pruneQuotes(olderThan)
    yield* Metric.incrementBy(pruned, n)
    yield* Effect.logInfo(`retention: deleted ${n} raw quote(s) received before ${new Date(olderThan).toISOString()}`).pipe(
      Effect.annotateLogs({ pruned: n, keep: Duration.format(keep) })
    )
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning(`retention: pruning raw quotes failed, trying again in ${Duration.format(every)}: ${error.message}`)
    )
  )
  return Effect.forever(Effect.zipRight(once, Effect.sleep(every)))
}
