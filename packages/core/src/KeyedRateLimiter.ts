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
   * Overrides the rate of one key (e.g. `1 / crawlDelaySeconds`); `burst`
   * defaults to the limiter's burst. Tokens already consumed stay consumed,
   * converted to the new rate. An override keeps the key tracked (and
   * counted by `size`) until it is set back to the key's configured rate and
   * burst, which removes it.
   */
  readonly setRate: (key: K, perSecond: number, burst?: number) => Effect.Effect<void>
  /** A snapshot of one key, for metrics. */
  readonly state: (key: K) => State
  /**
   * The number of keys holding state: a recent start, a pause in the future,
   * an override or waiters. Sweeps idle keys first, so it costs O(keys): for
   * tests and metrics, not for the request path.
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
}

/**
 * A snapshot of one key of a {@link KeyedRateLimiter}.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly perSecond: number
  readonly burst: number
  /**
   * The earliest time (epoch ms, on the limiter's clock) the key may start
   * its next request, counting pauses; queued waiters go first. Now, when the
   * key could start at once.
   */
  readonly nextAllowedAt: number
  /** Fibers queued on this key. */
  readonly waiting: number
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
}

/**
 * The defect raised on misuse: a rate that is not above 0, a burst that is
 * not a positive integer, or a pause time that is NaN.
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
 *   // robots.txt says Crawl-delay: 10
 *   yield* perHost.setRate("slow.example", 1 / 10)
 *   // the server answered 429 with Retry-After: 30
 *   yield* perHost.pauseUntil("api.example", Date.now() + 30_000)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <K = string>(options: Options<K>) => Effect.Effect<KeyedRateLimiter<K>> = internal.make
