/**
 * The polling pipeline: **collector → bounded queue → processor → writer**.
 *
 * - The **collector** wakes on each tick (every `intervalMs`, aligned to
 *   multiples of it by default, after a random `jitterMs` like Telegraf's
 *   `collection_jitter`) and asks every source that is due for all its
 *   symbols at once, all sources concurrently. Each source's fetch is cut at
 *   the tick's deadline: a slow source costs the tick nothing beyond it and
 *   its symbols are recorded as `timeout`. A source whose circuit is open is
 *   not asked (`circuit_open`). The tick's observations go into a bounded
 *   queue; when the processor falls behind, the collector waits there
 *   (back-pressure) and the ticks it misses are counted as skipped, never
 *   piled up.
 * - The **processor** aggregates each symbol (`Aggregate.aggregate`: quorum,
 *   staleness, outliers, median) from the tick's observations plus the latest
 *   observation of each source that was not due this tick (per-source
 *   intervals), publishes the aggregates to {@link Live} and hands quotes and
 *   aggregates to the {@link BufferedWriter}, which batches them and rides
 *   out database outages.
 *
 * {@link first} is the latency-sensitive read: every source asked at once,
 * the first valid quote wins and the other requests are cancelled.
 *
 * @since 0.1.0
 */
import { Concurrent } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Aggregate from "./Aggregate.js"
import * as BufferedWriter from "./BufferedWriter.js"
import * as Live from "./Live.js"
import type { Aggregate as AggregateRecord, Observation, Quote, SourceFailure } from "./Model.js"
import type * as Source from "./Source.js"
import * as SourceHealth from "./SourceHealth.js"

/**
 * A source and how often to ask it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scheduled {
  readonly source: Source.Source
  /** Ask this source at most every `intervalMs` (rounded up to whole ticks). Default: every tick. */
  readonly intervalMs?: number | undefined
  /** The symbols to ask it for. Default: all of the pipeline's symbols. */
  readonly symbols?: ReadonlyArray<string> | undefined
}

/**
 * The pipeline's settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly symbols: ReadonlyArray<string>
  readonly sources: ReadonlyArray<Scheduled>
  /** Time between ticks. Default 1000 ms. */
  readonly intervalMs?: number | undefined
  /** Ticks fall on multiples of the interval (wall clock). Default `true`. */
  readonly align?: boolean | undefined
  /** A random delay in `[0, jitterMs)` before each tick's fetches, so many aggregators don't hit a source together. Default 0. */
  readonly jitterMs?: number | undefined
  /** How long a tick's fetches may take, from the tick's start. Default 80 % of the interval. */
  readonly deadlineMs?: number | undefined
  /** Aggregation policy. Default `Aggregate.defaultPolicy`. */
  readonly policy?: Aggregate.Policy | undefined
  /** Ticks waiting between collector and processor. Default 4. */
  readonly queueCapacity?: number | undefined
}

/**
 * One tick's observations, as the collector hands them to the processor.
 *
 * @since 0.1.0
 * @category models
 */
export interface TickBatch {
  /** The tick's scheduled time, epoch ms. */
  readonly tick: number
  /** When the fetches started (after jitter), epoch ms. */
  readonly startedAt: number
  /** How long the fetches took, ms. */
  readonly durationMs: number
  /** The ids of the sources asked (or skipped because their circuit was open) this tick. */
  readonly sources: ReadonlyArray<string>
  readonly observations: ReadonlyArray<Observation>
}

/**
 * Counters since the pipeline started.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly ticks: number
  /** Ticks not run because the previous one (or the queue) held the collector past them. */
  readonly skipped: number
  readonly lastTick: number | null
  readonly lastTickDurationMs: number | null
  readonly quotes: number
  readonly failures: number
  readonly aggregates: number
}

/**
 * A running pipeline: its counters, and the last tick batch processed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running {
  readonly stats: Effect.Effect<Stats>
  /** Completes with the next tick's aggregates once they are processed. */
  readonly nextTick: Effect.Effect<ReadonlyArray<AggregateRecord>>
}

