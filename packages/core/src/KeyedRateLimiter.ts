/**
 * Request-rate limits per key: "at most r starts per second per host, with a
 * burst of b", for any number of hosts, plus per-key pauses (Retry-After,
 * Crawl-delay floors) and per-key rate overrides.
 *
 * Semantics are GCRA (a token bucket of `burst` tokens refilled at
 * `perSecond`): over any window of length T a key starts at most
 * `burst + T × perSecond` requests. It limits starts, not concurrency; pair it
 * with a `KeyedSemaphore` for that. Waiting is FIFO per key and nothing is
 * reserved ahead of time: the head of a key's queue sleeps until the key's
 * next allowed time, then starts, so a pause or a rate change made while
 * fibers wait applies to all of them (a raised rate at once: the sleeping
 * head is woken), and a waiter interrupted while queued gives its turn back.
 *
 * Adaptive mode (`adaptive` option): report each 429/503 with `onThrottled`
 * and each good response with `onSuccess`, and the key's rate follows the
 * server — multiplicative decrease on throttling (at most once per interval),
 * additive increase back towards the configured rate on success (AIMD, as TCP
 * does). Retry-After pauses the key; a floor (`setFloor`, robots
 * Crawl-delay) keeps it from ever going faster than one start per floor.
 * `state(key)` shows the current and configured rate, the floor, the pause and
 * the counts, for metrics.
 *
 * Time comes from the `Clock` in the environment where the limiter is made
 * (so `TestClock` drives it in tests). Keys are compared like `Map` keys.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedRateLimiter } from "@fiberkit/core"
 *
 * const program = Effect.gen(function*() {
 *   const perHost = yield* KeyedRateLimiter.make<string>({ perSecond: 2, burst: 1 })
 *   // starts at 0 ms, 500 ms, 1000 ms
 *   yield* Effect.forEach([1, 2, 3], (i) => Effect.log(`request ${i}`).pipe(perHost.withToken("example.com")))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/keyedRateLimiter.js"

/**
 * A family of rate limits, one per key.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedRateLimiter<K = string> {
  /**
   * Waits until `key` may start one more request, then counts that start.
   * FIFO per key; interruptible while waiting. A waiter interrupted while
   * queued leaves no trace (nothing is reserved). One interrupted in the
   * instant after the queue's head started it, before its fiber ran, has its
   * start undone if no later start was counted since; otherwise that slot is
   * spent. Either way the key never starts more than its rate allows.
   */
  readonly take: (key: K) => Effect.Effect<void>
  /**
   * `take`, then runs the effect. Nothing is held while the effect runs: the
   * limit is on starts. The decision is made each time the effect runs, so a
   * retried effect is limited (and paused) again.
   */
  readonly withToken: (key: K) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * No request of `key` starts before `epochMillis` (on the limiter's clock).
   * Never shortens an existing pause; a time in the past does nothing. The
   * rate still applies after the pause: one start at the end of it (plus any
   * burst the bucket refilled in the meantime), the rest spaced by the rate.
   */
  readonly pauseUntil: (key: K, epochMillis: number) => Effect.Effect<void>
  /**
   * Overrides the configured rate of one key (an API's documented quota);
   * `burst` defaults to the limiter's burst. Tokens already consumed stay
   * consumed, converted to the new rate. An override keeps the key tracked
   * (and counted by `size`) until it is set back to the key's configured rate
   * and burst, which removes it. It is also the rate an adaptive key recovers
   * to. For a robots.txt Crawl-delay, `setFloor` only ever slows a key down.
   */
  readonly setRate: (key: K, perSecond: number, burst?: number) => Effect.Effect<void>
  /**
   * Keeps at least `floorMs` between two starts of `key` (robots.txt
   * `Crawl-delay: s` is `s × 1000`), whatever its configured or adapted
   * rate; `0` removes the floor. A floor keeps the key tracked.
   */
  readonly setFloor: (key: K, floorMs: number) => Effect.Effect<void>
  /**
   * Reports that the server throttled `key` (a 429 or 503). Pauses the key
   * for `retryAfterMs` if given (never shortening a pause), and, in adaptive
   * mode, multiplies its rate by `adaptive.decrease`. Signals that arrive
   * before the key has started a request at the decreased rate, or within
   * one interval of the last decrease, belong to the same event and do not
   * decrease it again (responses to requests already in flight).
   */
  readonly onThrottled: (key: K, options?: { readonly retryAfterMs?: number | undefined }) => Effect.Effect<void>
  /**
   * Reports a good response from `key`. In adaptive mode, a slowed key gets
   * `adaptive.increase` starts per second back, up to its configured rate
   * (or floor), where it counts as recovered. Otherwise a no-op. O(1).
   */
  readonly onSuccess: (key: K) => Effect.Effect<void>
  /** A snapshot of one key, for metrics. */
  readonly state: (key: K) => State
  /**
   * The number of keys holding state: a recent start, a pause in the future,
   * an override, a floor, a slowed rate or waiters. Sweeps idle keys first, so
   * it costs O(keys): for tests and metrics, not for the request path.
   */
  readonly size: () => number
  /**
   * Low level, for callback-driven hot paths: starts one request for `key`
   * now if the rate allows it and nobody is queued, returning `0`; otherwise
   * returns the milliseconds until the key may start (nothing is reserved:
   * call again then).
   */
  readonly unsafeTryStart: (key: K) => number
  /** Low level: milliseconds until `key` may start, without starting anything. */
  readonly unsafeWaitTime: (key: K) => number
  /** Low level `onThrottled`, for callback-driven hot paths. Throws the defect `onThrottled` would die with. */
  readonly unsafeOnThrottled: (key: K, retryAfterMs?: number) => void
  /** Low level `onSuccess`, for callback-driven hot paths. */
  readonly unsafeOnSuccess: (key: K) => void
}

