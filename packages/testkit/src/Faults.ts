/**
 * Ready-made {@link Route.Reply}, {@link Route.Handler} and {@link Route.Route}
 * values for {@link TestServer}: plain answers, scripted sequences,
 * `Retry-After`, redirects, latency, injected network faults, encodings and
 * hostile bodies, so that tests read as what they simulate.
 *
 * @example
 * ```ts
 * import { Faults } from "@fiberkit/testkit"
 *
 * const routes = [
 *   Faults.get("/flaky", Faults.sequence(503, 503, Faults.json({ ok: true }))),
 *   Faults.get("/slow", Faults.latency(2_000, Faults.ok("late"))),
 *   Faults.get("/reset", Faults.resetBeforeHeaders),
 *   ...Faults.redirectChain({ prefix: "/hop", hops: 3, target: "/done" })
 * ]
 * ```
 *
 * @since 0.1.0
 */
import { STATUS_CODES } from "node:http"
import { compressedZeros } from "./internal/compressedZeros.js"
import type * as Route from "./Route.js"

/**
 * A `Retry-After` value: delta-seconds, or an HTTP-date.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryAfter = { readonly seconds: number } | { readonly date: Date }

/**
 * A redirect status.
 *
 * @since 0.1.0
 * @category models
 */
export type RedirectStatus = 301 | 302 | 303 | 307 | 308

/**
 * A content encoding the server can apply.
 *
 * @since 0.1.0
 * @category models
 */
export type Encoding = "gzip" | "br" | "deflate"

type Headers = NonNullable<Route.Reply["headers"]>

/** Builds a reply without `undefined` fields, so replies compare and print cleanly. */
const reply = (
  status: number,
  body: Route.Body | undefined,
  headers?: Headers | undefined
): Route.Reply => ({
  status,
  ...(body === undefined ? {} : { body }),
  ...(headers === undefined ? {} : { headers })
})

const statusText = (code: number): string => `${code} ${STATUS_CODES[code] ?? "Unknown"}`

const retryAfterValue = (retryAfter: RetryAfter): string =>
  "seconds" in retryAfter ? String(retryAfter.seconds) : retryAfter.date.toUTCString()

// -----------------------------------------------------------------------------
// routes
// -----------------------------------------------------------------------------

/**
 * A route for `path` (exact, or a prefix when it ends with `/*`), for any
 * method unless `method` is given.
 *
 * @since 0.1.0
 * @category routes
 */
export const route = (path: string, handler: Route.Handler, method?: string): Route.Route =>
  method === undefined ? { path, handler } : { method, path, handler }

/**
 * A `GET` route.
 *
 * @since 0.1.0
 * @category routes
 */
export const get = (path: string, handler: Route.Handler): Route.Route => route(path, handler, "GET")

/**
 * A `POST` route.
 *
 * @since 0.1.0
 * @category routes
 */
export const post = (path: string, handler: Route.Handler): Route.Route => route(path, handler, "POST")

// -----------------------------------------------------------------------------
// plain replies
// -----------------------------------------------------------------------------

/**
 * `200` with an optional body and headers.
 *
 * @since 0.1.0
 * @category replies
 */
export const ok = (body?: Route.Body, headers?: Headers): Route.Reply => reply(200, body, headers)

/**
 * A JSON body (`content-type: application/json`), `200` unless `status` is given.
 *
 * @since 0.1.0
 * @category replies
 */
export const json = (value: unknown, status: number = 200): Route.Reply => reply(status, { json: value })

/**
 * Any status with an optional body.
 *
 * @since 0.1.0
 * @category replies
 */
export const status = (code: number, body?: Route.Body): Route.Reply => reply(code, body)

/**
 * A scripted sequence: hit `n` gets element `n - 1`, the last one repeats.
 * Numbers stand for that status with a short text body such as
 * `503 Service Unavailable`.
 *
 * @example
 * ```ts
 * Faults.sequence(503, 503, Faults.json({ ok: true })) // fails twice, then succeeds for good
 * ```
 *
 * @since 0.1.0
 * @category replies
 */
