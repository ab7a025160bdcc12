/**
 * A real HTTP server on 127.0.0.1 for tests and benchmarks: routes answer
 * with scripted {@link Route.Reply} values (including injected faults such as
 * resets, stalls and truncated bodies), and every request is logged with its
 * socket, timing and outcome so tests can assert what a client really did.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Faults, TestServer } from "@fiberkit/testkit"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* TestServer.TestServer
 *   yield* server.route(Faults.get("/flaky", Faults.sequence(503, 503, Faults.json({ ok: true }))))
 *   // ... point the client under test at server.urlFor("/flaky") ...
 *   const log = yield* server.requestsTo("/flaky")
 * }).pipe(Effect.provide(TestServer.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { TestHttpServer } from "./internal/server.js"
import type * as Route from "./Route.js"

/**
 * One request as the server saw it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestRecord {
  /** 1-based arrival order (restarts after `reset`). */
  readonly id: number
  readonly method: string
  /** Path and query as received. */
  readonly path: string
  /** The `Route.path` that matched; `undefined` when the fallback answered. */
  readonly route: string | undefined
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: Uint8Array
  /** Id of the TCP connection (1-based, never reused), to assert keep-alive reuse. */
  readonly socketId: number
  /** Epoch milliseconds with sub-millisecond resolution, when the request headers arrived. */
  readonly arrivedAt: number
  /** When the response was fully written or the connection closed; `undefined` while pending. */
  readonly completedAt: number | undefined
  /**
   * - `completed`: the response was fully written.
   * - `aborted`: the client closed the connection before that.
   * - `reset`: the server cut the connection on purpose (`ResetBeforeHeaders`, `ResetMidBody`, `Truncated`).
   */
  readonly outcome: "pending" | "completed" | "aborted" | "reset"
  /** The status sent, `undefined` if no headers were sent. */
  readonly status: number | undefined
  /** Requests in flight when this one arrived, this one included. */
  readonly inFlightAtArrival: number
}

/**
 * Counters since the server started or was last `reset`. `inFlight` and
 * `openConnections` are gauges and survive a reset.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly total: number
  readonly inFlight: number
  readonly maxInFlight: number
  /** Peak concurrent requests per `Route.path`. */
  readonly maxInFlightByRoute: Readonly<Record<string, number>>
  /** TCP connections accepted. */
  readonly connections: number
  readonly openConnections: number
  /** Requests whose connection the client closed before the response was complete. */
  readonly aborted: number
}

/**
 * The running test server.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestServer extends Context.Tag("@fiberkit/testkit/TestServer")<TestServer, {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string
  /** `127.0.0.1:PORT`. */
  readonly host: string
  readonly port: number
  /** The absolute URL of `path` on this server. */
  readonly urlFor: (path: string) => string
  /** Adds a route, or replaces the one with the same method and path (its hit count restarts). */
  readonly route: (route: Route.Route) => Effect.Effect<void>
  /** A snapshot of the request log, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  /** The logged requests whose route path or exact pathname is `path`. */
  readonly requestsTo: (path: string) => Effect.Effect<ReadonlyArray<RequestRecord>>
  readonly stats: Effect.Effect<Stats>
  /** Completes once `count` requests (to a route path or exact pathname `path`) have arrived since the last reset. */
  readonly awaitRequests: (count: number, path?: string) => Effect.Effect<void>
  /** Completes once `count` requests (to `path`) are no longer pending (completed, aborted or reset). */
  readonly awaitSettled: (count: number, path?: string) => Effect.Effect<void>
  /** Clears the log, the counters and the hit counts that drive sequences. */
  readonly reset: Effect.Effect<void>
}>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly routes?: ReadonlyArray<Route.Route>
  /** Default `0`: an ephemeral port. */
  readonly port?: number
  /** Default `127.0.0.1`. */
  readonly hostname?: string
  /** Seed of the random latencies. Default `1`. */
  readonly seed?: number
  /** Answers requests no route matches. Default: `404` with the text `not found`. */
  readonly fallback?: Route.Handler
  /**
   * Keep the request log (default `true`). A number keeps at most that many
   * of the newest records; `false` keeps only the stats (for long benchmark
   * runs). Arrival and settlement counts per path are kept either way.
   */
  readonly log?: boolean | number
}

/**
 * The server could not listen on the requested address. It is raised as a
 * defect: a test cannot recover from a missing server.
 *
 * @since 0.1.0
 * @category errors
 */
export class TestServerError extends Data.TaggedError("TestServerError")<{
  readonly address: string
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `TestServer could not listen on ${this.address} (${reason}); use port 0 for an ephemeral port or free the port.`
  }
}

const NOT_FOUND: Route.Reply = { status: 404, body: "not found" }

/**
 * Starts a server for the lifetime of the scope. Closing the scope stops it
 * and destroys every connection, including stalled ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<TestServer["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const hostname = options.hostname ?? "127.0.0.1"
    const server = new TestHttpServer({
      routes: options.routes ?? [],
      seed: options.seed ?? 1,
      fallback: options.fallback ?? NOT_FOUND,
      log: options.log ?? true
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(
          options.port ?? 0,
          hostname,
          (port) => resume(Effect.succeed(port)),
          (cause) => resume(Effect.die(new TestServerError({ address: `${hostname}:${options.port ?? 0}`, cause })))
        )
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close((cause) => resume(cause === undefined ? Effect.void : Effect.die(cause)))
        })
    )
    const host = `${hostname}:${port}`
    const url = `http://${host}`
    const awaitCount = (settled: boolean) => (count: number, path?: string) =>
      Effect.async<void>((resume) => {
        const cancel = server.log.await(settled, count, path, () => resume(Effect.void))
        return Effect.sync(cancel)
      })
    return {
      url,
      host,
      port,
      urlFor: (path) => url + (path.startsWith("/") ? path : `/${path}`),
      route: (route) => Effect.sync(() => server.router.add(route)),
      requests: Effect.sync(() => server.log.snapshot()),
      requestsTo: (path) => Effect.sync(() => server.log.snapshot(path)),
      stats: Effect.sync(() => server.log.stats()),
      awaitRequests: awaitCount(false),
      awaitSettled: awaitCount(true),
      reset: Effect.sync(() => {
        server.log.reset()
        server.resetHits()
      })
    }
  })

/**
 * A layer providing a {@link TestServer} started with `options`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TestServer> => Layer.scoped(TestServer, make(options))
