import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { gather, routes } from "../src/patterns/gather-fail-fast.js"
import * as Sandbox from "../src/Sandbox.js"

describe("gather-fail-fast", () => {
  it.scopedLive("the first failure fails the gather and interrupts the siblings, whose requests are aborted", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const outcome = yield* gather(["/slow/1", "/broken", "/slow/2"]).pipe(Effect.provideService(Http.Http, http))
      expect(outcome.error).toMatchObject({ _tag: "StatusError", status: 500 })
      expect([...outcome.interrupted].sort()).toEqual(["/slow/1", "/slow/2"])
      // the slow requests take 2 s: the gather did not wait for them
      expect(outcome.elapsedMs).toBeLessThan(1_500)
      yield* server.awaitSettled(3)
      const outcomes = Object.fromEntries((yield* server.requests).map((r) => [r.path, r.outcome]))
      expect(outcomes).toEqual({ "/slow/1": "aborted", "/broken": "completed", "/slow/2": "aborted" })
    }))

  it.scopedLive("without a failure, every request completes and nothing is interrupted", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make([Faults.get("/ok/*", Faults.latency(10, Faults.ok("ok")))])
      const outcome = yield* gather(["/ok/1", "/ok/2", "/ok/3"]).pipe(Effect.provideService(Http.Http, http))
      expect(outcome.error).toBeUndefined()
      expect(outcome.interrupted).toEqual([])
    }))
})