export const sequence = (...replies: Array<number | Route.Reply>): ReadonlyArray<Route.Reply> =>
  replies.map((r) => (typeof r === "number" ? reply(r, statusText(r)) : r))

/**
 * `429 Too Many Requests` with `Retry-After` in delta-seconds (sent as
 * given, so fractional or negative values can test lenient parsers) or as
 * an HTTP-date.
 *
 * @since 0.1.0
 * @category replies
 */
export const tooManyRequests = (retryAfter: RetryAfter, body?: Route.Body): Route.Reply =>
  reply(429, body ?? statusText(429), { "retry-after": retryAfterValue(retryAfter) })

/**
 * `503 Service Unavailable`, with `Retry-After` when given.
 *
 * @since 0.1.0
 * @category replies
 */
export const unavailable = (retryAfter?: RetryAfter): Route.Reply =>
  reply(503, statusText(503), retryAfter === undefined ? undefined : { "retry-after": retryAfterValue(retryAfter) })

/**
 * A redirect to `location` (`302` unless `status` is given).
 *
 * @since 0.1.0
 * @category replies
 */
export const redirect = (location: string, status: RedirectStatus = 302): Route.Reply =>
  reply(status, undefined, { location })

/**
 * Routes `prefix/1` → `prefix/2` → … → `prefix/hops` → `target`: `hops`
 * redirects before reaching `target` (which you route yourself).
 *
 * @since 0.1.0
 * @category routes
 */
export const redirectChain = (options: {
  readonly prefix: string
  readonly hops: number
  readonly status?: RedirectStatus
  readonly target: string
}): ReadonlyArray<Route.Route> => {
  const prefix = options.prefix.endsWith("/") ? options.prefix.slice(0, -1) : options.prefix
  const routes: Array<Route.Route> = []
  for (let hop = 1; hop <= options.hops; hop++) {
    const next = hop === options.hops ? options.target : `${prefix}/${hop + 1}`
    routes.push(route(`${prefix}/${hop}`, redirect(next, options.status)))
  }
  return routes
}

/**
 * Routes `a` → `b` → `a`: a redirect loop a client must detect.
 *
 * @since 0.1.0
 * @category routes
 */
export const redirectLoop = (a: string, b: string, status?: RedirectStatus): ReadonlyArray<Route.Route> => [
  route(a, redirect(b, status)),
  route(b, redirect(a, status))
]

/**
 * Delays `reply` (default: an empty `200`) by `ms` before the headers, a
 * fixed number or uniformly random in `[min, max]` from the server's seed.
 *
 * @since 0.1.0
 * @category replies
 */
export const latency = (ms: Route.Latency, reply: Route.Reply = {}): Route.Reply => ({ ...reply, latency: ms })

// -----------------------------------------------------------------------------
// network faults
// -----------------------------------------------------------------------------

/**
 * The connection is reset (TCP RST) before anything is sent: the client sees
 * `ECONNRESET` or "socket closed".
 *
 * @since 0.1.0
 * @category faults
 */
export const resetBeforeHeaders: Route.Reply = { fault: { _tag: "ResetBeforeHeaders" } }

/**
 * `200` with the headers of `body` and its first `afterBytes` bytes (fewer
 * than its length), then a reset: the failure happens while reading the body.
 *
 * @since 0.1.0
 * @category faults
 */
export const resetMidBody = (afterBytes: number, body: Route.Body): Route.Reply => ({
  status: 200,
  body,
  fault: { _tag: "ResetMidBody", afterBytes }
})

/**
 * `200` headers are sent, then nothing, ever: tests body/idle timeouts.
 *
 * @since 0.1.0
 * @category faults
 */
