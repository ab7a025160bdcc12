import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { backgroundReport, forgetsItsTask } from "../src/patterns/create-task.js"
import * as Sandbox from "../src/Sandbox.js"

// Wider margins than the demo: the report takes 1 s, the parent's own work 200 ms a request.
const routes = [
  Faults.get("/report", Faults.latency(1_000, Faults.ok("quarterly report"))),
  Faults.get("/fast/*", Faults.latency(200, Faults.ok("fast"))),
  Faults.get("/orphan", Faults.latency(10_000, Faults.ok("never read")))
]

describe("create-task", () => {
  it.scopedLive("the background fiber runs while the parent works, and joining it returns its result", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const outcome = yield* backgroundReport.pipe(Effect.provideService(Http.Http, http))
      expect(outcome.report).toBe("quarterly report")
      const [report] = yield* server.requestsTo("/report")
      const fast = yield* server.requestsTo("/fast/*")
      expect(fast).toHaveLength(3)
      // all three of the parent's own requests reached the server while the report was still being produced
      expect(Math.max(...fast.map((r) => r.arrivedAt))).toBeLessThan(report?.completedAt ?? 0)
    }))

  it.scopedLive("a fiber forked and never joined is interrupted when its parent ends: its request is aborted", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      yield* forgetsItsTask.pipe(Effect.provideService(Http.Http, http), Effect.fork, Effect.flatMap(Fiber.join))
      yield* server.awaitSettled(1, "/orphan")
      const [orphan] = yield* server.requestsTo("/orphan")
      expect(orphan?.outcome).toBe("aborted")
    }))
})
