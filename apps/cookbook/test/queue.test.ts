import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { produceAndDrain, produceAndShutdown, routes } from "../src/patterns/queue.js"
import * as Sandbox from "../src/Sandbox.js"

describe("queue", () => {
  it.scopedLive("drain processes every item (a failure is that item's outcome), 3 at a time, then refuses offers", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const paths = Array.from({ length: 20 }, (_, i) => (i === 7 ? "/job/bad" : `/job/${i}`))
      const drained = yield* produceAndDrain(paths).pipe(Effect.provideService(Http.Http, http))
      expect(drained.succeeded).toBe(19)
      expect(drained.failed).toEqual(["/job/bad"])
      expect(drained.lateOffer).toMatch(/^QueueClosed/)
      const stats = yield* server.stats
      expect(stats.total).toBe(20)
      expect(stats.maxInFlight).toBe(3)
    }))

  it.scopedLive("shutdown interrupts the items in flight (requests aborted) and drops the queued ones", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const shut = yield* produceAndShutdown(6, server.awaitRequests(3, "/job/slow/*")).pipe(
        Effect.provideService(Http.Http, http)
      )
      expect(shut.before).toMatchObject({ inFlight: 3, queued: 3 })
      expect(shut.after).toMatchObject({ state: "closed", inFlight: 0, queued: 0 })
      yield* server.awaitSettled(3, "/job/slow/*")
      expect((yield* server.requestsTo("/job/slow/*")).map((r) => r.outcome)).toEqual(["aborted", "aborted", "aborted"])
    }))
})
