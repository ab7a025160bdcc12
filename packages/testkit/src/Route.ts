/**
 * The route and reply model of {@link TestServer}: what a route matches and
 * what the server sends back, including injected faults.
 *
 * Replies are plain data so that tests, the synthetic site and the standalone
 * server can all describe behaviour without touching sockets.
 *
 * @since 0.1.0
 */

/**
 * What a handler sees of an incoming request.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncomingRequest {
  readonly method: string
  /** Path and query exactly as received, e.g. `/a/b?x=1`. */
  readonly path: string
  /** Path without the query string. */
  readonly pathname: string
  readonly query: URLSearchParams
  /** Header names are lower-case (Node's `req.headers`). */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** The request body as received (empty for bodiless requests). */
  readonly body: Uint8Array
  /** 1-based count of requests this route has seen, this one included. */
  readonly hit: number
}

/**
 * A body: text, raw bytes, or a value serialised as JSON (sets
 * `content-type: application/json` unless the reply sets its own).
 *
 * @since 0.1.0
 * @category models
 */
export type Body = string | Uint8Array | { readonly json: unknown }

/**
 * Latency before the response headers are sent: a fixed number of
 * milliseconds, or uniformly random in `[min, max]` (seeded per server).
 *
 * @since 0.1.0
 * @category models
 */
export type Latency = number | { readonly min: number; readonly max: number }

/**
 * A fault injected into one reply.
 *
 * - `ResetBeforeHeaders`: the socket is destroyed (TCP RST) before anything is sent.
 * - `ResetMidBody`: headers and `afterBytes` of the body are sent, then the socket is reset.
 * - `StallBeforeHeaders`: the request is accepted and nothing is ever sent.
 * - `Stall`: headers are sent, then nothing; the response never ends.
 * - `Drip`: the body is sent `chunkBytes` at a time every `intervalMs`.
 * - `Truncated`: `Content-Length` says `declaredLength` but only the body is sent, then the connection closes.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | { readonly _tag: "ResetBeforeHeaders" }
  | { readonly _tag: "ResetMidBody"; readonly afterBytes: number }
  | { readonly _tag: "StallBeforeHeaders" }
  | { readonly _tag: "Stall" }
  | { readonly _tag: "Drip"; readonly chunkBytes: number; readonly intervalMs: number }
  | { readonly _tag: "Truncated"; readonly declaredLength: number }

/**
 * One reply. Everything is optional: the default is `200` with an empty body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly body?: Body
  readonly latency?: Latency
  /** Compress the body and set `content-encoding` accordingly. */
  readonly encoding?: "gzip" | "br" | "deflate"
  readonly fault?: Fault
}

/**
 * How a route answers: one reply for every hit, a scripted sequence (hit `n`
 * gets element `n - 1`; the last element repeats), or a function of the
 * request.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler =
  | Reply
  | ReadonlyArray<Reply>
  | ((request: IncomingRequest) => Reply)

/**
 * A route: `path` is matched exactly against the pathname, or as a prefix when
 * it ends with `/*` (`/api/*` matches `/api/x/y`). `method` defaults to any.
 *
 * @since 0.1.0
 * @category models
 */
export interface Route {
  readonly method?: string
  readonly path: string
  readonly handler: Handler
}
