import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { routes, stepsWithin, within } from "../src/patterns/wait-for.js"
import * as Sandbox from "../src/Sandbox.js"

describe("wait-for", () => {
  it.effect("work that outlasts the limit is interrupted exactly at the limit and fails with TimeoutException", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const work = Effect.sleep("1 second").pipe(Effect.as("done"), Effect.onInterrupt(() => Ref.set(interrupted, true)))
      const fiber = yield* Effect.fork(within(work, "200 millis"))
      yield* TestClock.adjust("199 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left._tag).toBe("TimeoutException")
      expect(yield* Ref.get(interrupted)).toBe(true)
    }))

  it.effect("work within the limit returns its value", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(within(Effect.as(Effect.sleep("150 millis"), "done"), "200 millis"))
      yield* TestClock.adjust("150 millis")
      expect(yield* Fiber.join(fiber)).toEqual(Either.right("done"))
    }))

  it.effect("one deadline bounds several steps together: the third step is cut at 200 ms in total", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make(0)
      const step = Effect.zipRight(Effect.sleep("80 millis"), Ref.update(finished, (n) => n + 1))
      const fiber = yield* Effect.fork(Effect.either(stepsWithin([step, step, step], 200)))
      yield* TestClock.adjust("200 millis")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left._tag).toBe("DeadlineExceeded")
      expect(yield* Ref.get(finished)).toBe(2)
    }))

  it.scopedLive("a timed-out request is aborted, not left open", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const result = yield* within(Http.text("/hanging"), "100 millis").pipe(Effect.provideService(Http.Http, http))
      expect(Either.isLeft(result) && result.left._tag).toBe("TimeoutException")
      yield* server.awaitSettled(1, "/hanging")
      expect((yield* server.requestsTo("/hanging")).map((r) => r.outcome)).toEqual(["aborted"])
    }))
})