const tickDuration = Metric.histogram(
  "aggregator_tick_duration_ms",
  MetricBoundaries.exponential({ start: 5, factor: 2, count: 12 }),
  "Time from a tick's start until every source answered or the deadline cut it, in milliseconds"
)
const ticksSkipped = Metric.counter("aggregator_ticks_skipped_total", {
  description: "Ticks not run because the collector was held past them (slow processing or writer)",
  incremental: true
})
const ticksRun = Metric.counter("aggregator_ticks_total", { description: "Ticks run", incremental: true })

const failure = (source: string, symbol: string, kind: SourceFailure["kind"], message: string, latencyMs: number): Observation => ({
  _tag: "Failure",
  failure: { source, symbol, kind, message, latencyMs }
})

const observationSymbol = (o: Observation): string => o._tag === "Quote" ? o.quote.symbol : o.failure.symbol

/**
 * Ask one source for its symbols within `deadlineMs`, through its circuit
 * breaker, and record the outcome with {@link SourceHealth}. Never fails:
 * every symbol gets exactly one observation.
 *
 * @since 0.1.0
 * @category collector
 */
export const fetchSource = (
  source: Source.Source,
  symbols: ReadonlyArray<string>,
  deadlineMs: number
): Effect.Effect<ReadonlyArray<Observation>, never, SourceHealth.SourceHealth> =>
  Effect.gen(function*() {
    const health = yield* SourceHealth.SourceHealth
    const breaker = yield* health.register(source.id, source.kind)
    if (!(yield* breaker.allow)) {
      const state = yield* breaker.state
      const until = state.probeAt === null ? "" : `; next probe at ${new Date(state.probeAt).toISOString()}`
      return symbols.map((symbol) =>
        failure(source.id, symbol, "circuit_open", `circuit open after ${state.consecutiveFailures} failed fetches${until}`, 0)
      )
    }
    const started = yield* Clock.currentTimeMillis
    const answer = yield* source.fetch(symbols).pipe(Effect.timeoutOption(Math.max(0, deadlineMs)))
    const ended = yield* Clock.currentTimeMillis
    const latencyMs = ended - started
    const observations: ReadonlyArray<Observation> = Option.getOrElse(answer, () =>
      symbols.map((symbol) =>
        failure(source.id, symbol, "timeout", `no answer within the tick deadline of ${Math.round(deadlineMs)} ms`, latencyMs)
      ))
    // A source that answered, if only with "I don't list that symbol", is up.
    const failures = observations.flatMap((o) => o._tag === "Failure" ? [o.failure] : [])
    const ok = failures.length < observations.length || failures.every((f) => f.kind === "unsupported")
    const firstError = failures.find((f) => f.kind !== "unsupported")
    yield* health.record(source.id, {
      ok,
      latencyMs,
      error: ok ? undefined : `${firstError?.kind ?? "error"}: ${firstError?.message ?? "no quotes"}`,
      at: ended
    }).pipe(Effect.orDie)
    return observations
  })

/**
 * Run one tick's fetches: every given source concurrently, each cut at the
 * deadline. The result lists every (source, symbol) pair exactly once.
 *
 * @since 0.1.0
 * @category collector
 */
export const collect = (
  sources: ReadonlyArray<{ readonly source: Source.Source; readonly symbols: ReadonlyArray<string> }>,
  deadlineMs: number
): Effect.Effect<ReadonlyArray<Observation>, never, SourceHealth.SourceHealth> =>
  Effect.map(
    Effect.forEach(sources, ({ source, symbols }) => fetchSource(source, symbols, deadlineMs), {
      concurrency: Math.max(1, sources.length)
    }),
    (lists) => lists.flat()
  )

/**
 * Aggregate one tick: the tick's observations, plus for each source not
 * asked this tick its latest observation (its age then decides whether it
 * still counts). Pure.
 *
 * @since 0.1.0
 * @category processor
 */
