import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { processAll, routes } from "../src/patterns/chunked-processing.js"
import * as Sandbox from "../src/Sandbox.js"

const COUNT = 200
/** Each item's result is the number of digits of its id. */
const expectedTotal = Array.from({ length: COUNT }, (_, i) => String(i + 1).length).reduce((a, b) => a + b, 0)

describe("chunked-processing", () => {
  it.scopedLive("a stream with concurrency 8 processes everything with never more than 8 items in flight", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes, { limits: { perHostMaxInFlight: 1_000 } })
      const outcome = yield* processAll(COUNT, 8).pipe(Effect.provideService(Http.Http, http))
      expect(outcome).toEqual({ total: expectedTotal, processed: COUNT, peakInFlight: 8 })
      expect((yield* server.stats).maxInFlight).toBeLessThanOrEqual(8)
    }))

  it.scopedLive("the gather-everything form has every item in flight at once", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes, { limits: { perHostMaxInFlight: 1_000 } })
      const outcome = yield* processAll(COUNT, "unbounded").pipe(Effect.provideService(Http.Http, http))
      expect(outcome).toEqual({ total: expectedTotal, processed: COUNT, peakInFlight: COUNT })
    }))
})
