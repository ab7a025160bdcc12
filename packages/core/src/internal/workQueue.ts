import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as WorkQueue from "../WorkQueue.js"

/** @internal */
export class QueueClosed extends Data.TaggedError("QueueClosed")<{
  readonly reason: "draining" | "closed"
}> {
  override get message(): string {
    return this.reason === "draining"
      ? "WorkQueue is draining: it takes no new items once drain has started. Offer before draining, or use a new queue."
      : "WorkQueue is shut down (shutdown, its scope closed, or an onOutcome handler failed): it takes no new items."
  }
}

/**
 * Builds `matchCauseEffect` handlers from two argument closures: tsx runs
 * esbuild with `keepNames`, which wraps closures written as object literal
 * properties in an `Object.defineProperty` call per evaluation.
 */
const handlers = <E, A, A2, E2, R2, A3, E3, R3>(
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>,
  onSuccess: (a: A) => Effect.Effect<A3, E3, R3>
) => ({ onFailure, onSuccess })

const positiveInteger = (name: string, value: number): Cause.IllegalArgumentException | undefined =>
  Number.isInteger(value) && value >= 1
    ? undefined
    : new Cause.IllegalArgumentException(`WorkQueue.make: ${name} is ${value}; pass a positive integer.`)

/**
 * The queue and its workers. Counting: `outstanding` is every item accepted
 * and not yet finished (offers still blocked on a full queue, queued, in
 * flight, outcome being delivered); a drain is complete when it reaches 0.
 *
 * Producers blocked on a full queue do not use the queue's own back-pressure
 * (one suspension and one wake-up of the producer per item, which cost more
 * than the items): they wait until the workers have taken the queue down to
 * half, then refill it synchronously.
 */
class Impl<A, B, E, R, R2> implements WorkQueue.WorkQueue<A> {
  private state: "open" | "draining" | "closed" = "open"
  private outstanding = 0
  /** Items in the queue (or handed to a worker that has not started them). */
  private queued = 0
  private readonly lowWater: number
  /** Producers waiting for the queue to drain to `lowWater`, each holding one item. */
  private roomWaiters: Array<(effect: Effect.Effect<void>) => void> = []
  private inFlight = 0
  private succeeded = 0
  private failed = 0
  private stopping = false
  private crash: Cause.Cause<never> | undefined = undefined
  /** Shared by all items: built once, so no closure is made per item. */
  private readonly afterOutcome: {
    readonly onFailure: (cause: Cause.Cause<never>) => Effect.Effect<void>
    readonly onSuccess: (_: void) => Effect.Effect<void>
  }
  /** One worker's loop. */
  readonly worker: Effect.Effect<never, never, R | R2>

  constructor(
    private readonly queue: Queue.Queue<A>,
    private readonly fibers: FiberSet.FiberSet<never, never>,
    private readonly scope: Scope.Scope,
    /** Completed when a drain has nothing left to wait for, or on shutdown. */
    private readonly idle: Deferred.Deferred<void>,
    /** Completed once the workers have stopped. */
    private readonly stopped: Deferred.Deferred<void>,
    capacity: number,
    private readonly process: (item: A) => Effect.Effect<B, E, R>,
    private readonly onOutcome: ((outcome: WorkQueue.Outcome<A, B, E>) => Effect.Effect<void, never, R2>) | undefined
  ) {
    this.afterOutcome = handlers(
      (cause: Cause.Cause<never>) => this.crashed(cause),
      () => {
        this.settled()
        return Effect.void
      }
    )
    this.worker = Effect.forever(Effect.flatMap(Queue.take(queue), this.run))
    this.lowWater = Math.floor(capacity / 2)
  }

  private readonly run = (item: A): Effect.Effect<void, never, R | R2> => {
    this.queued--
    if (this.roomWaiters.length > 0 && this.queued <= this.lowWater) this.wakeProducers()
    this.inFlight++
    let effect: Effect.Effect<B, E, R>
    // A `process` that throws instead of returning an effect fails its item, not the worker.
    try {
      effect = this.process(item)
    } catch (defect) {
      effect = Effect.die(defect)
    }
    return Effect.flatMap(Effect.exit(effect), (exit) => this.finish(item, exit))
  }

  private finish(item: A, exit: Exit.Exit<B, E>): Effect.Effect<void, never, R2> {
    this.inFlight--
    if (exit._tag === "Success") this.succeeded++
    else this.failed++
    if (this.onOutcome !== undefined) {
      let handled: Effect.Effect<void, never, R2>
      try {
        handled = this.onOutcome({ item, exit })
      } catch (defect) {
        return this.crashed(Cause.die(defect))
      }
      return Effect.matchCauseEffect(handled, this.afterOutcome)
    }
    if (exit._tag === "Success") {
      this.settled()
      return Effect.void
    }
    // With nobody to hand outcomes to, a failure is at least logged (before a drain can return).
    return Effect.zipRight(
      Effect.logWarning("WorkQueue: an item failed (pass onOutcome to handle failures)", exit.cause),
      this.settle
    )
  }

  private readonly settle: Effect.Effect<void> = Effect.sync(() => this.settled())

