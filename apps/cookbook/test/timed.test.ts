import { Http, Timed } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { capturingTimedLines, fetchPage, routes } from "../src/patterns/timed.js"
import * as Sandbox from "../src/Sandbox.js"

describe("timed", () => {
  it.effect("logs the exact duration on the clock and how the effect ended", () =>
    Effect.gen(function*() {
      const job = Effect.sleep("120 millis").pipe(Timed.timed("job"))
      const failing = Effect.zipRight(Effect.sleep("30 millis"), Effect.fail("boom")).pipe(Timed.timed("job"))
      const fiber = yield* Effect.fork(capturingTimedLines(Effect.all([job, Effect.either(failing)])))
      yield* TestClock.adjust("1 second")
      const { lines } = yield* Fiber.join(fiber)
      expect(lines.map(({ durationMs, message, outcome }) => ({ durationMs, message: message.split("\n")[0], outcome })))
        .toEqual([
          { message: "job succeeded in 120ms", outcome: "success", durationMs: 120 },
          { message: "job failed after 30ms", outcome: "failure", durationMs: 30 }
        ])
    }))

  it.scopedLive("a decorated request logs success, failure and interruption", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const calls = Effect.all([
        Effect.either(fetchPage("/page")),
        Effect.either(fetchPage("/broken")),
        Effect.either(Effect.timeout(fetchPage("/slow"), "100 millis"))
      ]).pipe(Effect.provideService(Http.Http, http))
      const { lines } = yield* capturingTimedLines(calls)
      expect(lines.map((line) => line.outcome)).toEqual(["success", "failure", "interrupted"])
      // /page answers after 40 ms; the interrupted one ran until the 100 ms timeout
      expect(lines[0]?.durationMs).toBeGreaterThanOrEqual(40)
      expect(lines[2]?.durationMs).toBeGreaterThanOrEqual(99)
    }))
})
