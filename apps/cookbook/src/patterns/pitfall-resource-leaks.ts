/**
 * Pitfall: resource leaks. `session = aiohttp.ClientSession()` without
 * `async with` or `await session.close()`: the pool and its sockets live
 * until the GC notices ("Unclosed client session"), and not at all when an
 * exception or a cancellation skips the `close()`.
 *
 * `Http.make` acquires its pool with `Effect.acquireRelease`, so it needs a
 * `Scope` — the type says so. `Effect.scoped` closes the scope when the
 * block ends, whether it succeeded, failed or was interrupted, and the pool
 * closes its sockets. The leak is still possible, but only by asking for it:
 * making a `Scope` by hand and never closing it. The server's count of open
 * connections shows the difference.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults, type TestServer } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/data", Faults.ok("data")),
  Faults.get("/slow", Faults.latency(5_000, Faults.ok("late")))
]

type Server = TestServer.TestServer["Type"]

/** What making a client and a request can fail with. */
export type Failure = Http.SettingsError | HttpError.HttpError

/**
 * Whether the server's open connections drop to zero within `within` ms.
 * Closing is asynchronous on the server side, so this waits for it.
 */
export const closesWithin = (server: Server, within: number): Effect.Effect<boolean> =>
  server.stats.pipe(
    Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (stats) => stats.openConnections === 0 }),
    Effect.timeoutOption(within),
    Effect.map(Option.isSome)
  )

/** The leak: a client in a scope made by hand, which the caller forgets to close. Returns that scope. */
export const leaky = (server: Server): Effect.Effect<Scope.CloseableScope, Failure> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const http = yield* Scope.extend(Http.make({ baseUrl: server.url, retry: false }), scope)
    yield* http.get("/data")
    return scope
  })

/** The fix: the client lives exactly as long as the block. */
export const scoped = (server: Server): Effect.Effect<void, Failure> =>
  Effect.scoped(Effect.gen(function*() {
    const http = yield* Http.make({ baseUrl: server.url, retry: false })
    yield* http.get("/data")
  }))

/** The block is interrupted mid-request (a timeout): the scope still closes. */
export const interrupted = (server: Server): Effect.Effect<void, Failure> =>
  Effect.scoped(Effect.gen(function*() {
    const http = yield* Http.make({ baseUrl: server.url, retry: false })
    yield* http.get("/slow")
  })).pipe(Effect.timeoutOption("100 millis"), Effect.asVoid)

/** The cookbook entry (`npm run cookbook -- pitfall-resource-leaks`). */
export const pattern = Pattern.make({
  name: "pitfall-resource-leaks",
  title: "Pitfall: resource leaks",
  asyncio: "session = aiohttp.ClientSession()  # never closed: 'Unclosed client session'",
  primitive: "Scope, Effect.acquireRelease, Effect.scoped",
  summary: "A resource that needs a Scope says so in its type; Effect.scoped closes it on success, failure and interruption.",
  run: Effect.scoped(Effect.gen(function*() {
    const { server } = yield* Sandbox.make(routes)
    const scope = yield* leaky(server)
    const leakClosed = yield* closesWithin(server, 300)
    yield* Console.log(`scope made by hand, never closed: connection closed within 300 ms? ${leakClosed}`)
    yield* Scope.close(scope, Exit.void)
    yield* Console.log(`  …closed once the scope is: ${yield* closesWithin(server, 1_000)}`)
    yield* scoped(server)
    yield* Console.log(`Effect.scoped, block succeeded:   closed? ${yield* closesWithin(server, 1_000)}`)
    yield* interrupted(server)
    yield* Console.log(`Effect.scoped, block interrupted: closed? ${yield* closesWithin(server, 1_000)}`)
  }))
})