  private settled(): void {
    this.outstanding--
    if (this.outstanding === 0 && this.state === "draining") Deferred.unsafeDone(this.idle, Exit.void)
  }

  /** `onOutcome` failed: a bug in the caller's handler. Shut everything down and report it. */
  private crashed(cause: Cause.Cause<never>): Effect.Effect<void> {
    if (this.crash === undefined) this.crash = cause
    // Stopping waits for every worker, this one included: run it in another fiber.
    return Effect.zipRight(
      Effect.logError("WorkQueue: onOutcome failed; shutting the queue down", cause),
      Effect.zipRight(Effect.forkIn(this.shutdown, this.scope), Effect.interrupt)
    )
  }

  private closedError(): QueueClosed {
    return new QueueClosed({ reason: this.state === "draining" ? "draining" : "closed" })
  }

  private wakeProducers(): void {
    const waiters = this.roomWaiters
    this.roomWaiters = []
    for (const resume of waiters) resume(Effect.void)
  }

  private readonly waitForRoom: Effect.Effect<void> = Effect.async<void>((resume) => {
    this.roomWaiters.push(resume)
    return Effect.sync(() => {
      const i = this.roomWaiters.indexOf(resume)
      if (i >= 0) this.roomWaiters.splice(i, 1)
    })
  })

  /** `item` is counted in `outstanding` and found the queue full: wait for room, then try again. */
  private offerBlocked(item: A): Effect.Effect<void, QueueClosed> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.matchCauseEffect(
        restore(this.waitForRoom),
        handlers(
          (cause: Cause.Cause<never>) => {
            // Interrupted while waiting: the item never got in.
            this.settled()
            return Effect.failCause(cause)
          },
          () => this.retryOffer(item)
        )
      )
    )
  }

  private retryOffer(item: A): Effect.Effect<void, QueueClosed> {
    // An offer that was waiting when a drain started still gets in; at a shutdown it fails.
    if (this.state === "closed") {
      this.settled()
      return Effect.fail(this.closedError())
    }
    if (this.queue.unsafeOffer(item)) {
      this.queued++
      return Effect.void
    }
    return this.offerBlocked(item)
  }

  private offerFrom(items: Iterator<A>): Effect.Effect<void, QueueClosed> {
    for (;;) {
      const next = items.next()
      if (next.done === true) return Effect.void
      if (this.state !== "open") {
        // Let a generator run its `finally` blocks: the rest of it will not be read.
        items.return?.()
        return Effect.fail(this.closedError())
      }
      this.outstanding++
      if (!this.queue.unsafeOffer(next.value)) {
        return Effect.flatMap(this.offerBlocked(next.value), () => this.offerFrom(items))
      }
      this.queued++
    }
  }

  readonly offer = (item: A): Effect.Effect<void, QueueClosed> =>
    Effect.suspend(() => {
      if (this.state !== "open") return Effect.fail(this.closedError())
      this.outstanding++
      if (!this.queue.unsafeOffer(item)) return this.offerBlocked(item)
      this.queued++
      return Effect.void
    })

  readonly offerAll = (items: Iterable<A>): Effect.Effect<void, QueueClosed> =>
    Effect.suspend(() => this.offerFrom(items[Symbol.iterator]()))

  /** Stops the workers once: shuts the queue (dropping what is queued, failing blocked offers) and interrupts them. */
  private stop(): Effect.Effect<void> {
    if (this.stopping) return Deferred.await(this.stopped)
    this.stopping = true
    this.state = "closed"
    // Waiting producers see the closed state and fail with QueueClosed.
    this.wakeProducers()
    return Queue.shutdown(this.queue).pipe(
      Effect.zipRight(FiberSet.clear(this.fibers)),
      Effect.zipRight(
        Effect.sync(() => {
          this.inFlight = 0
          this.queued = 0
          Deferred.unsafeDone(this.idle, Exit.void)
          Deferred.unsafeDone(this.stopped, Exit.void)
        })
      ),
      Effect.uninterruptible
    )
  }

  private reportCrash(): Effect.Effect<void> {
    return this.crash === undefined ? Effect.void : Effect.failCause(this.crash)
  }

  readonly drain: Effect.Effect<void> = Effect.suspend(() => {
    if (this.state === "open") {
      this.state = "draining"
      if (this.outstanding === 0) Deferred.unsafeDone(this.idle, Exit.void)
    }
    return Deferred.await(this.idle).pipe(
      Effect.zipRight(Effect.suspend(() => this.stop())),
      Effect.zipRight(Effect.suspend(() => this.reportCrash()))
    )
  })

  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.state = "closed"
    return this.stop()
  })

  readonly stats = (): WorkQueue.Stats => {
    return {
      state: this.state,
      queued: this.queued + this.roomWaiters.length,
      inFlight: this.inFlight,
      succeeded: this.succeeded,
      failed: this.failed
    }
  }
}

