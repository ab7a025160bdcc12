/**
 * `async with aiohttp.ClientSession() as session:` once for the whole
 * program, not once per request — a new session per request opens a new
 * connection (TCP handshake, TLS in real life) every time.
 *
 * The `Http` service owns a connection pool for its lifetime: build it
 * once (`Http.layer` provided at the top, or `Http.make` in a long-lived
 * scope) and every call reuses kept-alive connections. The per-request
 * form is `Effect.scoped(Http.make(...))` around each call, shown here
 * only to count what it costs: the server logs the socket every request
 * arrived on.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults, type TestServer } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/api/*", Faults.ok("data"))]

/** One way of making the requests, as measured. */
export interface Run {
  readonly elapsedMs: number
  /** Distinct TCP connections the requests arrived on. */
  readonly sockets: number
}

const measure = (
  server: TestServer.TestServer["Type"],
  requests: Effect.Effect<void, HttpError.HttpError | Http.SettingsError>
): Effect.Effect<Run, HttpError.HttpError | Http.SettingsError> =>
  Effect.gen(function*() {
    yield* server.reset
    const [elapsed] = yield* Effect.timed(requests)
    const log = yield* server.requests
    return { elapsedMs: Duration.toMillis(elapsed), sockets: new Set(log.map((r) => r.socketId)).size }
  })

/** `count` sequential GETs through one client, then through a new client per request. */
export const compare = (server: TestServer.TestServer["Type"], count: number) =>
  Effect.gen(function*() {
    const paths = Array.from({ length: count }, (_, i) => `/api/${i}`)
    const shared = yield* Effect.scoped(Effect.gen(function*() {
      const http = yield* Http.make({ baseUrl: server.url })
      return yield* measure(server, Effect.forEach(paths, (path) => http.get(path), { discard: true }))
    }))
    const perRequest = yield* measure(
      server,
      Effect.forEach(
        paths,
        (path) => Effect.scoped(Effect.flatMap(Http.make({ baseUrl: server.url }), (http) => http.get(path))),
        { discard: true }
      )
    )
    return { shared, perRequest }
  })

/** The cookbook entry (`npm run cookbook -- session-reuse`). */
export const pattern = Pattern.make({
  name: "session-reuse",
  title: "HTTP session reuse vs a new session per request",
  asyncio: "async with aiohttp.ClientSession() as s:  # once, not inside the loop\n    for url in urls: await s.get(url)",
  primitive: "one Http service (layer / Http.make in a long-lived scope)",
  summary: "The client owns a pool for its scope; build it once and connections are reused, as the server's socket log shows.",
  run: Effect.scoped(Effect.gen(function*() {
    const { server } = yield* Sandbox.make(routes)
    const outcome = yield* compare(server, 50)
    yield* Console.log("50 sequential requests:")
    yield* Console.log(
      `  one client:             ${outcome.shared.sockets} socket(s), ${Pattern.formatMs(outcome.shared.elapsedMs)}`
    )
    yield* Console.log(
      `  a client per request:  ${outcome.perRequest.sockets} sockets, ${Pattern.formatMs(outcome.perRequest.elapsedMs)}`
    )
  }))
})