/**
 * A snapshot of one key of a {@link KeyedRateLimiter}.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** The rate in force: the lowest of the configured rate, the adapted rate and the floor. */
  readonly perSecond: number
  /** The rate the key recovers to: the limiter's rate for it, or a `setRate` override. */
  readonly configuredPerSecond: number
  readonly burst: number
  /** The minimum spacing between starts set by `setFloor`; 0 for none. */
  readonly floorMs: number
  /**
   * The earliest time (epoch ms, on the limiter's clock) the key may start
   * its next request, counting pauses; queued waiters go first. Now, when the
   * key could start at once.
   */
  readonly nextAllowedAt: number
  /** The end of a pause still in force (epoch ms), from `pauseUntil` or a Retry-After. */
  readonly pausedUntil: number | undefined
  /** Fibers queued on this key. */
  readonly waiting: number
  /**
   * `onThrottled` signals while the key held state (in adaptive mode: since
   * it was last at full rate). Forgotten with the key.
   */
  readonly throttles: number
  /** In adaptive mode, `onSuccess` signals since the key was last at full rate. */
  readonly successes: number
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<K> {
  /**
   * Starts per second per key: a number above 0, `Infinity` for no limit, or
   * a function of the key (called when a key starts being tracked).
   */
  readonly perSecond: number | ((key: K) => number)
  /**
   * Starts a key may make back to back after being idle; default 1. With a
   * millisecond clock, keep `burst >= perSecond / 1000` for rates above
   * 1000/s, or timer granularity lowers the rate you actually get.
   */
  readonly burst?: number
  /** Turns on adaptive rates (AIMD driven by `onThrottled` / `onSuccess`). */
  readonly adaptive?: AdaptiveOptions | undefined
}

/**
 * Settings of the adaptive mode of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdaptiveOptions {
  /** The factor a throttle signal multiplies the key's rate by, between 0 and 1. Default 0.5. */
  readonly decrease?: number | undefined
  /**
   * Starts per second a slowed key gets back per success. Default a tenth of
   * the key's configured rate (ten successes undo one halving from full).
   */
  readonly increase?: number | undefined
  /** The slowest decreases alone make a key, in starts per second. Default 1/60 (one a minute). */
  readonly min?: number | undefined
  /**
   * The rate a throttled key with no configured limit (`perSecond:
   * Infinity`) is treated as running at, and recovers to before it is
   * unlimited again. Default `Infinity`: such keys are only paused.
   */
  readonly max?: number | undefined
  /**
   * A slowed key that starts nothing and is not throttled for this long is
   * forgotten and starts over at its configured rate, so slowed keys do not
   * pile up in memory. Default 10 minutes.
   */
  readonly forgetAfter?: Duration.DurationInput | undefined
}

/**
 * The defect raised on misuse: a rate that is not above 0, a burst that is
 * not a positive integer, a pause time that is NaN or negative, an invalid
 * floor or adaptive setting.
 *
 * @since 0.1.0
 * @category errors
 */
export interface KeyedRateLimiterError extends internal.KeyedRateLimiterError {}

/**
 * @since 0.1.0
 * @category errors
 */
export const KeyedRateLimiterError: typeof internal.KeyedRateLimiterError = internal.KeyedRateLimiterError

/**
 * Creates a keyed rate limiter. It needs no `Scope`: there is no background
 * fiber; idle keys are swept as new keys arrive (O(1) amortised). With
 * `perSecond: Infinity` and no pause or override set, `take` does no work
 * beyond one check.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedRateLimiter } from "@fiberkit/core"
 *
 * const program = Effect.gen(function*() {
 *   const perHost = yield* KeyedRateLimiter.make<string>({ perSecond: 5, burst: 2 })
 *   // this API allows 1 request per second
 *   yield* perHost.setRate("api.example", 1)
 *   // robots.txt says Crawl-delay: 10
 *   yield* perHost.setFloor("slow.example", 10_000)
 *   // the server answered 429 with Retry-After: 30
 *   yield* perHost.pauseUntil("api.example", Date.now() + 30_000)
 * })
 *
 * const adaptive = Effect.gen(function*() {
 *   const perHost = yield* KeyedRateLimiter.make<string>({
 *     perSecond: 8,
 *     adaptive: { decrease: 0.5, increase: 1, min: 0.5 }
 *   })
 *   yield* perHost.setFloor("slow.example", 2_000) // Crawl-delay: 2
 *   yield* perHost.onThrottled("api.example", { retryAfterMs: 5_000 }) // 8/s -> 4/s, paused 5 s
 *   yield* perHost.onSuccess("api.example") // 4/s -> 5/s
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <K = string>(options: Options<K>) => Effect.Effect<KeyedRateLimiter<K>> = internal.make
