import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Concurrent from "../src/Concurrent.js"
import * as Http from "../src/Http.js"

/** An effect that sleeps `ms` on the Clock, records whether its finalizer ran, and returns `value`. */
const slow = <A>(ms: number, value: A, log: Array<string>, name: string) =>
  Effect.sleep(ms).pipe(
    Effect.as(value),
    Effect.onExit((exit) => Effect.sync(() => log.push(`${name}:${Exit.isInterrupted(exit) ? "interrupted" : "done"}`)))
  )

describe("Concurrent.withDeadline", () => {
  it.effect("succeeds when the effect completes before the deadline", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Concurrent.withDeadline(Effect.as(Effect.sleep(999), "ok"), 1000))
      yield* TestClock.adjust(999)
      expect(yield* Fiber.join(fiber)).toBe("ok")
    }))

  it.effect("interrupts the effect at the deadline, finalizers run, and fails with DeadlineExceeded", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const fiber = yield* Effect.fork(Effect.either(Concurrent.withDeadline(slow(5000, "late", log, "job"), new Date(1000))))
      yield* TestClock.adjust(999)
      expect(log).toEqual([])
      yield* TestClock.adjust(1)
      const result = yield* Fiber.join(fiber)
      expect(log).toEqual(["job:interrupted"])
      expect(result).toEqual(Either.left(new Concurrent.DeadlineExceeded({ deadline: 1000, started: true })))
      if (Either.isLeft(result)) {
        expect(result.left.message).toContain("1970-01-01T00:00:01.000Z")
        expect(result.left.message).toContain("interrupted")
      }
    }))

  it.effect("one deadline bounds sequential steps together, unlike a per-step timeout", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const job = Effect.gen(function*() {
        const deadline = (yield* Clock.currentTimeMillis) + 1000
        yield* Concurrent.withDeadline(slow(600, 1, log, "first"), deadline)
        // 600 ms left would fit a 1000 ms timeout, but only 400 ms of the budget remain.
        return yield* slow(600, 2, log, "second").pipe(Concurrent.withDeadline(deadline))
      })
      const fiber = yield* Effect.fork(Effect.either(job))
      yield* TestClock.adjust(1000)
      const result = yield* Fiber.join(fiber)
      expect(log).toEqual(["first:done", "second:interrupted"])
      expect(Either.isLeft(result) && result.left._tag).toBe("DeadlineExceeded")
    }))

  it.effect("a deadline already passed does not run the effect", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(5000)
      let ran = false
      const result = yield* Effect.either(Concurrent.withDeadline(Effect.sync(() => (ran = true)), 5000))
      expect(ran).toBe(false)
      expect(result).toEqual(Either.left(new Concurrent.DeadlineExceeded({ deadline: 5000, started: false })))
      if (Either.isLeft(result)) expect(result.left.message).toContain("not run")
    }))

  it.effect("keeps the effect's own errors and dies on an invalid deadline", () =>
    Effect.gen(function*() {
      expect(yield* Effect.either(Concurrent.withDeadline(Effect.fail("own"), 1000))).toEqual(Either.left("own"))
      expect(yield* Concurrent.withDeadline(Effect.succeed(1), Infinity)).toBe(1)
      const exit = yield* Effect.exit(Concurrent.withDeadline(Effect.succeed(1), new Date("not a date")))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))
})

describe("Concurrent.inChunks", () => {
  it.effect("runs batches of `size` concurrently, pausing between batches, results in input order", () =>
    Effect.gen(function*() {
      const starts: Array<[number, number]> = []
      const work = (item: number, index: number) =>
        Effect.gen(function*() {
          starts.push([index, yield* Clock.currentTimeMillis])
          yield* Effect.sleep(100 * (1 + (item % 2)))
          return item * 10
        })
      const fiber = yield* Effect.fork(
        Concurrent.inChunks([1, 2, 3, 4, 5, 6, 7], { size: 3, pause: "1 second" }, work)
      )
      yield* TestClock.adjust(10_000)
      expect(yield* Fiber.join(fiber)).toEqual([10, 20, 30, 40, 50, 60, 70])
      // Batch 1 ends at 200 (its slowest item), batch 2 starts 1 s later, and so on.
      expect(starts).toEqual([[0, 0], [1, 0], [2, 0], [3, 1200], [4, 1200], [5, 1200], [6, 2400]])
    }))

  it.effect("limits concurrency inside a batch", () =>
    Effect.gen(function*() {
      const starts: Array<number> = []
      const work = () => Effect.zipRight(Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => starts.push(t))), Effect.sleep(100))
      const fiber = yield* Effect.fork(Concurrent.inChunks([1, 2, 3, 4], { size: 4, concurrency: 2 }, work))
      yield* TestClock.adjust(1000)
      yield* Fiber.join(fiber)
      expect(starts).toEqual([0, 0, 100, 100])
    }))

  it.effect("the first failure stops the rest: later batches never start", () =>
    Effect.gen(function*() {
      const started: Array<number> = []
      const work = (item: number) =>
        Effect.zipRight(Effect.sync(() => started.push(item)), item === 2 ? Effect.fail(`bad ${item}`) : Effect.void)
      const fiber = yield* Effect.fork(Effect.either(Concurrent.inChunks([1, 2, 3, 4, 5], { size: 2, pause: 10 }, work)))
      yield* TestClock.adjust(1000)
      expect(yield* Fiber.join(fiber)).toEqual(Either.left("bad 2"))
      expect(started).toEqual([1, 2])
    }))

  it.effect("an empty input does nothing, a bad size dies", () =>
    Effect.gen(function*() {
      expect(yield* Concurrent.inChunks([], { size: 3, pause: "1 hour" }, Effect.succeed)).toEqual([])
      const exit = yield* Effect.exit(Concurrent.inChunks([1], { size: 0 }, Effect.succeed))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))
})

describe("Concurrent.firstOf and Concurrent.settle", () => {
  it.effect("firstOf takes the first success, ignores earlier failures, interrupts the rest", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const fiber = yield* Effect.fork(
        Concurrent.firstOf([
          slow(300, "slow", log, "slow"),
          Effect.zipRight(Effect.sleep(50), Effect.fail("fast failure")),
          slow(100, "medium", log, "medium")
        ])
      )
      yield* TestClock.adjust(300)
      expect(yield* Fiber.join(fiber)).toBe("medium")
      expect(log).toEqual(["medium:done", "slow:interrupted"])
      expect(yield* Effect.either(Concurrent.firstOf([Effect.fail(1), Effect.fail(2)]))).toEqual(Either.left([1, 2]))
    }))

  it.effect("settle returns every outcome in input order within the concurrency bound", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const job = (i: number) =>
        Effect.acquireUseRelease(
          Effect.sync(() => (peak = Math.max(peak, ++running))),
          () => Effect.zipRight(Effect.sleep(10), i % 2 === 0 ? Effect.succeed(i) : Effect.fail(`odd ${i}`)),
          () => Effect.sync(() => running--)
        )
      const fiber = yield* Effect.fork(Concurrent.settle([0, 1, 2, 3, 4].map(job), { concurrency: 2 }))
      yield* TestClock.adjust(100)
      expect(yield* Fiber.join(fiber)).toEqual([
        Either.right(0),
        Either.left("odd 1"),
        Either.right(2),
        Either.left("odd 3"),
        Either.right(4)
      ])
      expect(peak).toBe(2)
    }))

  it("Http.firstOf and Http.settle are the same functions", () => {
    expect(Http.firstOf).toBe(Concurrent.firstOf)
    expect(Http.settle).toBe(Concurrent.settle)
  })
})
