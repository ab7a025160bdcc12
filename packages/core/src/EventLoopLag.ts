/**
 * `EventLoopLag`: notices when something blocks the event loop — the first
 * pitfall of async code: a synchronous call (a big `JSON.parse`, a hash
 * loop, `readFileSync`, a better-sqlite3 statement) that stalls every fiber,
 * request and timer of the process while it runs.
 *
 * {@link monitor} starts a timer that should fire every `intervalMs` and
 * measures how late it fires: that lateness is time the loop spent blocked.
 * Every sample goes to the `event_loop_lag_ms` histogram; a sample over
 * `thresholdMs` counts in `event_loop_blocked_total` and logs a warning saying
 * how long the loop was blocked — the first block at once, then at most one
 * warning per `warnEveryMs`, which reports how many blocks it left out and the
 * worst of them.
 *
 * A block of B ms is measured as at least B - `intervalMs` (the timer may
 * have been due just before the block started) and is attributed to the
 * sample that follows it. A smaller interval catches shorter blocks, at the
 * cost of more wake-ups; 50 ms costs a few microseconds of CPU per sample.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventLoopLag } from "@fiberkit/core"
 *
 * // for the whole program
 * const MainLive = Layer.mergeAll(AppLive, EventLoopLag.layer({ thresholdMs: 200 }))
 *
 * // or for one scope
 * const program = Effect.gen(function*() {
 *   yield* EventLoopLag.monitor()
 *   yield* crawl
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/eventLoopLag.js"

/**
 * Monitor settings, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** A sample over this lag is a block: counted and warned about. Default `100`. */
  readonly thresholdMs: number
  /** How often the loop is sampled. Default `50`. */
  readonly intervalMs: number
  /** At most one warning per this period (`0`: every block). Default `10_000`. */
  readonly warnEveryMs: number
}

/**
 * Partial settings: anything left out takes its default ({@link defaults}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly thresholdMs?: number | undefined
  readonly intervalMs?: number | undefined
  readonly warnEveryMs?: number | undefined
}

/**
 * `{ thresholdMs: 100, intervalMs: 50, warnEveryMs: 10_000 }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Settings = internal.defaults

/**
 * `event_loop_lag_ms`: how late each sample's timer fired (buckets from 1 ms
 * to 10 s). Shared by every monitor in the process.
 *
 * @since 0.1.0
 * @category metrics
 */
export const lagMs: Metric.Metric.Histogram<number> = internal.lagMs

/**
 * `event_loop_blocked_total`: samples over the threshold, warned about or not.
 *
 * @since 0.1.0
 * @category metrics
 */
export const blocked: Metric.Metric.Counter<number> = internal.blocked

/**
 * Starts monitoring in the background until the scope closes. The sampling
 * uses real timers even under a `TestClock`. Dies with a `RangeError` when a
 * setting is not a positive number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const monitor: (options?: Options) => Effect.Effect<void, never, Scope.Scope> = (options = {}) =>
  internal.monitor(options)

/**
 * {@link monitor} for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never> => Layer.scopedDiscard(internal.monitor(options))
