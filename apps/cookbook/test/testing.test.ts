import { Http } from "@fiberkit/core"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { layerHttp, layerScripted, onTestClock, routes, watchPrice } from "../src/patterns/testing.js"
import * as Sandbox from "../src/Sandbox.js"

// The test the pattern is about: a scripted feed instead of the HTTP one, and
// three hours of hourly polling on the TestClock, in no real time.
layer(layerScripted([100, 101, 102, 150]))("testing (scripted feed, TestClock)", (it) => {
  it.effect("polls every hour until the price crosses the threshold", () =>
    Effect.gen(function*() {
      const watching = yield* Effect.fork(watchPrice("BTC", 110, "1 hour"))
      yield* TestClock.adjust("2 hours")
      expect(Option.isNone(yield* Fiber.poll(watching))).toBe(true)
      yield* TestClock.adjust("1 hour")
      expect(yield* Fiber.join(watching)).toEqual({ price: 150, polls: 4 })
    }))
})

describe("testing (live feed)", () => {
  it.live("onTestClock runs on a TestClock and leaves the caller on the real clock", () =>
    Effect.gen(function*() {
      const scripted = yield* onTestClock(Effect.gen(function*() {
        const watching = yield* Effect.fork(watchPrice("BTC", 110, "1 hour"))
        yield* TestClock.adjust("3 hours")
        return yield* Fiber.join(watching)
      }).pipe(Effect.provide(layerScripted([100, 150]))))
      expect(scripted).toEqual({ price: 150, polls: 2 })
      // the TestClock starts at 0: a real clock reads the present
      expect(yield* Clock.currentTimeMillis).toBeGreaterThan(Date.parse("2020-01-01"))
    }))

  it.scopedLive("the same code on the HTTP layer, against the local server", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const result = yield* watchPrice("BTC", 110, "10 millis").pipe(
        Effect.provide(layerHttp),
        Effect.provideService(Http.Http, http)
      )
      expect(result).toEqual({ price: 120, polls: 3 })
      expect(yield* server.requestsTo("/price/BTC")).toHaveLength(3)
    }))
})
