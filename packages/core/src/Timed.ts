/**
 * `Timed`: the typed form of the timing decorator — wrap an effect to get a
 * span, a duration histogram and a log line with how long it took and how it
 * ended.
 *
 * Every timed effect records into one histogram, {@link histogram}
 * (`timed_duration_ms`), labelled `name` (the name given to {@link timed}) and
 * `outcome` (`success`, `failure` or `interrupted`); buckets from 1 ms to
 * ~16 s doubling, like the `Http` client's request durations. Durations are
 * read from the Effect `Clock` (exact under `TestClock`). The log line is
 * annotated with `timed`, `outcome` and `durationMs`, and carries the cause
 * when the effect failed.
 *
 * Keep `name` low-cardinality (a step, not a URL): each name is a histogram series.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timed } from "@fiberkit/core"
 *
 * const loadPrices = Effect.sleep("120 millis").pipe(Timed.timed("load-prices"))
 * // logs: load-prices succeeded in 120ms  (timed=load-prices outcome=success durationMs=120)
 * // metric: timed_duration_ms{name="load-prices",outcome="success"}
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import { Labelled } from "./internal/httpMetrics.js"

/**
 * The histogram every {@link timed} effect records into, in milliseconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const histogram = Metric.histogram(
  "timed_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Duration of timed effects in milliseconds, by name and outcome (success, failure, interrupted)"
)

/**
 * How an effect ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "success" | "failure" | "interrupted"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Level of the log line. Default `Info`; `LogLevel.None` writes no line (the span and metric remain). */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Open a span named `name` around the effect. Default `true`; a span costs a few µs. */
  readonly span?: boolean | undefined
  /** Attributes of the span. */
  readonly attributes?: Readonly<Record<string, unknown>> | undefined
}

const VERB: Record<Outcome, string> = { success: "succeeded in", failure: "failed after", interrupted: "interrupted after" }

const formatMillis = (ms: number): string =>
  ms < 1000 ? `${Number(ms.toFixed(1))}ms` : `${(ms / 1000).toFixed(2)}s`

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome =>
  Exit.isSuccess(exit) ? "success" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failure"

/**
 * Times an effect: a span named `name` around it, its duration recorded in
 * {@link histogram}, and a log line when it ends, e.g.
 * `fetch-page succeeded in 12.5ms` or `fetch-page failed after 2.00s` (with
 * the cause). The effect's result is unchanged.
 *
 * @since 0.1.0
 * @category combinators
 */
export const timed = (
  name: string,
  options: Options = {}
): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> => {
  // label arrays made once per `timed(name)`, not per run: Effect caches a metric's hook by their identity
  const nameLabel = MetricLabel.make("name", name)
  const series: Record<Outcome, Labelled<number>> = {
    success: new Labelled(histogram, [nameLabel, MetricLabel.make("outcome", "success")]),
    failure: new Labelled(histogram, [nameLabel, MetricLabel.make("outcome", "failure")]),
    interrupted: new Labelled(histogram, [nameLabel, MetricLabel.make("outcome", "interrupted")])
  }
  const level = options.logLevel ?? LogLevel.Info
  const silent = level._tag === "None"
  const span = options.span ?? true
  const spanOptions = options.attributes === undefined ? undefined : { attributes: options.attributes }
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const measured = Effect.clockWith((clock) => {
      const start = clock.unsafeCurrentTimeNanos()
      return Effect.onExit(self, (exit) =>
        Effect.withFiberRuntime<void>((fiber) => {
          const ms = Number(clock.unsafeCurrentTimeNanos() - start) / 1_000_000
          const outcome = outcomeOf(exit)
          series[outcome].update(ms)
          // a line below the minimum level would be dropped anyway: skip building it (~6 µs)
          if (silent || level.ordinal < fiber.getFiberRef(FiberRef.currentMinimumLogLevel).ordinal) return Effect.void
          const message = `${name} ${VERB[outcome]} ${formatMillis(ms)}`
          return Effect.annotateLogs(
            outcome === "failure" && Exit.isFailure(exit)
              ? Effect.logWithLevel(level, message, exit.cause)
              : Effect.logWithLevel(level, message),
            { timed: name, outcome, durationMs: ms }
          )
        }))
    })
    return span ? Effect.withSpan(measured, name, spanOptions) : measured
  }
}
