import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as WorkQueue from "../src/WorkQueue.js"

/** Yields until `condition` holds: forked fibers and workers start asynchronously. */
const awaitTrue = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (condition()) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`never saw: ${what}`)
  })

/** Per-item gates: `process` waits on the item's gate, the test opens them. */
const makeGates = () =>
  Effect.gen(function*() {
    const gates = new Map<number, Deferred.Deferred<void>>()
    const gate = (item: number) =>
      Effect.gen(function*() {
        const existing = gates.get(item)
        if (existing !== undefined) return existing
        const created = yield* Deferred.make<void>()
        gates.set(item, created)
        return created
      })
    return {
      wait: (item: number) => Effect.flatMap(gate(item), Deferred.await),
      open: (item: number) => Effect.flatMap(gate(item), (d) => Deferred.succeed(d, undefined))
    }
  })

const describeExit = <A, E>(exit: Exit.Exit<A, E>): string =>
  Exit.match(exit, {
    onSuccess: (a) => `ok ${String(a)}`,
    onFailure: (cause) =>
      Cause.isInterruptedOnly(cause)
        ? "interrupted"
        : Option.match(Cause.failureOption(cause), {
          onSome: (e) => `fail ${String(e)}`,
          onNone: () => `die ${String(Cause.squash(cause))}`
        })
  })

