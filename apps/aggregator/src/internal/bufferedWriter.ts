/**
 * The buffered writer: a ring buffer of items, one writer fiber that takes
 * batches from its front, and the outage bookkeeping.
 *
 * State is plain mutable data touched only inside `Effect.sync` blocks (one
 * JS thread: no two of them interleave). The batch being written
 * (`inflight`) is out of the buffer: overflow during a write drops from the
 * buffer's front, and a failed batch goes back to the front, where the
 * bound is applied again — so during an outage the survivors are always
 * the newest `bound` items.
 *
 * @internal
 */
import type { DbError } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as BufferedWriter from "../BufferedWriter.js"
import type { Aggregate, Quote } from "../Model.js"
import * as Store from "../Store.js"
import { Deque } from "./deque.js"

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

const written = Metric.counter("aggregator_writer_written", {
  description: "Items (quotes, aggregates) written to the database by the buffered writer",
  incremental: true
})

/** @internal */
export const metrics = {
  writtenQuotes: Metric.tagged(written, "kind", "quote"),
  writtenAggregates: Metric.tagged(written, "kind", "aggregate"),
  dropped: Metric.counter("aggregator_writer_dropped", {
    description: "Items dropped by the buffered writer: oldest first when its buffer is full, or unwritten at shutdown",
    incremental: true
  }),
  rejected: Metric.counter("aggregator_writer_rejected", {
    description: "Items the database refused for their content (not retried)",
    incremental: true
  }),
  outages: Metric.counter("aggregator_writer_outages", {
    description: "Runs of failed database writes seen by the buffered writer",
    incremental: true
  }),
  failedWrites: Metric.counter("aggregator_writer_failed_writes", {
    description: "Failed write attempts of the buffered writer",
    incremental: true
  }),
  buffered: Metric.gauge("aggregator_writer_buffered", {
    description: "Items waiting in the buffered writer, the batch being written included"
  })
}

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

type Entry =
  | { readonly seq: number; readonly kind: "quote"; readonly value: Quote }
  | { readonly seq: number; readonly kind: "aggregate"; readonly value: Aggregate }

const toBatch = (entries: ReadonlyArray<Entry>): Store.Batch => {
  const quotes: Array<Quote> = []
  const aggregates: Array<Aggregate> = []
  for (const e of entries) {
    if (e.kind === "quote") quotes.push(e.value)
    else aggregates.push(e.value)
  }
  return { quotes, aggregates }
}

const describe = (e: Entry): string =>
  e.kind === "quote"
    ? `quote ${e.value.source}/${e.value.symbol} received at ${e.value.receivedAt}`
    : `aggregate ${e.value.symbol} at tick ${e.value.tick}`

/** Errors about the rows themselves: retrying the same rows cannot help. */
const isDataError = (e: DbError.DbError): boolean =>
  e._tag === "UniqueViolation" || e._tag === "ForeignKeyViolation" || e._tag === "ConstraintViolation" ||
  e._tag === "InvalidRow"

interface Outage {
  readonly since: number
  readonly firstError: string
  failures: number
  dropped: number
}

const positiveInt = (n: number | undefined, fallback: number, name: string): number => {
  if (n === undefined) return fallback
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`BufferedWriter ${name} must be a positive integer, got ${n}`)
  return n
}

// ---------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------

