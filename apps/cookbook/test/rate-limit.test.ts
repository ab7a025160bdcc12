import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { rateLimited, routes } from "../src/patterns/rate-limit.js"
import * as Sandbox from "../src/Sandbox.js"

describe("rate-limit", () => {
  it.effect("5 per second: a burst of 5, then one start every 200 ms", () =>
    Effect.gen(function*() {
      const tasks = Array.from({ length: 10 }, () => Clock.currentTimeMillis)
      const fiber = yield* Effect.fork(rateLimited(tasks, 5))
      yield* TestClock.adjust("2 seconds")
      const starts = (yield* Fiber.join(fiber)).sort((a, b) => a - b)
      expect(starts).toEqual([0, 0, 0, 0, 0, 200, 400, 600, 800, 1000])
    }))

  it.scopedLive("the server never sees a request before the limiter allowed it", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const before = Date.now()
      yield* rateLimited(Array.from({ length: 7 }, (_, i) => Http.get(`/tick/${i}`)), 5).pipe(
        Effect.provideService(Http.Http, http)
      )
      const arrivals = (yield* server.requests).map((r) => r.arrivedAt - before).sort((a, b) => a - b)
      // 5 per second: the 6th and 7th start wait for refills 200 ms and 400 ms after the first start
      // (1 ms of slack for Date.now's whole milliseconds)
      expect(arrivals[5]).toBeGreaterThanOrEqual(199)
      expect(arrivals[6]).toBeGreaterThanOrEqual(399)
    }))
})
