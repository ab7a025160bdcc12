import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { compare, routes } from "../src/patterns/session-reuse.js"
import * as Sandbox from "../src/Sandbox.js"

describe("session-reuse", () => {
  it.scopedLive("one client reuses its kept-alive connections; a client per request opens a socket per request", () =>
    Effect.gen(function*() {
      const { server } = yield* Sandbox.make(routes)
      const outcome = yield* compare(server, 20)
      // undici may alternate between two pooled connections, but never opens one per request
      expect(outcome.shared.sockets).toBeLessThanOrEqual(2)
      expect(outcome.perRequest.sockets).toBe(20)
    }))
})
