/**
 * `SourceHealth`: what the aggregator knows about each source's recent
 * behaviour — request and error counts, the error rate and latency
 * percentiles over a recent window, the last success and the last error, and
 * the source's {@link CircuitBreaker}.
 *
 * The pipeline registers each source once, asks the source's breaker before
 * each fetch (`circuit(id)` → `allow`) and records one {@link Outcome} per
 * fetch it actually made. **`record` feeds the breaker**: do not also call
 * the breaker's own `record`, and record nothing for a fetch the breaker
 * refused (no request was made).
 *
 * The window is the last `windowSize` recorded outcomes (default 100): the
 * error rate is errors / outcomes in it, and p50/p90/p99 are nearest-rank
 * percentiles of the latencies of all its outcomes, failed ones included (a
 * timeout is a slow request). `requests` and `errors` count since start.
 *
 * Metrics (in Effect's registry, so in `Metrics.prometheus` and `/metrics`):
 * - `aggregator_source_requests_total{source,outcome}`: counter, outcome
 *   `success` or `failure`;
 * - `aggregator_source_latency_ms{source}`: histogram, 1 ms to ~33 s doubling;
 * - `aggregator_source_circuit_state{source}`: gauge, 0 closed, 1 half-open,
 *   2 open.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as CircuitBreaker from "./CircuitBreaker.js"
import type { CircuitState, SourceStatus } from "./Model.js"

/**
 * The kinds of source, as {@link SourceStatus} reports them.
 *
 * @since 0.1.0
 * @category models
 */
export type SourceKind = SourceStatus["kind"]

/**
 * The outcome of one fetch of one source (all its symbols of one tick).
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  /** The fetch brought at least one quote. */
  readonly ok: boolean
  readonly latencyMs: number
  /** What went wrong, when `ok` is false. */
  readonly error?: string | undefined
  /** When the fetch ended, epoch ms. */
  readonly at: number
}

/**
 * `record` or `circuit` was called with a source id that was never
 * registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownSource extends Data.TaggedError("UnknownSource")<{ readonly source: string }> {
  override get message(): string {
    return `source "${this.source}" is not registered with SourceHealth; call register("${this.source}", kind) when the pipeline starts`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Registers a source and returns its breaker. Registering an id again
   * returns the same breaker and keeps its history (the kind is updated).
   */
  readonly register: (id: string, kind: SourceKind) => Effect.Effect<CircuitBreaker.CircuitBreaker>
  /** Records one fetch's outcome: counts, window, metrics, and the source's breaker. */
  readonly record: (id: string, outcome: Outcome) => Effect.Effect<void, UnknownSource>
  /** The source's breaker. */
  readonly circuit: (id: string) => Effect.Effect<CircuitBreaker.CircuitBreaker, UnknownSource>
  /** Every registered source's status, in registration order. */
  readonly snapshot: Effect.Effect<ReadonlyArray<SourceStatus>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SourceHealth extends Context.Tag("@fiberkit/aggregator/SourceHealth")<SourceHealth, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How many recent outcomes per source the error rate and percentiles cover. Default 100. */
  readonly windowSize?: number | undefined
  /** Settings of every source's breaker (`onTransition` is chained after the service's own). */
  readonly breaker?: CircuitBreaker.Options | undefined
}

/**
 * Fetches per source and outcome.
 *
 * @since 0.1.0
 * @category metrics
 */
export const requestsTotal = Metric.counter("aggregator_source_requests_total", {
  description: "Fetches of each source, by source and outcome (success: at least one quote, failure: none)",
  incremental: true
})

/**
 * Fetch latency per source, in milliseconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const latencyMs = Metric.histogram(
  "aggregator_source_latency_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Duration of each fetch of a source in milliseconds, by source"
)

/**
 * Circuit state per source: 0 closed, 1 half-open, 2 open.
 *
 * @since 0.1.0
 * @category metrics
 */
export const circuitState = Metric.gauge("aggregator_source_circuit_state", {
  description: "Circuit breaker state of each source: 0 closed, 1 half-open, 2 open"
})

/**
 * The value of {@link circuitState} for a state.
 *
 * @since 0.1.0
 * @category metrics
 */
export const circuitGaugeValue = (state: CircuitState): number =>
  state === "closed" ? 0 : state === "half_open" ? 1 : 2

