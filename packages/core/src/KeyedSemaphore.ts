/**
 * Counting semaphores per key, created on first use and dropped as soon as a
 * key is idle: "at most N requests in flight per host" for any number of
 * hosts.
 *
 * Each key has its own limit and its own strict FIFO queue: a release hands
 * the permit straight to the longest-waiting fiber, and a new caller never
 * takes a permit past a queued one. An optional `total` caps the permits held
 * across all keys ("at most 256 requests in flight, at most 4 per host");
 * keys waiting for that shared capacity are served round-robin, one grant per
 * key per turn, so a hot key with ten thousand waiters cannot starve a key
 * with one (the fairness of Effect's experimental `PartitionedSemaphore`,
 * with per-key limits and FIFO on top). Taking a free permit is synchronous (no
 * fiber suspension). A key with nothing held and nobody waiting is idle:
 * `size()` stops counting it at once, and its memory is reclaimed by a sweep
 * that runs when idle keys outnumber live ones (O(1) amortised), so a million
 * hosts used once leave nothing behind. Keeping idle keys until the sweep
 * makes reusing a key a plain lookup rather than an allocation, a `Map.set`
 * and a `Map.delete`.
 *
 * Keys are compared like `Map` keys (SameValueZero): use strings or numbers,
 * or stable object references.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedSemaphore } from "@fiberkit/core"
 *
 * const program = Effect.gen(function*() {
 *   const perHost = yield* KeyedSemaphore.make<string>({ permits: 4 })
 *   const fetchPage = (host: string, path: string) =>
 *     Effect.succeed(`${host}${path}`).pipe(perHost.withPermit(host))
 *   return yield* Effect.forEach(["/a", "/b"], (p) => fetchPage("example.com", p), { concurrency: 8 })
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/keyedSemaphore.js"

/**
 * A family of counting semaphores, one per key.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedSemaphore<K = string> {
  /**
   * Runs the effect holding one permit of `key`, waiting for it in FIFO order
   * first. The permit is released when the effect ends, whether it succeeds,
   * fails or is interrupted.
   */
  readonly withPermit: (key: K) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Like `withPermit`, holding `n` permits. Dies with a `KeyedSemaphoreError`
   * if `n` exceeds the key's limit (it could never be granted).
   */
  readonly withPermits: (key: K, n: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Low level: waits for `n` permits (default 1) and keeps them until
   * `release`. Waiting is interruptible when called from an interruptible
   * region, and an interrupted waiter never keeps a permit, even one that was
   * handed to it as it was being interrupted. Once `take` has succeeded the
   * caller owns the permits: use `withPermit`, or `Effect.acquireRelease`,
   * rather than pairing `take` and `release` by hand.
   */
  readonly take: (key: K, n?: number) => Effect.Effect<void>
  /** Low level: returns `n` permits (default 1) taken with `take`. Dies if fewer are held. */
  readonly release: (key: K, n?: number) => Effect.Effect<void>
  /** The limit of `key`: the number of permits it can hand out at once. */
  readonly permitsFor: (key: K) => number
  /** A snapshot of one key, for metrics. */
  readonly state: (key: K) => State
  /** A snapshot of the shared total, for metrics. O(1). */
  readonly totalState: () => TotalState
  /** The number of keys currently tracked: holding permits or with waiters. O(1). */
  readonly size: () => number
  /**
   * Low level, for callback-driven hot paths outside the fiber runtime (the
   * HTTP engine takes its permits inside undici callbacks): takes one permit
   * of `key` now if that passes no queued waiter (of the key, or, with a
   * `total`, of any key waiting for it). Counts against the `total` like
   * `take`. Pair with `unsafeRelease`.
   */
  readonly unsafeTake: (key: K) => boolean
  /**
   * Low level: queues for one permit of `key`, taking part in the key's FIFO
   * and in the round-robin for the `total`; `onGranted` runs (synchronously,
   * inside some release) once the permit is held. The returned function
   * withdraws a waiter that has not been granted yet and does nothing after.
   */
  readonly unsafeAwait: (key: K, onGranted: () => void) => () => void
  /** Low level: returns one permit taken with `unsafeTake` or granted by `unsafeAwait`. */
  readonly unsafeRelease: (key: K) => void
}

/**
 * A snapshot of one key of a {@link KeyedSemaphore}.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** Permits currently held, including ones just handed to a waiter that has not resumed yet. */
  readonly inUse: number
  /** Fibers queued for permits. */
  readonly waiting: number
  /** The key's limit. */
  readonly permits: number
}

/**
 * A snapshot of the shared total of a {@link KeyedSemaphore}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TotalState {
  /** Permits held across all keys (counted with or without a `total`). */
  readonly inUse: number
  /** The `total`; `Infinity` when there is none. */
  readonly permits: number
  /** Keys whose next waiter fits the key's own limit and waits only for the total. */
  readonly keysWaiting: number
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<K> {
  /**
   * The limit per key: a positive integer, `Infinity` for no limit, or a
   * function of the key. The function is called when a key starts being
   * tracked, and the result holds until the key has gone idle and been
   * swept; keys it maps to `Infinity` are never tracked.
   */
  readonly permits: number | ((key: K) => number)
  /**
   * A cap on the permits held across all keys: a positive integer, or
   * `Infinity` (the default) for none. When keys compete for it, they are
   * served round-robin; each key's own queue stays FIFO. With a total, every
   * key is tracked (even those whose own limit is `Infinity`), since the
   * round-robin needs them.
   */
  readonly total?: number | undefined
}

/**
 * The defect raised on misuse: an invalid limit, total or permit count, a
 * request for more permits than the key's limit or the total, or a release of
 * permits not held.
 *
 * @since 0.1.0
 * @category errors
 */
export interface KeyedSemaphoreError extends internal.KeyedSemaphoreError {}

/**
 * @since 0.1.0
 * @category errors
 */
export const KeyedSemaphoreError: typeof internal.KeyedSemaphoreError = internal.KeyedSemaphoreError

/**
 * Creates a keyed semaphore. With `permits: Infinity` and no `total` every
 * operation is a no-op that costs nothing (`withPermit(key)` returns its
 * effect unchanged).
 *
 * @example
 * ```ts
 * import { KeyedSemaphore } from "@fiberkit/core"
 *
 * // 2 connections to most hosts, 8 to our own API
 * const perHost = KeyedSemaphore.make<string>({
 *   permits: (host) => (host === "api.internal" ? 8 : 2)
 * })
 *
 * // at most 4 per host and 64 in all, shared fairly between hosts
 * const fair = KeyedSemaphore.make<string>({ permits: 4, total: 64 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <K = string>(options: Options<K>) => Effect.Effect<KeyedSemaphore<K>> = internal.make
