/**
 * `Store`: the aggregator's time series in the `Db` database (SQLite or
 * Postgres, same behaviour on both): raw quotes, and one aggregate per
 * symbol and tick.
 *
 * - Writes are batched multi-row statements (`Db.insertMany` / `Db.upsert`);
 *   {@link Service.write} puts quotes and aggregates in one transaction, so
 *   a failed batch can be retried whole without duplicating anything.
 * - Rewriting the aggregate of a (symbol, tick) replaces it (upsert).
 * - History is downsampled to OHLC candles in SQL, over `ok` aggregates.
 * - Raw quotes are pruned by age ({@link Service.pruneQuotes},
 *   {@link retention}); aggregates are kept.
 *
 * Times are epoch milliseconds everywhere; time fields are rounded to whole
 * milliseconds when written. Ranges are half-open: `from <= t < to`.
 *
 * @example
 * ```ts
 * import { Db } from "@fiberkit/core"
 * import { Effect, Layer } from "effect"
 * import * as Store from "./Store.js"
 *
 * const StoreLive = Store.layer.pipe(Layer.provide(Db.layerConfig({ app: "aggregator" })))
 * const candles = Effect.flatMap(Store.Store, (store) =>
 *   store.history("BTCUSDT", { from: Date.now() - 3_600_000, to: Date.now(), intervalMs: 60_000 }))
 * ```
 *
 * @since 0.1.0
 */
import type { Db, DbError, Migrations } from "@fiberkit/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as internal from "./internal/store.js"
import type { Aggregate, Candle, Quote, SymbolSummary } from "./Model.js"

/**
 * Quotes and aggregates written together, in one transaction.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly quotes: ReadonlyArray<Quote>
  readonly aggregates: ReadonlyArray<Aggregate>
}

/**
 * A history request: candles of `intervalMs` (a positive whole number of
 * milliseconds) over the aggregates with `from <= tick < to`.
 *
 * @since 0.1.0
 * @category models
 */
export interface HistoryQuery {
  readonly from: number
  readonly to: number
  readonly intervalMs: number
}

/**
 * A raw-quotes request: the quotes of a symbol with
 * `from <= receivedAt < to`, optionally of one source, oldest first, at
 * most `limit` (default 10 000).
 *
 * @since 0.1.0
 * @category models
 */
export interface QuotesQuery {
  readonly from: number
  readonly to: number
  readonly source?: string | undefined
  readonly limit?: number | undefined
}

/**
 * The store service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly dialect: Db.Dialect
  /** Writes quotes (appended) and aggregates (upserted by symbol and tick) in one transaction. */
  readonly write: (batch: Batch) => Effect.Effect<void, DbError.DbError>
  /** Appends raw quotes with multi-row inserts. */
  readonly writeQuotes: (quotes: ReadonlyArray<Quote>) => Effect.Effect<void, DbError.DbError>
  /** Upserts aggregates by (symbol, tick), contributions and exclusions included. */
  readonly writeAggregates: (aggregates: ReadonlyArray<Aggregate>) => Effect.Effect<void, DbError.DbError>
  /** The aggregate of the symbol's latest tick, whatever its status. */
  readonly latest: (symbol: string) => Effect.Effect<Option.Option<Aggregate>, DbError.DbError>
  /**
   * Every symbol with an aggregate, by name, with its latest tick and that
   * aggregate's price (`null` when that tick had no quorum).
   */
  readonly symbols: Effect.Effect<ReadonlyArray<SymbolSummary>, DbError.DbError>
  /**
   * OHLC candles computed in SQL over the symbol's `ok` aggregates with
   * `from <= tick < to`: a candle's `time` is `floor(tick / intervalMs) *
   * intervalMs`, `open`/`close` the prices of its first/last tick,
   * `high`/`low` the extremes, `count` the aggregates in it. Intervals with
   * no aggregate have no candle. Oldest first. An `intervalMs` that is not a
   * positive whole number fails with `QueryFailed`.
   */
  readonly history: (symbol: string, query: HistoryQuery) => Effect.Effect<ReadonlyArray<Candle>, DbError.DbError>
  /** Raw quotes, see {@link QuotesQuery}. */
  readonly quotes: (symbol: string, query: QuotesQuery) => Effect.Effect<ReadonlyArray<Quote>, DbError.DbError>
  /**
   * Deletes the quotes received before `olderThan` (epoch ms), in bounded
   * chunks so that no single statement runs long; returns how many.
   */
  readonly pruneQuotes: (olderThan: number) => Effect.Effect<number, DbError.DbError>
  /** A trivial query: succeeds when the database answers (for health checks). */
  readonly ping: Effect.Effect<void, DbError.DbError>
}

/**
 * The store service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Store extends Context.Tag("@fiberkit/aggregator/Store")<Store, Service>() {}

/**
 * Builds the service on the `Db` of the context, applying the aggregator's
 * migrations (table `aggregator_migrations`) first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, Migrations.MigrationError | DbError.DbError, Db.Db> = internal.make

/**
 * The service on the `Db` of the context (see {@link make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Store, Migrations.MigrationError | DbError.DbError, Db.Db> = Layer.effect(Store, make)

/**
 * Options of {@link retention}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetentionOptions {
  /** How long raw quotes are kept (by `receivedAt`). Default 24 hours. */
  readonly keep?: Duration.DurationInput | undefined
  /** How often the pruning runs; the first run is immediate. Default 10 minutes. */
  readonly every?: Duration.DurationInput | undefined
}

/**
 * Prunes raw quotes older than `keep`, now and then every `every`, forever
 * (fork it, or run it in a scope). Each run logs how many quotes it
 * deleted and counts them in `aggregator_quotes_pruned`; a failed run is
 * logged as a warning and the next run tries again.
 *
 * @since 0.1.0
 * @category retention
 */
export const retention = (options?: RetentionOptions): Effect.Effect<never, never, Store> =>
  Effect.flatMap(Store, (store) => internal.retention(store, options))
