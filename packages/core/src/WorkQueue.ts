/**
 * A bounded queue in front of N workers: producers `offer` items and wait
 * when the queue is full (back-pressure), workers run `process` on each item,
 * and every item ends in its own typed outcome — a failure is that item's
 * outcome, not the end of the queue. The collector / processor pattern of
 * the asyncio guides, on Effect's `Queue.bounded` and a `FiberSet` of
 * workers.
 *
 * Ending it, two ways:
 * - `drain`: stop accepting (later offers fail with `QueueClosed`), finish
 *   everything queued and in flight, deliver every outcome, stop the workers.
 * - `shutdown`, or closing the scope the queue was made in (including by
 *   interruption): stop at once. Items in flight are interrupted and their
 *   finalizers run before `shutdown` returns; queued items are dropped; offers
 *   blocked on a full queue fail with `QueueClosed`.
 *
 * Outcomes go to `onOutcome`, run by the worker after each item, so a slow
 * handler slows the workers (back-pressure reaches the producers). Chain
 * queues (a → b → c) by offering from one queue's `onOutcome` to the next,
 * and drain them in order; or, for a stream of items, use {@link stage}, a
 * work queue between two streams.
 *
 * @example
 * ```ts
 * import { Effect, Exit } from "effect"
 * import { WorkQueue } from "@fiberkit/core"
 *
 * declare const fetchPage: (url: string) => Effect.Effect<string, Error>
 * declare const urls: ReadonlyArray<string>
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pages = yield* WorkQueue.make({
 *     capacity: 100,
 *     workers: 8,
 *     process: fetchPage,
 *     onOutcome: ({ item, exit }) =>
 *       Exit.isSuccess(exit) ? Effect.log(`${item}: ${exit.value.length} bytes`) : Effect.log(`${item} failed`)
 *   })
 *   yield* pages.offerAll(urls)
 *   yield* pages.drain
 * }))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/workQueue.js"

/**
 * A running work queue taking items of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkQueue<A> {
  /**
   * Adds one item, waiting while the queue is full. Fails with
   * `QueueClosed` once a drain or shutdown has started; an offer already
   * waiting when a drain starts still gets in, one waiting at a shutdown
   * fails. Producers blocked on a full queue are released together once the
   * workers have taken it down to half its capacity, and refill it without
   * suspending: waking a producer fiber per item would cost more than most
   * items.
   */
  readonly offer: (item: A) => Effect.Effect<void, QueueClosed>
  /** Offers the items one after another, each waiting for room; stops at the first `QueueClosed`. */
  readonly offerAll: (items: Iterable<A>) => Effect.Effect<void, QueueClosed>
  /**
   * Stops accepting, waits until every accepted item has been processed and
   * its outcome delivered, then stops the workers. Dies with the defect if an
   * `onOutcome` handler failed. Idempotent.
   */
  readonly drain: Effect.Effect<void>
  /**
   * Stops at once: drops queued items, fails blocked offers with
   * `QueueClosed`, interrupts the items in flight and waits for their
   * finalizers. Their outcomes are not delivered. Idempotent; also what
   * closing the queue's scope does.
   */
  readonly shutdown: Effect.Effect<void>
  /** A snapshot for metrics. O(1). */
  readonly stats: () => Stats
}

/**
 * The outcome of one item: the item and the `Exit` of `process` on it
 * (success, typed failure or defect).
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome<A, B, E> {
  readonly item: A
  readonly exit: Exit.Exit<B, E>
}

/**
 * A snapshot of a {@link WorkQueue}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** `open`; `draining` once `drain` started; `closed` once the workers are stopping or stopped. */
  readonly state: "open" | "draining" | "closed"
  /** Items waiting for a worker, including offers blocked on a full queue. */
  readonly queued: number
  /** Items being processed or having their outcome delivered. */
  readonly inFlight: number
  /** Items whose `process` succeeded. */
  readonly succeeded: number
  /** Items whose `process` failed (typed failure, defect or its own interruption). */
  readonly failed: number
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, B, E, R, R2> {
  /** Items the queue holds besides those in flight; a full queue makes `offer` wait. A positive integer. */
  readonly capacity: number
  /** Items processed at once: the number of worker fibers. A positive integer. */
  readonly workers: number
  /** The work for one item. Its failure is the item's outcome; it does not stop the queue. */
  readonly process: (item: A) => Effect.Effect<B, E, R>
  /**
   * Receives each item's outcome, in the worker, before it takes its next
   * item. Must not fail: a defect here is a bug, and shuts the queue down
   * (logged, and `drain` dies with it). Without it, failed items are logged
   * at Warning level and counted in `stats`.
   */
  readonly onOutcome?: ((outcome: Outcome<A, B, E>) => Effect.Effect<void, never, R2>) | undefined
}

