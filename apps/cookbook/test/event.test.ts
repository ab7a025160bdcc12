import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { routes, warmUpThenWork } from "../src/patterns/event.js"
import * as Sandbox from "../src/Sandbox.js"

describe("event", () => {
  it.scopedLive("workers forked first reach the server only after the warm-up is done", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      yield* warmUpThenWork(3).pipe(Effect.provideService(Http.Http, http))
      const [config] = yield* server.requestsTo("/config")
      const work = yield* server.requestsTo("/work/*")
      expect(work).toHaveLength(3)
      for (const request of work) expect(request.arrivedAt).toBeGreaterThanOrEqual(config?.completedAt ?? Infinity)
    }))

  it.effect("a latch holds every waiter until it opens, then releases them all; close() makes it wait again", () =>
    Effect.gen(function*() {
      const latch = yield* Effect.makeLatch(false)
      const waiters = yield* Effect.forEach([1, 2, 3], (i) => Effect.fork(latch.whenOpen(Effect.succeed(i))))
      yield* TestClock.adjust("1 hour")
      for (const waiter of waiters) expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
      yield* latch.open
      expect(yield* Fiber.joinAll(waiters)).toEqual([1, 2, 3])
      yield* latch.close
      const late = yield* Effect.fork(latch.await)
      yield* TestClock.adjust("1 hour")
      expect(Option.isNone(yield* Fiber.poll(late))).toBe(true)
    }))
})
