import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { routes, runGroup } from "../src/patterns/task-group.js"
import * as Sandbox from "../src/Sandbox.js"

describe("task-group", () => {
  it.scopedLive("one member's failure interrupts the others and comes back as the group's typed error", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const outcome = yield* runGroup(["/job/quick", "/job/failing", "/job/slow/1", "/job/slow/2"]).pipe(
        Effect.provideService(Http.Http, http)
      )
      expect(outcome.error).toMatchObject({ _tag: "StatusError", status: 500 })
      expect(outcome.completed).toEqual(["/job/quick"])
      expect([...outcome.interrupted].sort()).toEqual(["/job/slow/1", "/job/slow/2"])
      yield* server.awaitSettled(2, "/job/slow/*")
      expect((yield* server.requestsTo("/job/slow/*")).map((r) => r.outcome)).toEqual(["aborted", "aborted"])
    }))

  it.scopedLive("when every member succeeds, leaving the group waits for all of them", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const outcome = yield* runGroup(["/job/quick", "/job/quick", "/job/quick"]).pipe(Effect.provideService(Http.Http, http))
      expect(outcome.error).toBeUndefined()
      expect(outcome.completed).toHaveLength(3)
      expect(outcome.interrupted).toEqual([])
    }))
})
