import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { describe as describeResult, gatherAll, routes } from "../src/patterns/gather-return-exceptions.js"
import * as Sandbox from "../src/Sandbox.js"

describe("gather-return-exceptions", () => {
  it.scopedLive("returns a typed Either per request, in input order, and cancels nothing", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const paths = ["/price/BTC", "/missing", "/down", "/price/ETH"]
      const results = yield* gatherAll(paths).pipe(Effect.provideService(Http.Http, http))
      expect(results.map(describeResult)).toEqual([
        "ok 200 {\"symbol\":\"BTC\",\"price\":42}",
        "StatusError 404",
        "StatusError 503",
        "ok 200 {\"symbol\":\"ETH\",\"price\":42}"
      ])
      // the failures are HttpError values, typed, not exceptions mixed into the list
      const [, missing] = results
      expect(missing !== undefined && Either.isLeft(missing) && missing.left._tag).toBe("StatusError")
      // the fast failures did not cancel the slow successes
      const log = yield* server.requests
      expect(log.map((r) => r.outcome)).toEqual(["completed", "completed", "completed", "completed"])
    }))
})