/** @internal */
export const make = (
  options?: BufferedWriter.Options
): Effect.Effect<BufferedWriter.Service, never, Store.Store | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* Store.Store
    const bound = positiveInt(options?.bound, 100_000, "bound")
    const batchSize = Math.min(positiveInt(options?.batchSize, 1_000, "batchSize"), bound)
    const linger = Duration.decode(options?.linger ?? "200 millis")
    const retryBaseMs = Duration.toMillis(options?.retryBase ?? "100 millis")
    const retryMaxMs = Duration.toMillis(options?.retryMax ?? "5 seconds")
    const drainGrace = Duration.decode(options?.drainGrace ?? "5 seconds")

    const buffer = new Deque<Entry>(1_024)
    let inflight: Array<Entry> = []
    let seq = 0
    /** Items offered up to this seq are being flushed: no lingering for them. */
    let flushTarget = 0
    let closed = false
    const counts = { written: 0, dropped: 0, rejected: 0, outages: 0, failedWrites: 0 }
    let outage: Outage | undefined
    /** Overflow drops while the database works (input faster than writes), reported at the next write. */
    let unreportedOverflow = 0

    /** Wakes the writer when items arrive. */
    const signal = yield* Queue.sliding<void>(1)
    /** Cuts a retry backoff short (flush). */
    const kick = yield* Queue.sliding<void>(1)
    /** Bumped after every change a flush may be waiting for. */
    const progress = yield* SubscriptionRef.make(0)

    const bufferedNow = () => buffer.size + inflight.length
    const publish = Effect.zipRight(
      Effect.suspend(() => Metric.set(metrics.buffered, bufferedNow())),
      SubscriptionRef.update(progress, (n) => n + 1)
    )

    const bufferFullWarning = Effect.logWarning(
      `write buffer full (${bound} items) while the database is unavailable: dropping the oldest items; how many is logged when writes resume`
    ).pipe(Effect.annotateLogs({ bound }))

    /** Applies the bound to the buffer (dropping from its front); the effect counts and logs the drops. */
    const enforceBound = (): Effect.Effect<void> => {
      const over = buffer.size - bound
      if (over <= 0) return Effect.void
      const n = buffer.drop(over)
      counts.dropped += n
      const count = Metric.incrementBy(metrics.dropped, n)
      if (outage === undefined) {
        unreportedOverflow += n
        return count
      }
      const first = outage.dropped === 0
      outage.dropped += n
      if (!first) return count
      return Effect.zipRight(count, bufferFullWarning)
    }

    const offer = (input: BufferedWriter.Input): Effect.Effect<void> =>
      Effect.suspend(() => {
        const quotes = input.quotes ?? []
        const aggregates = input.aggregates ?? []
        const n = quotes.length + aggregates.length
        if (n === 0) return Effect.void
        if (closed) {
          counts.dropped += n
          return Effect.zipRight(
            Metric.incrementBy(metrics.dropped, n),
            Effect.logError(`buffered writer already closed: ${n} item(s) offered after shutdown are dropped`)
          )
        }
        for (const q of quotes) buffer.push({ seq: ++seq, kind: "quote", value: q })
        for (const a of aggregates) buffer.push({ seq: ++seq, kind: "aggregate", value: a })
        return Effect.zipRight(enforceBound(), Effect.zipRight(Queue.offer(signal, undefined), publish))
      })

    /** Whether every item up to `target` is written, dropped or rejected. */
    const resolved = (target: number): boolean => {
      const firstInflight = inflight[0]
      if (firstInflight !== undefined && firstInflight.seq <= target) return false
      const head = buffer.peek()
      return head === undefined || head.seq > target
    }
    const urgent = () => !resolved(flushTarget)

    const waitForBatch = Effect.gen(function*() {
      while (buffer.size === 0) yield* Queue.take(signal)
      if (buffer.size < batchSize && !urgent()) {
        yield* Effect.raceFirst(
          Effect.sleep(linger),
          Effect.repeat(Queue.take(signal), { until: () => buffer.size >= batchSize || urgent() })
        )
      }
    })

    const onWritten = (entries: ReadonlyArray<Entry>): Effect.Effect<void> => {
      let quotes = 0
      for (const e of entries) if (e.kind === "quote") quotes++
      counts.written += entries.length
      return Effect.zipRight(
        Metric.incrementBy(metrics.writtenQuotes, quotes),
        Metric.incrementBy(metrics.writtenAggregates, entries.length - quotes)
      )
    }

    /**
     * Writes the first `n` in-flight items. The bookkeeping after the write
     * is uninterruptible, so an interruption (shutdown) can only land while
     * the transaction runs, and then it is rolled back: the items stay in
     * flight and are counted as lost.
     */
    const writeFirst = (n: number): Effect.Effect<DbError.DbError | undefined> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const entries = inflight.slice(0, n)
          return Effect.flatMap(Effect.either(restore(store.write(toBatch(entries)))), (result) => {
            if (Either.isLeft(result)) return Effect.succeed(result.left)
            inflight = inflight.slice(entries.length)
            return Effect.as(onWritten(entries), undefined)
          })
        })
      )

    /** The batch was refused for its content: find the culprits one by one. */
    const writeOneByOne: Effect.Effect<DbError.DbError | undefined> = Effect.gen(function*() {
      while (inflight.length > 0) {
        const error = yield* writeFirst(1)
        if (error === undefined) continue
        if (!isDataError(error)) return error
        const [bad] = inflight.splice(0, 1)
        counts.rejected++
        yield* Metric.increment(metrics.rejected)
        if (bad !== undefined) {
          yield* Effect.logError(`the database refused ${describe(bad)}; it is not retried: ${error.message}`)
        }
      }
      return undefined
    })

    const onSuccess: Effect.Effect<void> = Effect.gen(function*() {
      if (outage !== undefined) {
        const o = outage
        outage = undefined
        const now = yield* Clock.currentTimeMillis
        const line = o.dropped > 0
          ? `database writes resumed after ${Duration.format(Duration.millis(now - o.since))} and ${o.failures} failed attempt(s): ${o.dropped} item(s) were dropped during the outage (oldest first, buffer bound ${bound}); ${bufferedNow()} still buffered`
          : `database writes resumed after ${Duration.format(Duration.millis(now - o.since))} and ${o.failures} failed attempt(s): nothing was dropped; ${bufferedNow()} still buffered`
        const log = o.dropped > 0 ? Effect.logWarning(line) : Effect.logInfo(line)
        yield* log.pipe(Effect.annotateLogs({ dropped: o.dropped, failures: o.failures }))
      }
      if (unreportedOverflow > 0) {
        const n = unreportedOverflow
        unreportedOverflow = 0
        yield* Effect.logWarning(
          `dropped ${n} oldest item(s): they arrived faster than the database took them (buffer bound ${bound})`
        ).pipe(Effect.annotateLogs({ dropped: n }))
      }
    })

    const onFailure = (error: DbError.DbError): Effect.Effect<number> =>
      Effect.gen(function*() {
        counts.failedWrites++
        yield* Metric.increment(metrics.failedWrites)
        if (outage === undefined) {
          counts.outages++
          yield* Metric.increment(metrics.outages)
          // Overflow while this first failing write was still running belongs to the outage.
          const early = unreportedOverflow
          unreportedOverflow = 0
          outage = { since: yield* Clock.currentTimeMillis, firstError: error.message, failures: 0, dropped: early }
          yield* Effect.logWarning(
            `database writes failing, buffering up to ${bound} items and retrying with backoff: ${error.message}`
          ).pipe(Effect.annotateLogs({ error: error._tag }))
          if (early > 0) yield* bufferFullWarning
        }
        outage.failures++
        buffer.unshiftAll(inflight)
        inflight = []
        yield* enforceBound()
        return outage.failures
      })

    const backoff = (failures: number): Effect.Effect<void> =>
      Effect.flatMap(Random.nextRange(0.5, 1), (jitter) => {
        const ms = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(failures - 1, 30)) * jitter
        return Effect.raceFirst(Effect.sleep(Duration.millis(ms)), Queue.take(kick))
      })

    const cycle = Effect.gen(function*() {
      yield* waitForBatch
      inflight = buffer.take(batchSize)
      let error = yield* writeFirst(inflight.length)
      if (error !== undefined && isDataError(error)) error = yield* writeOneByOne
      if (error === undefined) {
        yield* onSuccess
        yield* publish
        return
      }
      const failures = yield* onFailure(error)
      yield* publish
      yield* backoff(failures)
    })

    const loop = Effect.forever(
      cycle.pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(Effect.logError("buffered writer: unexpected failure, continuing", cause), Effect.sleep(linger))
        )
      )
    )
    const fiber = yield* Effect.forkDaemon(loop)

    const flush: Effect.Effect<void> = Effect.suspend(() => {
      const target = seq
      if (resolved(target)) return Effect.void
      flushTarget = Math.max(flushTarget, target)
      return Queue.offer(signal, undefined).pipe(
        Effect.zipRight(Queue.offer(kick, undefined)),
        Effect.zipRight(
          progress.changes.pipe(Stream.filter(() => resolved(target)), Stream.take(1), Stream.runDrain)
        )
      )
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // Finalizers run uninterruptibly: the drain must be made interruptible for the grace to cut it.
        const drained = yield* Effect.timeoutOption(Effect.interruptible(flush), drainGrace)
        closed = true
        yield* Fiber.interrupt(fiber)
        const lost = bufferedNow()
        if (lost > 0) {
          buffer.drop(buffer.size)
          inflight = []
          counts.dropped += lost
          yield* Metric.incrementBy(metrics.dropped, lost)
          yield* Effect.logError(
            `buffered writer closing: ${lost} item(s) could not be written${
              drained._tag === "None" ? ` within the drain grace of ${Duration.format(drainGrace)}` : ""
            } and are lost${outage === undefined ? "" : ` (database unavailable: ${outage.firstError})`}`
          ).pipe(Effect.annotateLogs({ dropped: lost }))
        }
        if (outage !== undefined) {
          const now = yield* Clock.currentTimeMillis
          yield* Effect.logWarning(
            `buffered writer closing during a database outage of ${Duration.format(Duration.millis(now - outage.since))}: ${outage.dropped} item(s) dropped on overflow, ${lost} lost at shutdown`
          )
        }
        yield* Metric.set(metrics.buffered, 0)
      })
    )

    const stats: Effect.Effect<BufferedWriter.Stats> = Effect.sync(() => ({
      written: counts.written,
      buffered: bufferedNow(),
      dropped: counts.dropped,
      rejected: counts.rejected,
      outages: counts.outages,
      failedWrites: counts.failedWrites,
      inOutage: outage !== undefined
    }))

    return { offer, stats, flush } satisfies BufferedWriter.Service
  })
