import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import { firstBatch, routes, waitFor } from "../src/patterns/condition.js"
import * as Sandbox from "../src/Sandbox.js"

describe("condition", () => {
  it.effect("the waiter wakes exactly when the predicate first holds, with that state", () =>
    Effect.gen(function*() {
      const buffer = yield* SubscriptionRef.make<ReadonlyArray<number>>([])
      const waiter = yield* Effect.fork(waitFor(buffer, (items) => items.length >= 3))
      yield* Effect.fork(Effect.forEach([1, 2, 3, 4], (i) =>
        Effect.zipRight(Effect.sleep("100 millis"), SubscriptionRef.update(buffer, (items) => [...items, i]))))
      yield* TestClock.adjust("250 millis")
      expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
      yield* TestClock.adjust("50 millis")
      expect(yield* Fiber.join(waiter)).toEqual([1, 2, 3])
    }))

  it.effect("a waiter that arrives after the state already holds returns at once: no wake-up is lost", () =>
    Effect.gen(function*() {
      const ready = yield* SubscriptionRef.make(true)
      expect(yield* waitFor(ready, (value) => value)).toBe(true)
    }))

  it.scopedLive("with a producer fetching readings, the consumer gets the first three", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      expect(yield* firstBatch(3).pipe(Effect.provideService(Http.Http, http))).toEqual(["1", "2", "3"])
    }))
})