export const aggregateTick = (
  batch: TickBatch,
  symbols: ReadonlyArray<string>,
  carried: ReadonlyMap<string, Observation>,
  policy: Aggregate.Policy
): ReadonlyArray<AggregateRecord> => {
  const bySymbol = new Map<string, Array<Observation>>()
  for (const symbol of symbols) bySymbol.set(symbol, [])
  const asked = new Set(batch.sources)
  for (const o of batch.observations) bySymbol.get(observationSymbol(o))?.push(o)
  for (const [key, o] of carried) {
    const source = key.slice(0, key.indexOf("\u0000"))
    if (!asked.has(source)) bySymbol.get(observationSymbol(o))?.push(o)
  }
  return symbols.map((symbol) => Aggregate.aggregate(symbol, batch.tick, bySymbol.get(symbol) ?? [], policy))
}

const carryKey = (o: Observation): string =>
  o._tag === "Quote" ? `${o.quote.source}\u0000${o.quote.symbol}` : `${o.failure.source}\u0000${o.failure.symbol}`

/**
 * Start the pipeline in the scope: the collector and the processor run until
 * the scope closes (the writer then drains what it holds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  options: Options
): Effect.Effect<Running, never, SourceHealth.SourceHealth | Live.Live | BufferedWriter.BufferedWriter | Scope.Scope> =>
  Effect.gen(function*() {
    const intervalMs = Math.max(1, options.intervalMs ?? 1000)
    const align = options.align ?? true
    const jitterMs = Math.max(0, options.jitterMs ?? 0)
    const deadlineMs = Math.max(1, options.deadlineMs ?? Math.round(intervalMs * 0.8))
    const policy = options.policy ?? Aggregate.defaultPolicy
    const live = yield* Live.Live
    const writer = yield* BufferedWriter.BufferedWriter
    const health = yield* SourceHealth.SourceHealth
    for (const s of options.sources) yield* health.register(s.source.id, s.source.kind)

    const queue = yield* Effect.acquireRelease(Queue.bounded<TickBatch>(Math.max(1, options.queueCapacity ?? 4)), Queue.shutdown)
    const stats = yield* Ref.make<Stats>({
      ticks: 0,
      skipped: 0,
      lastTick: null,
      lastTickDurationMs: null,
      quotes: 0,
      failures: 0,
      aggregates: 0
    })
    const nextSignal = yield* Ref.make(yield* Deferred.make<ReadonlyArray<AggregateRecord>>())
    const lastAsked = new Map<string, number>()

    const collector = Effect.gen(function*() {
      let next = yield* Clock.currentTimeMillis
      if (align) next = Math.ceil(next / intervalMs) * intervalMs
      while (true) {
        const now = yield* Clock.currentTimeMillis
        if (now < next) yield* Effect.sleep(next - now)
        const tick = next
        const jitter = jitterMs > 0 ? yield* Random.nextIntBetween(0, jitterMs) : 0
        if (jitter > 0) yield* Effect.sleep(jitter)
        const due = options.sources.filter((s) => {
          const last = lastAsked.get(s.source.id)
          // Half a tick of slack, so a 2000 ms source on a 1000 ms tick is asked every second tick, not every third.
          return last === undefined || tick - last >= (s.intervalMs ?? 0) - intervalMs / 2
        })
        for (const s of due) lastAsked.set(s.source.id, tick)
        const startedAt = yield* Clock.currentTimeMillis
        const observations = yield* collect(
          due.map((s) => ({ source: s.source, symbols: s.symbols ?? options.symbols })),
          deadlineMs - jitter
        )
        const durationMs = (yield* Clock.currentTimeMillis) - startedAt
        yield* Metric.update(tickDuration, durationMs)
        yield* Metric.increment(ticksRun)
        yield* Queue.offer(queue, { tick, startedAt, durationMs, sources: due.map((s) => s.source.id), observations })
        // The next tick is the first one still ahead: missed ticks are counted, not run late.
        const after = yield* Clock.currentTimeMillis
        let following = tick + intervalMs
        let missed = 0
        while (following <= after - intervalMs / 2) {
          following += intervalMs
          missed++
        }
        if (missed > 0) {
          yield* Metric.incrementBy(ticksSkipped, missed)
          yield* Ref.update(stats, (s) => ({ ...s, skipped: s.skipped + missed }))
          yield* Effect.logWarning(`${missed} tick(s) skipped: the previous tick and its processing took ${after - tick} ms`)
        }
        next = following
      }
    })

    const carried = new Map<string, Observation>()
    const processor = Effect.gen(function*() {
      while (true) {
        const batch = yield* Queue.take(queue)
        const aggregates = aggregateTick(batch, options.symbols, carried, policy)
        for (const o of batch.observations) carried.set(carryKey(o), o)
        const quotes: Array<Quote> = []
        for (const o of batch.observations) if (o._tag === "Quote") quotes.push(o.quote)
        yield* live.publish(aggregates)
        yield* writer.offer({ quotes, aggregates })
        yield* Ref.update(stats, (s) => ({
          ...s,
          ticks: s.ticks + 1,
          lastTick: batch.tick,
          lastTickDurationMs: batch.durationMs,
          quotes: s.quotes + quotes.length,
          failures: s.failures + batch.observations.length - quotes.length,
          aggregates: s.aggregates + aggregates.length
        }))
        const signal = yield* Ref.getAndSet(nextSignal, yield* Deferred.make<ReadonlyArray<AggregateRecord>>())
        yield* Deferred.succeed(signal, aggregates)
      }
    })

    yield* Effect.forkScoped(collector)
    yield* Effect.forkScoped(processor)

    return {
      stats: Ref.get(stats),
      nextTick: Effect.flatMap(Ref.get(nextSignal), Deferred.await)
    }
  })

/**
 * No source gave a valid quote for the symbol in {@link first}.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoAnswer extends Data.TaggedError("NoAnswer")<{
  readonly symbol: string
  readonly failures: ReadonlyArray<SourceFailure>
}> {
  override get message(): string {
    const why = this.failures.map((f) => `${f.source}: ${f.kind} (${f.message})`).join("; ")
    return `no source quoted ${this.symbol}: ${why || "no sources configured"}`
  }
}

/**
 * The latency-sensitive read: ask every source for `symbol` at once; the
 * first valid quote wins and the requests still running are cancelled.
 *
 * @example
 * ```ts
 * const quote = yield* Pipeline.first(sources, "BTCUSDT", { timeoutMs: 500 })
 * ```
 *
 * @since 0.1.0
 * @category reads
 */
