import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { fastest, mirrors, routes } from "../src/patterns/wait-first-completed.js"
import * as Sandbox from "../src/Sandbox.js"

describe("wait-first-completed", () => {
  it.scopedLive("the first success wins (not the earlier failure) and the pending requests are aborted", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const outcome = yield* fastest(mirrors).pipe(Effect.provideService(Http.Http, http))
      expect(outcome.winner).toBe("/mirror/fast")
      yield* server.awaitSettled(mirrors.length)
      const outcomes = Object.fromEntries((yield* server.requests).map((r) => [r.path, `${r.outcome} ${r.status}`]))
      expect(outcomes).toEqual({
        "/mirror/slow": "aborted undefined",
        "/mirror/broken": "completed 500",
        "/mirror/medium": "aborted undefined",
        "/mirror/fast": "completed 200"
      })
    }))

  it.scopedLive("when every candidate fails, the call fails with all their errors", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const result = yield* Effect.either(fastest(["/mirror/broken", "/mirror/broken"])).pipe(
        Effect.provideService(Http.Http, http)
      )
      expect(Either.isLeft(result) && result.left.map((e) => e._tag)).toEqual(["StatusError", "StatusError"])
    }))
})
