import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { notifyAll, routes } from "../src/patterns/batch-pause.js"
import * as Sandbox from "../src/Sandbox.js"

describe("batch-pause", () => {
  it.scopedLive("batches of 5 run concurrently, the next starting 300 ms after the previous one finished", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const users = Array.from({ length: 12 }, (_, i) => `user-${i + 1}`)
      const results = yield* notifyAll(users).pipe(Effect.provideService(Http.Http, http))
      expect(results).toEqual(users.map((user) => `${user}: sent`))
      const log = yield* server.requests
      const batches = [log.slice(0, 5), log.slice(5, 10), log.slice(10)]
      expect(batches.map((b) => b.length)).toEqual([5, 5, 2])
      // within a batch: all five were on the server at once
      expect(Math.max(...(batches[0] ?? []).map((r) => r.inFlightAtArrival))).toBe(5)
      // between batches: the pause runs after the whole batch was answered (1 ms of slack for timer rounding)
      for (const [previous, next] of [[batches[0], batches[1]], [batches[1], batches[2]]] as const) {
        const finished = Math.max(...(previous ?? []).map((r) => r.completedAt ?? Infinity))
        const started = Math.min(...(next ?? []).map((r) => r.arrivedAt))
        expect(started - finished).toBeGreaterThanOrEqual(299)
      }
    }))
})
