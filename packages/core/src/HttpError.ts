/**
 * The typed failures of {@link Http}. Every error carries the request method,
 * the URL it concerns and the attempt number, and its `message` says what
 * failed and what to do about it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Http, HttpError } from "@fiberkit/core"
 *
 * const program = Http.get("https://api.example.com/prices").pipe(
 *   Effect.catchTags({
 *     TimeoutError: (e) => Effect.logWarning(`slow upstream: ${e.message}`),
 *     StatusError: (e) => e.status === 404 ? Effect.succeed(undefined) : Effect.fail(e)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@fiberkit/core/HttpError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Fields every HTTP error has.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  /** Request method, upper-case. */
  readonly method: string
  /** The URL the failure concerns (the current hop when redirects were followed). */
  readonly url: string
  /** 1-based attempt number; 0 when the request never left (invalid input). */
  readonly attempt: number
}

const where = (e: Context): string => `${e.method} ${e.url}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`

/**
 * The URL could not be parsed, or its scheme is not `http:`/`https:`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUrl extends Data.TaggedError("InvalidUrl")<Context & {
  readonly reason: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.method} ${JSON.stringify(this.url)}: invalid URL: ${this.reason}. Pass an absolute http(s) URL, or configure a baseUrl for relative ones.`
  }
}

/**
 * The request itself is malformed: a header name or value that HTTP forbids,
 * a body that cannot be sent, an option out of range. Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<Context & {
  readonly reason: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: invalid request: ${this.reason}.`
  }
}

/**
 * Where a transport failure happened: `dns`, `connect` and `tls` while
 * opening a connection; `send` once the request was on its way but before any
 * response arrived (the server may or may not have processed it); `receive`
 * while reading a response whose headers had arrived (a partial response).
 *
 * @since 0.1.0
 * @category models
 */
export type TransportPhase = "dns" | "connect" | "tls" | "send" | "receive"

/**
 * The network failed: name resolution, connection refused or reset, TLS, or
 * the connection closed before the response was complete.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Data.TaggedError("TransportError")<Context & {
  readonly phase: TransportPhase
  /** The system or undici error code, e.g. `ECONNRESET`, `ENOTFOUND`, `UND_ERR_SOCKET`. */
  readonly code: string | undefined
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    const hint = this.phase === "dns"
      ? "Check the host name."
      : this.phase === "connect"
      ? "Check that the server is up and reachable."
      : "The server or network dropped the connection; the request is retried when it is idempotent."
    return `${where(this)}: ${this.phase} failed${this.code ? ` (${this.code})` : ""}: ${detail}. ${hint}`
  }
}

/**
 * Which timeout fired:
 * - `connect`: establishing the TCP/TLS connection;
 * - `headers`: waiting for response headers after the request was sent;
 * - `body`: the gap between two body chunks;
 * - `attempt`: one whole attempt (connect to last byte);
 * - `deadline`: the overall budget across retries and redirects.
 *
 * @since 0.1.0
 * @category models
 */
export type TimeoutPhase = "connect" | "headers" | "body" | "attempt" | "deadline"

/**
 * A timeout fired. Time spent waiting for a concurrency slot or a rate-limit
 * token is never counted.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Data.TaggedError("TimeoutError")<Context & {
  readonly phase: TimeoutPhase
  readonly timeoutMs: number
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const what = {
      connect: "connecting",
      headers: "waiting for response headers",
      body: "waiting for the next body chunk",
      attempt: "for the whole attempt",
      deadline: "for the overall deadline across retries"
    }[this.phase]
    const setting = this.phase === "deadline" ? "total" : this.phase
    return `${where(this)}: timed out after ${this.timeoutMs} ms ${what}. Raise timeouts.${setting} if the server is known to be slow.`
  }
}

/**
 * The server answered with a status the caller did not accept (by default
 * anything outside 2xx). Carries the headers and a bounded excerpt of the body.
 *
 * @since 0.1.0
 * @category errors
 */
export class StatusError extends Data.TaggedError("StatusError")<Context & {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** At most the first 1 KiB of the body, decoded as UTF-8. */
  readonly bodyExcerpt: string
  /** Why the error was not retried, when it was retryable in principle. */
  readonly notRetried?: string | undefined
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const excerpt = this.bodyExcerpt.length > 0 ? `: ${JSON.stringify(this.bodyExcerpt.slice(0, 200))}` : ""
    return `${where(this)}: HTTP ${this.status}${excerpt}${this.notRetried ? ` (not retried: ${this.notRetried})` : ""}`
  }
}

/**
 * The response body exceeded the configured limit (`maxBodyBytes`), either as
 * declared by `Content-Length`, as received, or after decompression.
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<Context & {
  readonly limit: number
  /** Bytes seen when the limit was hit, or the declared length (for `decompressed`: `limit + 1`, decoding stops there). */
  readonly received: number
  readonly stage: "declared" | "received" | "decompressed"
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const seen = this.stage === "decompressed" ? `more than ${this.limit}` : String(this.received)
    return `${where(this)}: response body is larger than the ${this.limit}-byte limit (${this.stage}: ${seen} bytes). Raise maxBodyBytes or stream the body.`
  }
}

/**
 * The body could not be decoded: bad content encoding, bad JSON, or a value
 * that does not match the expected `Schema` (`path` says where).
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<Context & {
  readonly reason: "Encoding" | "Json" | "Schema"
  /** For `Schema` failures: the path of the first failing value, e.g. `["data", 3, "price"]`. */
  readonly path: ReadonlyArray<PropertyKey>
  readonly detail: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const at = this.path.length > 0 ? ` at ${this.path.map((p) => `[${JSON.stringify(String(p))}]`).join("")}` : ""
    return `${where(this)}: could not decode the response (${this.reason})${at}: ${this.detail}`
  }
}

/**
 * Redirects could not be followed: too many hops, a loop, or an invalid
 * `Location`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedirectError extends Data.TaggedError("RedirectError")<Context & {
  readonly reason: "TooMany" | "Loop" | "InvalidLocation"
  /** Every URL visited, in order, starting with the original one and ending with the one refused. */
  readonly chain: ReadonlyArray<string>
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    // The chain ends with the hop that was refused.
    const why = this.reason === "TooMany"
      ? `more than ${this.chain.length - 2} redirects`
      : this.reason === "Loop"
      ? "redirect loop"
      : "redirect with a missing or invalid Location header"
    return `${where(this)}: ${why}: ${this.chain.join(" -> ")}`
  }
}

/**
 * Any error produced by {@link Http}.
 *
 * @since 0.1.0
 * @category models
 */
export type HttpError =
  | InvalidUrl
  | InvalidRequest
  | TransportError
  | TimeoutError
  | StatusError
  | BodyTooLarge
  | DecodeError
  | RedirectError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isHttpError = (u: unknown): u is HttpError => Predicate.hasProperty(u, TypeId)
