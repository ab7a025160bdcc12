/**
 * `BufferedWriter`: the last stage of the pipeline. It takes quotes and
 * aggregates as they come ({@link Service.offer} never blocks and never
 * fails), writes them to the {@link Store} in batches (up to `batchSize`
 * items, or whatever arrived within `linger`), and rides out database
 * outages:
 *
 * - A batch whose write fails (database down, locked, timing out) goes back
 *   to the front of the buffer and is retried, with exponential backoff, until
 *   the database answers again; then everything buffered is written, oldest
 *   first. Each batch is one transaction, so a retry never duplicates.
 * - The buffer holds at most `bound` items (plus the batch being written).
 *   Past that the OLDEST waiting items are dropped — newer prices matter more
 *   than older ones — and counted: `stats.dropped`, the
 *   `aggregator_writer_dropped` counter, a warning when dropping starts in an
 *   outage, and one line when the outage ends saying how many were dropped.
 *   Nothing is lost silently: items still buffered when the writer closes
 *   (after the drain grace) are counted as dropped and logged too.
 * - A batch the database refuses for its content (a constraint) is written
 *   item by item; items refused on their own are counted as `rejected` and
 *   logged, never retried.
 *
 * Closing the scope drains the buffer, waiting at most `drainGrace`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as BufferedWriter from "./BufferedWriter.js"
 *
 * const program = Effect.gen(function*() {
 *   const writer = yield* BufferedWriter.BufferedWriter
 *   yield* writer.offer({ quotes, aggregates })
 *   const { written, buffered, dropped, outages } = yield* writer.stats
 * })
 * // program.pipe(Effect.provide(BufferedWriter.layer()), Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/bufferedWriter.js"
import type { Aggregate, Quote } from "./Model.js"
import type * as Store from "./Store.js"

/**
 * Options of {@link make}; every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Items (quotes + aggregates) per write. Default `1_000`. */
  readonly batchSize?: number | undefined
  /** How long a batch smaller than `batchSize` waits for more items. Default 200 ms. */
  readonly linger?: Duration.DurationInput | undefined
  /** Items buffered at most, beyond the batch being written; the oldest go first past it. Default `100_000`. */
  readonly bound?: number | undefined
  /** First delay between retries of a failing write (doubling, with jitter). Default 100 ms. */
  readonly retryBase?: Duration.DurationInput | undefined
  /** Longest delay between retries. Default 5 seconds. */
  readonly retryMax?: Duration.DurationInput | undefined
  /** How long closing the scope waits for the buffer to drain. Default 5 seconds. */
  readonly drainGrace?: Duration.DurationInput | undefined
}

/**
 * Items handed to the writer; either list may be left out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly quotes?: ReadonlyArray<Quote> | undefined
  readonly aggregates?: ReadonlyArray<Aggregate> | undefined
}

/**
 * Counters since the writer started, in items (a quote or an aggregate is
 * one item).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Items written to the database. */
  readonly written: number
  /** Items waiting, the batch being written included. */
  readonly buffered: number
  /** Items dropped: oldest first on overflow, and whatever could not be written at shutdown. */
  readonly dropped: number
  /** Items the database refused for their content (not retried). */
  readonly rejected: number
  /** Outages: runs of failed writes ended by a successful one (the current one included). */
  readonly outages: number
  /** Failed write attempts. */
  readonly failedWrites: number
  /** Whether the last write attempt failed. */
  readonly inOutage: boolean
}

/**
 * The writer service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Buffers the items, quotes before aggregates; never blocks, never fails. */
  readonly offer: (input: Input) => Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
  /**
   * Writes now (without waiting for `linger`) everything offered before
   * the call, and waits until each of those items is written, dropped or
   * rejected. During an outage that lasts until the database returns: bound
   * it with a timeout.
   */
  readonly flush: Effect.Effect<void>
}

/**
 * The writer service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class BufferedWriter extends Context.Tag("@fiberkit/aggregator/BufferedWriter")<BufferedWriter, Service>() {}

/**
 * Starts a writer on the {@link Store} of the context. Closing the scope
 * drains it within `drainGrace`, then stops it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, never, Store.Store | Scope.Scope> = internal.make

/**
 * A writer as a layer (see {@link make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<BufferedWriter, never, Store.Store> =>
  Layer.scoped(BufferedWriter, make(options))

/**
 * The writer's metrics (shared by every writer of the process):
 * `aggregator_writer_written` (label `kind`: `quote` | `aggregate`),
 * `aggregator_writer_dropped`, `aggregator_writer_rejected`,
 * `aggregator_writer_outages`, `aggregator_writer_failed_writes` (counters)
 * and `aggregator_writer_buffered` (gauge).
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics: {
  readonly writtenQuotes: Metric.Metric.Counter<number>
  readonly writtenAggregates: Metric.Metric.Counter<number>
  readonly dropped: Metric.Metric.Counter<number>
  readonly rejected: Metric.Metric.Counter<number>
  readonly outages: Metric.Metric.Counter<number>
  readonly failedWrites: Metric.Metric.Counter<number>
  readonly buffered: Metric.Metric.Gauge<number>
} = internal.metrics