/** @internal */
export const make = <A, B, E, R, R2 = never>(
  options: WorkQueue.Options<A, B, E, R, R2>
): Effect.Effect<WorkQueue.WorkQueue<A>, never, R | R2 | Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = positiveInteger("capacity", options.capacity) ?? positiveInteger("workers", options.workers)
    if (invalid !== undefined) return yield* Effect.die(invalid)
    const scope = yield* Effect.scope
    const queue = yield* Queue.bounded<A>(options.capacity)
    const fibers = yield* FiberSet.make<never, never>()
    const impl = new Impl<A, B, E, R, R2>(
      queue,
      fibers,
      scope,
      yield* Deferred.make<void>(),
      yield* Deferred.make<void>(),
      options.capacity,
      options.process,
      options.onOutcome
    )
    // Added after the FiberSet, so it runs before the set's own finalizer: queued items are
    // dropped and blocked offers released before the workers are interrupted.
    yield* Effect.addFinalizer(() => impl.shutdown)
    for (let i = 0; i < options.workers; i++) yield* FiberSet.run(fibers, impl.worker)
    return impl
  })

/**
 * Outcomes between a stage's workers and its consumer. Effect's `Queue`
 * wakes a waiting consumer once per item, which costs more than a small
 * item; here the consumer takes everything buffered as one chunk, so it wakes
 * once per batch. Workers wait when `capacity` outcomes are buffered, until
 * the consumer takes them.
 */
class Outbox<T, E1> {
  private buffer: Array<T> = []
  private consumer: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private roomWaiters: Array<(effect: Effect.Effect<void>) => void> = []
  private end: Exit.Exit<void, E1> | undefined = undefined

  constructor(private readonly capacity: number) {}

  /** Called by a worker when it has an outcome to hand on: evaluated right when the worker runs it. */
  put(item: T): Effect.Effect<void> {
    if (this.buffer.length < this.capacity) {
      this.buffer.push(item)
      const consumer = this.consumer
      if (consumer !== undefined) {
        this.consumer = undefined
        consumer(Effect.void)
      }
      return Effect.void
    }
    return Effect.flatMap(this.waitForRoom, () => this.put(item))
  }

  /** No more outcomes: the stream ends (after the buffered ones) with `exit`. */
  finish(exit: Exit.Exit<void, E1>): void {
    this.end = exit
    const consumer = this.consumer
    if (consumer !== undefined) {
      this.consumer = undefined
      consumer(Effect.void)
    }
  }

  private readonly waitForRoom: Effect.Effect<void> = Effect.async<void>((resume) => {
    this.roomWaiters.push(resume)
    return Effect.sync(() => {
      const i = this.roomWaiters.indexOf(resume)
      if (i >= 0) this.roomWaiters.splice(i, 1)
    })
  })

  private readonly waitForItems: Effect.Effect<void> = Effect.async<void>((resume) => {
    this.consumer = resume
    return Effect.sync(() => {
      if (this.consumer === resume) this.consumer = undefined
    })
  })

  /** Everything buffered, waiting if there is nothing; fails with `None` at the end. */
  readonly pull: Effect.Effect<Chunk.Chunk<T>, Option.Option<E1>> = Effect.suspend(() => {
    if (this.buffer.length > 0) {
      const chunk = Chunk.unsafeFromArray(this.buffer)
      this.buffer = []
      const waiters = this.roomWaiters
      this.roomWaiters = []
      for (const resume of waiters) resume(Effect.void)
      return Effect.succeed(chunk)
    }
    const end = this.end
    if (end !== undefined) {
      return end._tag === "Success" ? Effect.fail(Option.none()) : Effect.failCause(Cause.map(end.cause, Option.some))
    }
    return Effect.zipRight(this.waitForItems, this.pull)
  })
}

/** @internal */
export const stage = <A, E1, R1, B, E, R>(
  self: Stream.Stream<A, E1, R1>,
  process: (item: A) => Effect.Effect<B, E, R>,
  options: WorkQueue.StageOptions
): Stream.Stream<WorkQueue.Outcome<A, B, E>, E1, R | R1> => {
  const invalid = positiveInteger("capacity", options.capacity) ?? positiveInteger("workers", options.workers)
  if (invalid !== undefined) return Stream.die(invalid)
  return Stream.unwrapScoped(
    Effect.gen(function*() {
      const outbox = new Outbox<WorkQueue.Outcome<A, B, E>, E1>(options.capacity)
      // The input queue only keeps the next item ready for each worker; `capacity` is the output buffer.
      const queue = yield* make({
        capacity: options.workers,
        workers: options.workers,
        process,
        onOutcome: (outcome: WorkQueue.Outcome<A, B, E>) => outbox.put(outcome)
      })
      // The queue is closed only when this scope closes, after this fiber (forked later) is interrupted.
      const feed = Stream.runForEach(self, (item) => Effect.orDie(queue.offer(item)))
      yield* Effect.forkScoped(
        Effect.matchCauseEffect(
          feed,
          handlers(
            (cause: Cause.Cause<E1>) => Effect.sync(() => outbox.finish(Exit.failCause(cause))),
            () => Effect.zipRight(queue.drain, Effect.sync(() => outbox.finish(Exit.void)))
          )
        )
      )
      return Stream.repeatEffectChunkOption(outbox.pull)
    })
  )
}