export const stall = (headers?: Headers): Route.Reply => ({
  status: 200,
  ...(headers === undefined ? {} : { headers }),
  fault: { _tag: "Stall" }
})

/**
 * The request is accepted and nothing is ever sent: tests connect-vs-response
 * timeouts.
 *
 * @since 0.1.0
 * @category faults
 */
export const stallBeforeHeaders: Route.Reply = { fault: { _tag: "StallBeforeHeaders" } }

/**
 * Headers at once, then `body` `chunkBytes` at a time, one chunk every
 * `intervalMs` (chunk `k` at about `k × intervalMs`).
 *
 * @since 0.1.0
 * @category faults
 */
export const drip = (body: Route.Body, chunkBytes: number, intervalMs: number): Route.Reply => ({
  status: 200,
  body,
  fault: { _tag: "Drip", chunkBytes, intervalMs }
})

/**
 * `Content-Length: declaredLength`, but only `body` (shorter) is sent before
 * the connection closes: the client must notice the short body.
 *
 * @since 0.1.0
 * @category faults
 */
export const truncated = (body: Route.Body, declaredLength: number): Route.Reply => ({
  status: 200,
  body,
  fault: { _tag: "Truncated", declaredLength }
})

// -----------------------------------------------------------------------------
// bodies
// -----------------------------------------------------------------------------

/**
 * `body` compressed with `encoding`, with `content-encoding` and the
 * compressed `content-length` set.
 *
 * @since 0.1.0
 * @category bodies
 */
export const encoded = (
  encoding: Encoding,
  body: Route.Body,
  extra?: Omit<Route.Reply, "body" | "encoding">
): Route.Reply => ({ status: 200, ...extra, body, encoding })

/**
 * A decompression bomb: `decompressedBytes` zeros, compressed (gzip unless
 * told otherwise). The compressed bytes are built once per size and
 * encoding without materialising the zeros; 1 GiB is about 1 MB gzipped and
 * under 1 KB as brotli. Tests that clients cap decoded sizes.
 *
 * @since 0.1.0
 * @category bodies
 */
export const bomb = (options: { readonly decompressedBytes: number; readonly encoding?: Encoding }): Route.Reply => {
  const encoding = options.encoding ?? "gzip"
  return {
    status: 200,
    headers: { "content-type": "application/octet-stream", "content-encoding": encoding },
    body: compressedZeros(options.decompressedBytes, encoding)
  }
}

const oversizedBodies = new Map<number, WeakRef<Uint8Array>>()

/**
 * A `bytes`-long body (of `x`s), to test size limits. Bodies are shared
 * between replies of the same size while any is alive, and a reply's bytes
 * are sent as is on every request.
 *
 * @since 0.1.0
 * @category bodies
 */
export const oversized = (bytes: number, contentType: string = "application/octet-stream"): Route.Reply => {
  let body = oversizedBodies.get(bytes)?.deref()
  if (body === undefined) {
    body = Buffer.alloc(bytes, "x")
    oversizedBodies.set(bytes, new WeakRef(body))
  }
  return { status: 200, headers: { "content-type": contentType }, body }
}

/**
 * `body` served with a misleading `content-type` (HTML unless told
 * otherwise), e.g. JSON labelled `text/html`.
 *
 * @since 0.1.0
 * @category bodies
 */
export const wrongContentType = (body: Route.Body, contentType: string = "text/html; charset=utf-8"): Route.Reply =>
  reply(200, body, { "content-type": contentType })

/**
 * `content-type: application/json` with a body that is not valid JSON.
 *
 * @since 0.1.0
 * @category bodies
 */
export const malformedJson = (text: string = "{\"a\": 1,"): Route.Reply =>
  reply(200, text, { "content-type": "application/json" })

const decoder = new TextDecoder()

/**
 * Replies with JSON `{ method, path, headers, body }` (body as text): what
 * the client really sent.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo: Route.Handler = (request) =>
  json({
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: decoder.decode(request.body)
  })