/**
 * The nearest-rank percentile (`p` in (0, 1]) of ascending-sorted values,
 * `null` for none.
 *
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number | null => {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)))
  return sorted[rank - 1] ?? null
}

interface Entry {
  readonly id: string
  kind: SourceKind
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly metrics: {
    readonly success: Metric.Metric.Counter<number>
    readonly failure: Metric.Metric.Counter<number>
    readonly latency: typeof latencyMs
  }
  requests: number
  errors: number
  lastSuccessAt: number | null
  lastErrorAt: number | null
  lastError: string | null
  // ring buffers of the window
  readonly okWindow: Array<boolean>
  readonly latencyWindow: Array<number>
  next: number
  filled: number
}

/**
 * Builds the service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const windowSize = Math.max(1, Math.floor(options.windowSize ?? 100))
    const entries = new Map<string, Entry>()

    const onTransition = (id: string) => (from: CircuitState, to: CircuitBreaker.Snapshot): Effect.Effect<void> =>
      Effect.zipRight(
        Metric.set(Metric.tagged(circuitState, "source", id), circuitGaugeValue(to.state)),
        Effect.zipRight(
          to.state === "open"
            ? Effect.logWarning(
              `circuit of source ${id} opened after ${to.consecutiveFailures} consecutive failures; next probe in ${to.coolDownMs} ms`
            )
            : Effect.logInfo(`circuit of source ${id}: ${from} -> ${to.state}`),
          options.breaker?.onTransition?.(from, to) ?? Effect.void
        )
      ).pipe(Effect.annotateLogs({ source: id, circuit: to.state }))

    const register = (id: string, kind: SourceKind): Effect.Effect<CircuitBreaker.CircuitBreaker> =>
      Effect.suspend(() => {
        const existing = entries.get(id)
        if (existing !== undefined) {
          existing.kind = kind
          return Effect.succeed(existing.breaker)
        }
        return Effect.flatMap(
          CircuitBreaker.make({ ...options.breaker, onTransition: onTransition(id) }),
          (breaker) =>
            Effect.suspend(() => {
              // a concurrent register of the same id may have won while the breaker was built
              const raced = entries.get(id)
              if (raced !== undefined) return Effect.succeed(raced.breaker)
              const requests = Metric.tagged(requestsTotal, "source", id)
              entries.set(id, {
                id,
                kind,
                breaker,
                metrics: {
                  success: Metric.tagged(requests, "outcome", "success"),
                  failure: Metric.tagged(requests, "outcome", "failure"),
                  latency: Metric.tagged(latencyMs, "source", id)
                },
                requests: 0,
                errors: 0,
                lastSuccessAt: null,
                lastErrorAt: null,
                lastError: null,
                okWindow: [],
                latencyWindow: [],
                next: 0,
                filled: 0
              })
              return Effect.as(Metric.set(Metric.tagged(circuitState, "source", id), 0), breaker)
            })
        )
      })

    const lookup = (id: string): Effect.Effect<Entry, UnknownSource> =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        return entry === undefined ? Effect.fail(new UnknownSource({ source: id })) : Effect.succeed(entry)
      })

    const record = (id: string, outcome: Outcome): Effect.Effect<void, UnknownSource> =>
      Effect.flatMap(lookup(id), (entry) =>
        Effect.suspend(() => {
          entry.requests += 1
          if (outcome.ok) {
            entry.lastSuccessAt = outcome.at
          } else {
            entry.errors += 1
            entry.lastErrorAt = outcome.at
            entry.lastError = outcome.error ?? "the fetch brought no quote"
          }
          entry.okWindow[entry.next] = outcome.ok
          entry.latencyWindow[entry.next] = outcome.latencyMs
          entry.next = (entry.next + 1) % windowSize
          entry.filled = Math.min(windowSize, entry.filled + 1)
          return Effect.all([
            Metric.increment(outcome.ok ? entry.metrics.success : entry.metrics.failure),
            Metric.update(entry.metrics.latency, outcome.latencyMs),
            entry.breaker.record(outcome.ok)
          ], { discard: true })
        }))

    const circuit = (id: string): Effect.Effect<CircuitBreaker.CircuitBreaker, UnknownSource> =>
      Effect.map(lookup(id), (entry) => entry.breaker)

    const statusOf = (entry: Entry): Effect.Effect<SourceStatus> =>
      Effect.map(entry.breaker.state, (breaker) => {
        const n = entry.filled
        let windowErrors = 0
        for (let i = 0; i < n; i++) if (entry.okWindow[i] === false) windowErrors += 1
        const latencies = entry.latencyWindow.slice(0, n).sort((a, b) => a - b)
        return {
          source: entry.id,
          kind: entry.kind,
          lastSuccessAt: entry.lastSuccessAt,
          lastErrorAt: entry.lastErrorAt,
          lastError: entry.lastError,
          requests: entry.requests,
          errors: entry.errors,
          errorRate: n === 0 ? 0 : windowErrors / n,
          latencyMs: {
            p50: percentile(latencies, 0.5),
            p90: percentile(latencies, 0.9),
            p99: percentile(latencies, 0.99)
          },
          circuit: breaker.state,
          circuitOpenedAt: breaker.openedAt
        }
      })

    const snapshot: Effect.Effect<ReadonlyArray<SourceStatus>> = Effect.suspend(() =>
      Effect.forEach(Array.from(entries.values()), statusOf, { concurrency: 1 })
    )

    return { register, record, circuit, snapshot } satisfies Service
  })

/**
 * The service as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<SourceHealth> => Layer.effect(SourceHealth, make(options))
