import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { closesWithin, interrupted, leaky, routes, scoped } from "../src/patterns/pitfall-resource-leaks.js"
import * as Sandbox from "../src/Sandbox.js"

describe("pitfall-resource-leaks", () => {
  it.scopedLive("a scope made by hand and never closed keeps the connection open until someone closes it", () =>
    Effect.gen(function*() {
      const { server } = yield* Sandbox.make(routes)
      const scope = yield* leaky(server)
      expect((yield* server.stats).openConnections).toBe(1)
      expect(yield* closesWithin(server, 300)).toBe(false)
      yield* Scope.close(scope, Exit.void)
      expect(yield* closesWithin(server, 2_000)).toBe(true)
    }))

  it.scopedLive("Effect.scoped closes the client's connections when the block succeeds", () =>
    Effect.gen(function*() {
      const { server } = yield* Sandbox.make(routes)
      yield* scoped(server)
      expect((yield* server.stats).connections).toBe(1)
      expect(yield* closesWithin(server, 2_000)).toBe(true)
    }))

  it.scopedLive("…and when the block is interrupted mid-request: the request is aborted, the socket closed", () =>
    Effect.gen(function*() {
      const { server } = yield* Sandbox.make(routes)
      yield* interrupted(server)
      expect(yield* closesWithin(server, 2_000)).toBe(true)
      yield* server.awaitSettled(1, "/slow")
      expect((yield* server.requestsTo("/slow")).map((r) => r.outcome)).toEqual(["aborted"])
    }))
})