export const first = (
  sources: ReadonlyArray<Source.Source>,
  symbol: string,
  options?: { readonly timeoutMs?: number | undefined }
): Effect.Effect<Quote, NoAnswer> => {
  const timeoutMs = options?.timeoutMs ?? 2000
  const attempts = sources.map((source) =>
    Effect.flatMap(source.fetch([symbol]), (observations) => {
      const found = observations.find((o) => observationSymbol(o) === symbol)
      if (found?._tag === "Quote") return Effect.succeed(found.quote)
      return Effect.fail<SourceFailure>(
        found?._tag === "Failure"
          ? found.failure
          : { source: source.id, symbol, kind: "error", message: "the answer did not include the symbol", latencyMs: 0 }
      )
    })
  )
  // One deadline over the race (not one per attempt): interrupting a timed-out-wrapped effect from
  // outside waited for it to finish, which kept the losers alive until their own answers came.
  return Concurrent.firstOf(attempts).pipe(
    Effect.mapError((failures) => new NoAnswer({ symbol, failures })),
    Effect.timeoutFail({
      duration: timeoutMs,
      onTimeout: () =>
        new NoAnswer({
          symbol,
          failures: sources.map((source) => ({
            source: source.id,
            symbol,
            kind: "timeout" as const,
            message: `no valid answer within ${timeoutMs} ms`,
            latencyMs: timeoutMs
          }))
        })
    })
  )
}