describe("WorkQueue", () => {
  it.scoped("processes every item with `workers` at once; each item gets its own typed outcome", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const outcomes: Array<WorkQueue.Outcome<number, number, string>> = []
      const queue = yield* WorkQueue.make({
        capacity: 4,
        workers: 3,
        process: (item: number) =>
          Effect.acquireUseRelease(
            Effect.sync(() => (peak = Math.max(peak, ++running))),
            () =>
              Effect.zipRight(
                Effect.sleep(100),
                item % 5 === 0 ? Effect.fail(`bad ${item}`) : Effect.succeed(item * 2)
              ),
            () => Effect.sync(() => running--)
          ),
        onOutcome: (outcome) => Effect.sync(() => outcomes.push(outcome))
      })
      const fiber = yield* Effect.fork(
        Effect.zipRight(queue.offerAll(Array.from({ length: 20 }, (_, i) => i + 1)), queue.drain)
      )
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(fiber)
      expect(outcomes.map((o) => o.item).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      for (const { exit, item } of outcomes) {
        expect(exit).toEqual(item % 5 === 0 ? Exit.fail(`bad ${item}`) : Exit.succeed(item * 2))
      }
      expect(peak).toBe(3)
      expect(queue.stats()).toEqual({ state: "closed", queued: 0, inFlight: 0, succeeded: 16, failed: 4 })
    }))

  it.scoped("a full queue makes offer wait until a worker takes an item (back-pressure)", () =>
    Effect.gen(function*() {
      const gates = yield* makeGates()
      const queue = yield* WorkQueue.make({ capacity: 2, workers: 1, process: gates.wait })
      yield* queue.offer(1)
      yield* awaitTrue(() => queue.stats().inFlight === 1, "item 1 in flight")
      yield* queue.offerAll([2, 3])
      const blocked = yield* Effect.fork(queue.offer(4))
      yield* awaitTrue(() => queue.stats().queued === 3, "offer 4 blocked")
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(blocked.unsafePoll()).toBeNull()
      yield* gates.open(1)
      yield* Fiber.join(blocked)
      expect(queue.stats()).toMatchObject({ queued: 2, inFlight: 1, succeeded: 1 })
    }))

  it.scoped("blocked producers wait until the queue is down to half, then refill it in one go", () =>
    Effect.gen(function*() {
      const gates = yield* makeGates()
      const queue = yield* WorkQueue.make({ capacity: 4, workers: 1, process: gates.wait })
      yield* queue.offer(1)
      yield* awaitTrue(() => queue.stats().inFlight === 1, "item 1 in flight")
      yield* queue.offerAll([2, 3, 4, 5])
      const producer = yield* Effect.fork(queue.offerAll([6, 7, 8]))
      yield* awaitTrue(() => queue.stats().queued === 5, "the producer blocked on item 6")
      // One item taken leaves 3 queued, above half: the producer stays blocked.
      yield* gates.open(1)
      yield* awaitTrue(() => queue.stats().succeeded === 1, "item 1 done")
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      expect(queue.stats()).toMatchObject({ queued: 3 + 1, inFlight: 1 })
      // Down to 2 (half): the producer refills to 4 and blocks again on item 8.
      yield* gates.open(2)
      yield* awaitTrue(() => queue.stats().queued === 4 + 1, "refilled with 6 and 7, blocked on 8")
      for (const item of [3, 4, 5, 6, 7, 8]) yield* gates.open(item)
      yield* Fiber.join(producer)
      yield* queue.drain
      expect(queue.stats()).toMatchObject({ succeeded: 8, queued: 0 })
    }))

  it.scoped("an offer interrupted while blocked leaves nothing behind", () =>
    Effect.gen(function*() {
      const gates = yield* makeGates()
      const done: Array<number> = []
      const queue = yield* WorkQueue.make({
        capacity: 1,
        workers: 1,
        process: (item: number) => Effect.as(gates.wait(item), item),
        onOutcome: ({ item }) => Effect.sync(() => done.push(item))
      })
      yield* queue.offer(1)
      yield* awaitTrue(() => queue.stats().inFlight === 1, "item 1 in flight")
      yield* queue.offer(2)
      const blocked = yield* Effect.fork(queue.offer(3))
      yield* awaitTrue(() => queue.stats().queued === 2, "offer 3 blocked")
      yield* Fiber.interrupt(blocked)
      expect(queue.stats().queued).toBe(1)
      yield* gates.open(1)
      yield* gates.open(2)
      // The drain completes: the interrupted offer is not waited for.
      yield* queue.drain
      expect(done).toEqual([1, 2])
    }))

  it.scoped("drain: stops accepting, finishes queued and in-flight items, delivers every outcome", () =>
    Effect.gen(function*() {
      const gates = yield* makeGates()
      const outcomes: Array<string> = []
      const queue = yield* WorkQueue.make({
        capacity: 2,
        workers: 1,
        process: (item: number) => Effect.as(gates.wait(item), item),
        onOutcome: ({ exit }) => Effect.sync(() => outcomes.push(describeExit(exit)))
      })
      yield* queue.offerAll([1, 2, 3])
      yield* awaitTrue(() => queue.stats().inFlight === 1, "item 1 in flight")
      // Item 4 waits for room; it was offered before the drain, so it is accepted.
      const early = yield* Effect.fork(queue.offer(4))
      yield* awaitTrue(() => queue.stats().queued === 3, "offer 4 blocked")
      const draining = yield* Effect.fork(queue.drain)
      yield* awaitTrue(() => queue.stats().state === "draining", "draining")
      const late = yield* Effect.flip(queue.offer(5))
      expect(late).toBeInstanceOf(WorkQueue.QueueClosed)
      expect(late.reason).toBe("draining")
      expect(late.message).toContain("draining")
      for (const item of [1, 2, 3]) yield* gates.open(item)
      yield* Fiber.join(early)
      expect(draining.unsafePoll()).toBeNull()
      yield* gates.open(4)
      yield* Fiber.join(draining)
      expect(outcomes).toEqual(["ok 1", "ok 2", "ok 3", "ok 4"])
      expect(queue.stats()).toEqual({ state: "closed", queued: 0, inFlight: 0, succeeded: 4, failed: 0 })
      yield* queue.drain
      expect((yield* Effect.flip(queue.offer(6))).reason).toBe("closed")
    }))

  it.scoped("shutdown: in-flight items are interrupted with their finalizers run, queued ones never start", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const outcomes: Array<number> = []
      const queue = yield* WorkQueue.make({
        capacity: 1,
        workers: 2,
        process: (item: number) =>
          Effect.scoped(
            Effect.gen(function*() {
              yield* Effect.addFinalizer((exit) =>
                Effect.sync(() => log.push(`finalized ${item}${Exit.isInterrupted(exit) ? " (interrupted)" : ""}`))
              )
              log.push(`start ${item}`)
              return yield* Effect.never
            })
          ),
        onOutcome: ({ item }) => Effect.sync(() => outcomes.push(item))
      })
      yield* queue.offerAll([1, 2, 3])
      yield* awaitTrue(() => queue.stats().inFlight === 2, "two in flight")
      const blocked = yield* Effect.fork(queue.offer(4))
      yield* awaitTrue(() => queue.stats().queued === 2, "offer 4 blocked")
      const draining = yield* Effect.fork(queue.drain)
      yield* queue.shutdown
      // By the time shutdown returns, the in-flight items' finalizers have run.
      expect(log.sort()).toEqual(["finalized 1 (interrupted)", "finalized 2 (interrupted)", "start 1", "start 2"])
      const refused = yield* Effect.flip(Fiber.join(blocked))
      expect(refused.reason).toBe("closed")
      yield* Fiber.join(draining)
      expect(outcomes).toEqual([])
      expect(queue.stats()).toEqual({ state: "closed", queued: 0, inFlight: 0, succeeded: 0, failed: 0 })
    }))

  it.effect("interrupting the owner closes the scope: an immediate shutdown with finalizers run", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const ready = yield* Deferred.make<WorkQueue.WorkQueue<number>>()
      const owner = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function*() {
            const queue = yield* WorkQueue.make({
              capacity: 10,
              workers: 2,
              process: (item: number) =>
                Effect.acquireUseRelease(
                  Effect.sync(() => log.push(`start ${item}`)),
                  () => Effect.sleep("1 hour"),
                  () => Effect.sync(() => log.push(`release ${item}`))
                )
            })
            yield* queue.offerAll([1, 2, 3, 4])
            yield* Deferred.succeed(ready, queue)
            return yield* Effect.never
          })
        )
      )
      const queue = yield* Deferred.await(ready)
      yield* awaitTrue(() => queue.stats().inFlight === 2, "two in flight")
      yield* Fiber.interrupt(owner)
      expect(log.sort()).toEqual(["release 1", "release 2", "start 1", "start 2"])
      expect(queue.stats().state).toBe("closed")
      expect((yield* Effect.flip(queue.offer(5))).reason).toBe("closed")
    }))

  it.scoped("defects and self-interruption in process are per-item outcomes; the queue goes on", () =>
    Effect.gen(function*() {
      const outcomes: Array<string> = []
      const queue = yield* WorkQueue.make({
        capacity: 8,
        workers: 2,
        process: (item: number): Effect.Effect<number, string> => {
          if (item === 5) throw new Error("threw instead of returning an effect")
          return item === 1
            ? Effect.dieMessage("bug")
            : item === 2
            ? Effect.fail("typed")
            : item === 3
            ? Effect.interrupt
            : Effect.succeed(item)
        },
        onOutcome: ({ exit, item }) => Effect.sync(() => outcomes.push(`${item}: ${describeExit(exit)}`))
      })
      yield* queue.offerAll([1, 2, 3, 4, 5, 6])
      yield* queue.drain
      expect(outcomes.sort()).toEqual([
        "1: die RuntimeException: bug",
        "2: fail typed",
        "3: interrupted",
        "4: ok 4",
        "5: die Error: threw instead of returning an effect",
        "6: ok 6"
      ])
      expect(queue.stats()).toMatchObject({ succeeded: 2, failed: 4 })
    }))

  it.scoped("a failing onOutcome handler shuts the queue down and drain dies with the defect", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make({
        capacity: 8,
        workers: 2,
        process: (item: number) => Effect.succeed(item),
        onOutcome: ({ item }) => (item === 3 ? Effect.dieMessage("handler bug") : Effect.void)
      })
      yield* queue.offerAll([1, 2, 3, 4, 5]).pipe(Effect.ignore)
      const exit = yield* Effect.exit(queue.drain)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(Cause.squash(exit.cause))).toContain("handler bug")
      expect(queue.stats().state).toBe("closed")
      expect((yield* Effect.flip(queue.offer(6))).reason).toBe("closed")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.scoped("without onOutcome, failures are logged at Warning level, not swallowed", () => {
    const logged: Array<string> = []
    const logger = Logger.make(({ cause, logLevel, message }) => {
      const text = Array.isArray(message) ? message.map(String).join(" | ") : String(message)
      logged.push(`${logLevel.label}: ${text} ${Cause.pretty(cause)}`)
    })
    return Effect.gen(function*() {
      const queue = yield* WorkQueue.make({
        capacity: 4,
        workers: 1,
        process: (item: number) => (item === 2 ? Effect.fail("nope") : Effect.void)
      })
      yield* queue.offerAll([1, 2, 3])
      yield* queue.drain
      expect(logged).toHaveLength(1)
      expect(logged[0]).toContain("WARN: WorkQueue: an item failed")
      expect(logged[0]).toContain("nope")
      expect(queue.stats()).toMatchObject({ succeeded: 2, failed: 1 })
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

  it.scoped("stages a → b → c: bounded buffers between them, drained in order, nothing lost", () =>
    Effect.gen(function*() {
      const collected: Array<number> = []
      let peakC = 0
      let peakB = 0
      const c = yield* WorkQueue.make({
        capacity: 2,
        workers: 1,
        process: (n: number) => Effect.zipRight(Effect.sleep(30), Effect.sync(() => collected.push(n)))
      })
      const b = yield* WorkQueue.make({
        capacity: 2,
        workers: 2,
        process: (n: number) => Effect.as(Effect.sleep(10), n * 10),
        onOutcome: ({ exit }) =>
          Exit.isSuccess(exit)
            ? Effect.zipRight(Effect.orDie(c.offer(exit.value)), Effect.sync(() => (peakC = Math.max(peakC, c.stats().queued))))
            : Effect.void
      })
      const a = yield* WorkQueue.make({
        capacity: 2,
        workers: 3,
        process: (n: number) => Effect.as(Effect.sleep(5), n + 1),
        onOutcome: ({ exit }) =>
          Exit.isSuccess(exit)
            ? Effect.zipRight(Effect.orDie(b.offer(exit.value)), Effect.sync(() => (peakB = Math.max(peakB, b.stats().queued))))
            : Effect.void
      })
      const fiber = yield* Effect.fork(
        Effect.gen(function*() {
          yield* a.offerAll(Array.from({ length: 50 }, (_, i) => i))
          yield* a.drain
          yield* b.drain
          yield* c.drain
        })
      )
      yield* TestClock.adjust(60_000)
      yield* Fiber.join(fiber)
      expect(collected.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => (i + 1) * 10))
      // The slow last stage holds the others back: a queue holds its capacity plus the offers blocked on it
      // (at most one per upstream worker), never the 50 items.
      expect(peakC).toBeLessThanOrEqual(2 + 2)
      expect(peakB).toBeLessThanOrEqual(2 + 3)
      expect(peakC).toBeGreaterThan(0)
    }))

  it.effect("stage: a stream pipeline with per-element outcomes, bounded concurrency and back-pressure", () =>
    Effect.gen(function*() {
      let pulled = 0
      let consumed = 0
      let maxAhead = 0
      let running = 0
      let peak = 0
      const fetch = (n: number) =>
        Effect.acquireUseRelease(
          Effect.sync(() => (peak = Math.max(peak, ++running))),
          () => Effect.zipRight(Effect.sleep(10), n % 7 === 0 ? Effect.fail(`bad ${n}`) : Effect.succeed(n)),
          () => Effect.sync(() => running--)
        )
      const program = Stream.fromIterable(Array.from({ length: 100 }, (_, i) => i)).pipe(
        // One element per pull, so that `pulled` counts what the pipeline has actually asked for.
        Stream.rechunk(1),
        Stream.tap(() => Effect.sync(() => pulled++)),
        WorkQueue.stage(fetch, { workers: 4, capacity: 8 }),
        Stream.filterMap(({ exit }) => {
          if (Exit.isSuccess(exit)) return Option.some(exit.value)
          consumed++
          return Option.none()
        }),
        WorkQueue.stage((n: number) => Effect.as(Effect.sleep(5), n * 2), { workers: 2, capacity: 4 }),
        Stream.tap(() =>
          Effect.zipRight(
            Effect.sleep(50),
            Effect.sync(() => {
              consumed++
              maxAhead = Math.max(maxAhead, pulled - consumed)
            })
          )
        ),
        Stream.runCollect
      )
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust(1_000_000)
      const outcomes = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      const values = outcomes.map(({ exit }) => (Exit.isSuccess(exit) ? exit.value : -1)).sort((x, y) => x - y)
      const expected = Array.from({ length: 100 }, (_, i) => i).filter((n) => n % 7 !== 0).map((n) => n * 2)
      expect(values).toEqual(expected)
      expect(peak).toBe(4)
      // A slow consumer holds the source back: what is pulled ahead is bounded by the buffers and
      // workers in between.
      // Per stage: its capacity of outcomes buffered and up to as many in the chunk the next stage took,
      // one item per worker in flight and one ready for each, one held by the feeding loop; plus the one
      // the consumer holds. (2 × 8 + 4 + 4 + 1) + (2 × 4 + 2 + 2 + 1) + 1 = 39, far below the 100 elements.
      expect(maxAhead).toBeLessThanOrEqual(39)
      expect(maxAhead).toBeGreaterThanOrEqual(12)
    }))

  it.effect("stage: an upstream failure ends the stream with it, after the outcomes before it", () =>
    Effect.gen(function*() {
      const upstream = Stream.concat(Stream.fromIterable([1, 2, 3]), Stream.fail("upstream broke"))
      const exit = yield* Effect.exit(
        upstream.pipe(
          WorkQueue.stage((n: number) => Effect.succeed(n), { workers: 2, capacity: 4 }),
          Stream.runCollect
        )
      )
      expect(exit).toEqual(Exit.fail("upstream broke"))
    }))

  it.effect("stage: a consumer that stops early shuts the stage down; items in flight are interrupted", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const fiber = yield* Effect.fork(
        Stream.fromIterable([1, 2, 3, 4, 5, 6]).pipe(
          WorkQueue.stage(
            (n: number) =>
              Effect.acquireUseRelease(
                Effect.sync(() => log.push(`start ${n}`)),
                () => Effect.sleep(n === 1 ? 10 : 1000),
                (_, exit) => Effect.sync(() => log.push(`end ${n}${Exit.isInterrupted(exit) ? " (interrupted)" : ""}`))
              ),
            { workers: 2, capacity: 1 }
          ),
          Stream.take(1),
          Stream.runCollect
        )
      )
      yield* TestClock.adjust(10)
      const taken = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(taken.map((o) => o.item)).toEqual([1])
      // Item 2 was in flight when the consumer stopped: interrupted, its finalizer run; 4 and later never started.
      expect(log).toContain("end 2 (interrupted)")
      expect(log.filter((line) => line.startsWith("start")).length).toBeLessThanOrEqual(3)
    }))

  it.scoped("invalid options die with an IllegalArgumentException", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(WorkQueue.make({ capacity: 0, workers: 1, process: Effect.succeed }))
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBeInstanceOf(Cause.IllegalArgumentException)
      const workers = yield* Effect.exit(WorkQueue.make({ capacity: 1, workers: 1.5, process: Effect.succeed }))
      expect(Exit.isFailure(workers) && String(Cause.squash(workers.cause))).toContain("workers is 1.5")
    }))
})
