import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { compare, routes } from "../src/patterns/sequential-vs-concurrent.js"
import * as Sandbox from "../src/Sandbox.js"

describe("sequential-vs-concurrent", () => {
  it.scopedLive("10 × 50 ms: sequential takes at least the sum, concurrent about one latency", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const paths = Array.from({ length: 10 }, (_, i) => `/page/${i}`)
      const outcome = yield* compare(paths, 10).pipe(Effect.provideService(Http.Http, http))
      expect(outcome.sequentialMs).toBeGreaterThanOrEqual(450)
      expect(outcome.concurrentMs).toBeLessThan(250)
      const log = yield* server.requests
      // the first ten arrived one at a time, the last ten all together
      expect(Math.max(...log.slice(0, 10).map((r) => r.inFlightAtArrival))).toBe(1)
      expect(Math.max(...log.slice(10).map((r) => r.inFlightAtArrival))).toBe(10)
    }))
})
