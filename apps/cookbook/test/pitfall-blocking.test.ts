import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { blocking, observe, routes, sliced } from "../src/patterns/pitfall-blocking.js"
import * as Sandbox from "../src/Sandbox.js"

describe("pitfall-blocking", () => {
  it.scopedLive("a 300 ms synchronous block: the lag monitor warns, and requests started with it wait it out", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const seen = yield* observe(blocking(300)).pipe(Effect.provideService(Http.Http, http))
      expect(seen.warnings.length).toBeGreaterThanOrEqual(1)
      // sampled every 20 ms, a 300 ms block shows as at least 280 ms of lag
      expect(Math.max(...seen.warnings)).toBeGreaterThanOrEqual(280)
      expect(seen.slowestRequestMs).toBeGreaterThanOrEqual(300)
    }))

  it.scopedLive("the same work in slices: the requests finish while the work is still going", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const seen = yield* observe(sliced(300)).pipe(Effect.provideService(Http.Http, http))
      expect(seen.workMs).toBeGreaterThanOrEqual(300)
      expect(seen.slowestRequestMs).toBeLessThan(seen.workMs)
    }))
})
