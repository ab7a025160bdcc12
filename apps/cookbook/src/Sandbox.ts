/**
 * The playground every IO pattern runs in: a real `TestServer` on 127.0.0.1
 * with the routes the pattern needs, and an `Http` client pointed at it.
 * Nothing reaches the network.
 *
 * @since 0.1.0
 */
import { Http } from "@fiberkit/core"
import { type Route, TestServer } from "@fiberkit/testkit"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * A running server and a client whose `baseUrl` is that server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sandbox {
  readonly server: TestServer.TestServer["Type"]
  readonly http: Http.Service
}

/**
 * Starts a server with `routes` and a client for it, both closed with the
 * scope. The client's own retries are off unless `http` turns them on, so a
 * pattern shows its own failure handling rather than the client's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  routes: ReadonlyArray<Route.Route>,
  http: Http.Input = {}
): Effect.Effect<Sandbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* TestServer.make({ routes })
    // The settings are literals written in the cookbook: an invalid one is a bug, not a runtime condition.
    const client = yield* Effect.orDie(Http.make({ baseUrl: server.url, retry: false, ...http }))
    return { server, http: client }
  })