/**
 * The failure of an offer to a queue that has stopped accepting: `draining`
 * after `drain`, `closed` after `shutdown` or the scope's end.
 *
 * @since 0.1.0
 * @category errors
 */
export interface QueueClosed extends internal.QueueClosed {}

/**
 * @since 0.1.0
 * @category errors
 */
export const QueueClosed: typeof internal.QueueClosed = internal.QueueClosed

/**
 * Starts a work queue and its workers in the current scope; closing the
 * scope shuts it down (see {@link WorkQueue.shutdown}). Dies with an
 * `IllegalArgumentException` if `capacity` or `workers` is not a positive
 * integer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, B, E, R, R2 = never>(
  options: Options<A, B, E, R, R2>
) => Effect.Effect<WorkQueue<A>, never, R | R2 | Scope.Scope> = internal.make

/**
 * Options of {@link stage}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StageOptions {
  /** Items processed at once. A positive integer. */
  readonly workers: number
  /**
   * Outcomes buffered for the next stage; when the buffer is full the
   * workers wait, and the stage stops pulling. The next stage takes the whole
   * buffer as one chunk, so with a slow consumer up to twice this many
   * outcomes sit between the workers and it. A positive integer.
   */
  readonly capacity: number
}

/**
 * One stage of a stream pipeline: a {@link WorkQueue} of `workers` fed from
 * the stream, emitting each element's {@link Outcome} as it completes (not in
 * input order), with up to `capacity` outcomes buffered for the next stage,
 * which takes whatever is buffered as one chunk.
 * Back-pressure runs through: a slow consumer fills the buffer, the workers
 * wait, and the stage stops pulling. An upstream failure ends the stream with
 * that failure; a consumer that stops early (`Stream.take`, interruption)
 * shuts the stage down, interrupting items in flight.
 *
 * The one-liner `Stream.mapEffect(f, { concurrency, unordered: true })` does
 * the same job, at about twenty times the cost per element (it merges a
 * sub-stream per element). For outcomes in input order use
 * `Stream.mapEffect(f, { concurrency })`, which lets a slow element hold back
 * the ones after it.
 *
 * @example
 * ```ts
 * import { Effect, Exit, Option, Stream } from "effect"
 * import { WorkQueue } from "@fiberkit/core"
 *
 * declare const fetchPage: (url: string) => Effect.Effect<string, Error>
 * declare const parse: (html: string) => Effect.Effect<ReadonlyArray<string>, Error>
 * declare const urls: ReadonlyArray<string>
 *
 * const value = <A, B, E>({ exit }: WorkQueue.Outcome<A, B, E>) =>
 *   Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none()
 *
 * // fetch (8 at once) -> parse (2 at once) -> collect, with bounded buffers between
 * const links = Stream.fromIterable(urls).pipe(
 *   WorkQueue.stage(fetchPage, { workers: 8, capacity: 32 }),
 *   Stream.filterMap(value),
 *   WorkQueue.stage(parse, { workers: 2, capacity: 32 }),
 *   Stream.filterMap(value),
 *   Stream.runCollect
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const stage: {
  <A, B, E, R>(
    process: (item: A) => Effect.Effect<B, E, R>,
    options: StageOptions
  ): <E1, R1>(self: Stream.Stream<A, E1, R1>) => Stream.Stream<Outcome<A, B, E>, E1, R | R1>
  <A, E1, R1, B, E, R>(
    self: Stream.Stream<A, E1, R1>,
    process: (item: A) => Effect.Effect<B, E, R>,
    options: StageOptions
  ): Stream.Stream<Outcome<A, B, E>, E1, R | R1>
} = dual(3, internal.stage)
