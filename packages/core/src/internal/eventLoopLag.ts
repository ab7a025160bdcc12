/**
 * The event-loop lag monitor: a timer that should fire every `intervalMs`
 * measures how late it fires. Lateness is time the loop spent on something
 * else — synchronous work that blocks every other fiber, request and timer.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as Scope from "effect/Scope"
import type * as EventLoopLag from "../EventLoopLag.js"

/** @internal */
export const lagMs = Metric.histogram(
  "event_loop_lag_ms",
  MetricBoundaries.fromIterable([1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]),
  "How late the event-loop lag monitor's timer fired, in milliseconds, per sample"
)

/** @internal */
export const blocked = Metric.counter("event_loop_blocked_total", {
  description: "Samples in which the event loop was blocked longer than the monitor's threshold",
  incremental: true
})

/** @internal */
export const defaults: EventLoopLag.Settings = { thresholdMs: 100, intervalMs: 50, warnEveryMs: 10_000 }

const positive = (name: string, value: number): number => {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`EventLoopLag ${name} must be a positive number of milliseconds, got ${value}`)
  }
  return value
}

/** @internal */
export const resolve = (options: EventLoopLag.Options): EventLoopLag.Settings => ({
  thresholdMs: positive("thresholdMs", options.thresholdMs ?? defaults.thresholdMs),
  intervalMs: positive("intervalMs", options.intervalMs ?? defaults.intervalMs),
  warnEveryMs: options.warnEveryMs === 0 ? 0 : positive("warnEveryMs", options.warnEveryMs ?? defaults.warnEveryMs)
})

/** A warning to log: the block that triggered it and the blocks not logged since the previous one. */
export interface Warning {
  readonly lagMs: number
  readonly suppressed: number
  readonly worstSuppressedMs: number
}

/**
 * Decides which blocks are logged: the first one at once, then at most one
 * per `warnEveryMs`; the blocks in between are counted into the next warning.
 *
 * @internal
 */
export class Reporter {
  private lastWarningAt = Number.NEGATIVE_INFINITY
  private suppressed = 0
  private worstSuppressedMs = 0

  constructor(readonly thresholdMs: number, readonly warnEveryMs: number) {}

  /** Feeds one sample taken at `nowMs`; returns the warning to log, if any. */
  observe(lagMs: number, nowMs: number): Warning | undefined {
    if (lagMs <= this.thresholdMs) return undefined
    if (nowMs - this.lastWarningAt < this.warnEveryMs) {
      this.suppressed++
      if (lagMs > this.worstSuppressedMs) this.worstSuppressedMs = lagMs
      return undefined
    }
    const warning: Warning = { lagMs, suppressed: this.suppressed, worstSuppressedMs: this.worstSuppressedMs }
    this.lastWarningAt = nowMs
    this.suppressed = 0
    this.worstSuppressedMs = 0
    return warning
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10

/** @internal */
export const warningMessage = (warning: Warning, settings: EventLoopLag.Settings): string => {
  const since = warning.suppressed === 0
    ? ""
    : ` ${warning.suppressed} more block(s) since the last warning, the worst ${round(warning.worstSuppressedMs)} ms.`
  return `Event loop blocked for at least ${round(warning.lagMs)} ms (a ${settings.intervalMs} ms timer fired that late; ` +
    `threshold ${settings.thresholdMs} ms): synchronous work is holding up every fiber, request and timer.${since} ` +
    `Move CPU-bound work to a WorkerPool, use asynchronous APIs, or yield inside long loops.`
}

/** @internal */
export const monitor = (options: EventLoopLag.Options): Effect.Effect<void, never, Scope.Scope> =>
  Effect.suspend(() => {
    const settings = resolve(options)
    const reporter = new Reporter(settings.thresholdMs, settings.warnEveryMs)
    const interval = Duration.millis(settings.intervalMs)
    // Taken now, not when the monitor fiber first runs, so that a block right
    // after `monitor` returns is measured too.
    let last = performance.now()
    const sample = Effect.suspend(() => {
      const now = performance.now()
      const lag = Math.max(0, now - last - settings.intervalMs)
      last = now
      const recorded = Metric.update(lagMs, lag)
      if (lag <= settings.thresholdMs) return recorded
      const warning = reporter.observe(lag, now)
      const counted = Effect.zipRight(recorded, Metric.increment(blocked))
      return warning === undefined ? counted : Effect.zipRight(
        counted,
        Effect.logWarning(warningMessage(warning, settings)).pipe(
          Effect.annotateLogs({
            eventLoopLagMs: round(warning.lagMs),
            thresholdMs: settings.thresholdMs,
            suppressedBlocks: warning.suppressed
          })
        )
      )
    })
    return Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.sleep(interval), sample)).pipe(
        // Lag is a property of the real event loop: the monitor keeps real
        // timers even where a TestClock is installed.
        Effect.withClock(Clock.make()),
        Effect.annotateLogs("module", "EventLoopLag"),
        Effect.interruptible
      )
    )
  }).pipe(Effect.asVoid)
