import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { retrying, routes, transient } from "../src/patterns/retry-backoff.js"
import * as Sandbox from "../src/Sandbox.js"

/** An effect that records when each attempt started and fails until attempt `succeedOn`. */
const attempts = (succeedOn: number, error: string = "flaky") =>
  Effect.gen(function*() {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const attempt = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const done = yield* Ref.updateAndGet(times, (all) => [...all, now])
      return done.length >= succeedOn ? yield* Effect.succeed("ok") : yield* Effect.fail(error)
    })
    return { times, attempt }
  })

describe("retry-backoff", () => {
  it.effect("retries at exponentially growing delays: 100, 200, 400 ms", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* attempts(4)
      const fiber = yield* Effect.fork(attempt.pipe(retrying({ base: "100 millis", retries: 3, jitter: false })))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(times)).toEqual([0, 100, 300, 700])
    }))

  it.effect("gives up after the last retry with the last error", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* attempts(99)
      const fiber = yield* Effect.fork(Effect.either(attempt.pipe(retrying({ base: "100 millis", retries: 2, jitter: false }))))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toEqual(Either.left("flaky"))
      expect(yield* Ref.get(times)).toHaveLength(3)
    }))

  it.effect("jitter keeps each delay within 0.8×–1.2× of the exponential one", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* attempts(4)
      const fiber = yield* Effect.fork(attempt.pipe(retrying({ base: "100 millis", retries: 3 })))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      const t = yield* Ref.get(times)
      const gaps = t.slice(1).map((time, i) => time - (t[i] ?? 0))
      ;[100, 200, 400].forEach((expected, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(expected * 0.8)
        expect(gaps[i]).toBeLessThanOrEqual(expected * 1.2)
      })
    }))

  it.scopedLive("against the server: 503, 503, then 200 is retried to success; a 404 is not retried", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const policy = retrying({ base: "10 millis", retries: 3, while: transient })
      const flaky = yield* Http.text("/flaky").pipe(policy, Effect.provideService(Http.Http, http))
      expect(flaky).toBe("{\"ok\":true}")
      expect((yield* server.requestsTo("/flaky")).map((r) => r.status)).toEqual([503, 503, 200])
      const missing = yield* Http.text("/missing").pipe(policy, Effect.either, Effect.provideService(Http.Http, http))
      expect(Either.isLeft(missing) && missing.left._tag).toBe("StatusError")
      expect(yield* server.requestsTo("/missing")).toHaveLength(1)
    }))
})
