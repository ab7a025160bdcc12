/**
 * One HTTP exchange (a single hop of a single attempt) on undici's
 * `dispatch` API.
 *
 * Why `dispatch` and not `request` or `fetch`: it hands us raw chunks without a
 * Node or web stream in between and lets us abort without an `AbortSignal`
 * (allocating one per request costs about a third of the throughput).
 *
 * Timeouts: connect is undici's (set on the pool). Headers, body idle and the
 * whole attempt share one precise timer per exchange: undici's own header and
 * body timers tick at about one-second resolution, so a 200 ms timeout would
 * fire after up to a second. The headers phase starts when undici puts the
 * request on a socket, so time queued for a connection never counts.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Undici from "undici"
import * as zlib from "node:zlib"
import * as HttpError from "../HttpError.js"

/** @internal */
export type Headers = Record<string, string | Array<string> | undefined>

/** A validated request, ready for the wire. @internal */
export interface Prepared {
  readonly method: string
  readonly url: URL
  /** `url.href`, kept to avoid re-serialising it. */
  readonly href: string
  readonly headers: Record<string, string>
  readonly body: Uint8Array | string | null
}

/** What to do with the body once the status is known. @internal */
export const enum BodyMode {
  /** Read it all (bounded by maxBodyBytes) and decode content-encoding. */
  Full,
  /** Read a bounded prefix for an error message; abort if longer. */
  Excerpt,
  /** Drain a short body so the connection can be reused; abort if longer. */
  Discard,
  /** Resolve at the headers and hand the body over as a {@link LiveBody}. */
  Stream
}

/** @internal */
export interface ExchangeOptions {
  readonly attempt: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  readonly connectTimeoutMs: number
  /** Timer over the whole exchange, and which phase to report when it fires. */
  readonly totalTimeoutMs: number
  readonly totalPhase: "attempt" | "deadline"
  readonly maxBodyBytes: number
  readonly decompress: boolean
  readonly bodyMode: (status: number, headers: Headers) => BodyMode
}

/** @internal */
export interface RawResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: Uint8Array
  /** False when an excerpt/discard read stopped early. */
  readonly complete: boolean
  /** The body still arriving, in `Stream` mode. */
  readonly live?: LiveBody | undefined
  /** Releases the exchange's concurrency slots early (when a streamed body ends). */
  readonly release?: Effect.Effect<void> | undefined
}

const EXCERPT_BYTES = 64 * 1024

const firstHeader = (v: string | Array<string> | undefined): string | undefined => Array.isArray(v) ? v[0] : v

/** Maps an undici / system error to a typed HttpError. @internal */
export const classifyError = (
  cause: unknown,
  prepared: Prepared,
  attempt: number,
  sent: boolean,
  timeouts: { readonly connect: number; readonly headers: number; readonly body: number }
): HttpError.HttpError => {
  if (HttpError.isHttpError(cause)) return cause
  const ctx = { method: prepared.method, url: prepared.href, attempt }
  const code = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return new HttpError.TimeoutError({ ...ctx, phase: "connect", timeoutMs: timeouts.connect })
    case "UND_ERR_HEADERS_TIMEOUT":
      return new HttpError.TimeoutError({ ...ctx, phase: "headers", timeoutMs: timeouts.headers })
    case "UND_ERR_BODY_TIMEOUT":
      return new HttpError.TimeoutError({ ...ctx, phase: "body", timeoutMs: timeouts.body })
    case "UND_ERR_INVALID_ARG":
    case "ERR_INVALID_ARG_TYPE":
    case "ERR_INVALID_HTTP_TOKEN":
    case "ERR_INVALID_CHAR":
      return new HttpError.InvalidRequest({ ...ctx, attempt: 0, reason: cause instanceof Error ? cause.message : String(cause) })
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return new HttpError.TransportError({ ...ctx, phase: "dns", code, cause })
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "EADDRNOTAVAIL":
    case "ETIMEDOUT":
      return new HttpError.TransportError({ ...ctx, phase: "connect", code, cause })
  }
  if (code !== undefined && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code)) {
    return new HttpError.TransportError({ ...ctx, phase: "tls", code, cause })
  }
  return new HttpError.TransportError({ ...ctx, phase: sent ? "receive" : "send", code, cause })
}

const decodeEncoding = (
  encoding: string,
  body: Buffer,
  maxOutputLength: number,
  cb: (err: Error | null, out: Buffer) => void
): void => {
  const opts = { maxOutputLength }
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      // Lenient on a missing trailer: many servers end gzip streams early.
      return zlib.gunzip(body, { ...opts, finishFlush: zlib.constants.Z_SYNC_FLUSH }, cb)
    case "br":
      return zlib.brotliDecompress(body, opts, cb)
    case "deflate":
      // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
      return ((body[0] ?? 0) & 0x0f) === 8
        ? zlib.inflate(body, { ...opts, finishFlush: zlib.constants.Z_SYNC_FLUSH }, cb)
        : zlib.inflateRaw(body, { ...opts, finishFlush: zlib.constants.Z_SYNC_FLUSH }, cb)
    default:
      return cb(new Error(`unsupported content-encoding ${JSON.stringify(encoding)}`), body)
  }
}

/** Content-codings, outermost last, or undefined for identity. @internal */
export const contentCodings = (headers: Headers): Array<string> | undefined => {
  const value = firstHeader(headers["content-encoding"])
  if (value === undefined) return undefined
  const codings = value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "" && s !== "identity")
  return codings.length === 0 ? undefined : codings
}

/** Decodes a fully received body through its content-codings. @internal */
export const decodeBody = (
  codings: Array<string>,
  body: Buffer,
  maxBodyBytes: number,
  ctx: HttpError.Context
): Effect.Effect<Buffer, HttpError.BodyTooLarge | HttpError.DecodeError> =>
  Effect.async((resume) => {
    let i = codings.length - 1
    const step = (err: Error | null, out: Buffer): void => {
      if (err !== null) {
        const code = (err as NodeJS.ErrnoException).code
        return resume(Effect.fail(
          code === "ERR_BUFFER_TOO_LARGE"
            ? new HttpError.BodyTooLarge({ ...ctx, limit: maxBodyBytes, received: maxBodyBytes + 1, stage: "decompressed" })
            : new HttpError.DecodeError({ ...ctx, reason: "Encoding", path: [], detail: `${codings.join(", ")}: ${err.message}` })
        ))
      }
      if (i < 0) return resume(Effect.succeed(out))
      const coding = codings[i--]!
      // maxOutputLength must be at least 1 for zlib; an empty limit still rejects any output.
      decodeEncoding(coding, out, Math.max(1, maxBodyBytes), step)
    }
    step(null, body)
  })

/**
 * A response body still arriving, consumed as pulls. Undici is paused when
 * more than `HIGH_WATER` chunks wait unread, so a slow consumer applies
 * back-pressure to the socket instead of buffering without bound. The size
 * cap applies to the decoded bytes; content-encoding is decoded with a zlib
 * stream.
 *
 * @internal
 */
export class LiveBody {
  private readonly queue: Array<Buffer> = []
  private ended = false
  private error: HttpError.HttpError | undefined = undefined
  private waiter: ((effect: Effect.Effect<Buffer, HttpError.HttpError | undefined>) => void) | undefined = undefined
  private decoder: zlib.Gunzip | zlib.BrotliDecompress | zlib.Inflate | zlib.InflateRaw | undefined = undefined
  private decoded = 0
  private readonly highWater = 16

  constructor(
    private readonly handler: ExchangeHandler,
    codings: Array<string> | undefined
  ) {
    if (codings !== undefined) {
      if (codings.length > 1) {
        this.fail(new HttpError.DecodeError({
          ...handler.ctx(),
          reason: "Encoding",
          path: [],
          detail: `streaming supports one content-coding, got ${codings.join(", ")}`
        }))
        return
      }
      const coding = codings[0]!
      const decoder = coding === "gzip" || coding === "x-gzip"
        ? zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH })
        : coding === "br"
        ? zlib.createBrotliDecompress()
        : coding === "deflate"
        ? zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH })
        : undefined
      if (decoder === undefined) {
        this.fail(new HttpError.DecodeError({ ...handler.ctx(), reason: "Encoding", path: [], detail: `unsupported content-encoding ${JSON.stringify(coding)}` }))
        return
      }
      decoder.on("data", (chunk: Buffer) => this.accept(chunk))
      decoder.on("end", () => this.end())
      decoder.on("error", (err) =>
        this.fail(new HttpError.DecodeError({ ...handler.ctx(), reason: "Encoding", path: [], detail: `${coding}: ${err.message}` })))
      this.decoder = decoder
    }
  }

  /** Raw bytes from the wire. */
  write(chunk: Buffer): void {
    if (this.decoder !== undefined) this.decoder.write(chunk)
    else this.accept(chunk)
  }

  /** The wire body ended. */
  finish(): void {
    if (this.decoder !== undefined) this.decoder.end()
    else this.end()
  }

  private accept(chunk: Buffer): void {
    if (this.ended || this.error !== undefined) return
    this.decoded += chunk.length
    const limit = this.handler.options.maxBodyBytes
    if (this.decoded > limit) {
      const stage = this.decoder === undefined ? "received" : "decompressed"
      this.fail(new HttpError.BodyTooLarge({ ...this.handler.ctx(), limit, received: this.decoded, stage }))
      this.handler.abort(new Error("response body too large"))
      return
    }
    if (this.waiter !== undefined) {
      const waiter = this.waiter
      this.waiter = undefined
      return waiter(Effect.succeed(chunk))
    }
    this.queue.push(chunk)
    if (this.queue.length >= this.highWater) this.handler.controller?.pause()
  }

  private end(): void {
    if (this.ended || this.error !== undefined) return
    this.ended = true
    this.wake()
  }

  fail(error: HttpError.HttpError): void {
    if (this.ended || this.error !== undefined) return
    this.error = error
    this.decoder?.destroy()
    this.wake()
  }

  private wake(): void {
    if (this.waiter === undefined) return
    const waiter = this.waiter
    this.waiter = undefined
    waiter(this.error !== undefined ? Effect.fail(this.error) : Effect.fail(undefined))
  }

  /** The next chunk; fails with `undefined` at the end of the body. */
  readonly pull: Effect.Effect<Buffer, HttpError.HttpError | undefined> = Effect.suspend(() => {
    const next = this.queue.shift()
    if (next !== undefined) {
      if (this.queue.length < this.highWater / 2) this.handler.controller?.resume()
      return Effect.succeed(next)
    }
    if (this.error !== undefined) return Effect.fail(this.error)
    if (this.ended) return Effect.fail(undefined)
    return Effect.async<Buffer, HttpError.HttpError | undefined>((resume) => {
      this.waiter = resume
      this.handler.controller?.resume()
      return Effect.sync(() => {
        this.waiter = undefined
      })
    })
  })

  /** Stops the body: aborts the request if it is still arriving. */
  cancel(): void {
    this.handler.stopTimer()
    if (!this.ended && this.error === undefined) {
      this.error = new HttpError.TransportError({ ...this.handler.ctx(), phase: "receive", code: undefined, cause: new Error("stream cancelled") })
      this.handler.abort(new Error("response stream cancelled"))
    }
    this.decoder?.destroy()
  }
}

/**
 * The dispatch handler of one exchange. A class rather than closures: it is
 * allocated once per request on the hot path.
 */
class ExchangeHandler implements Undici.Dispatcher.DispatchHandler {
  controller: Undici.Dispatcher.DispatchController | null = null
  cancelled: Error | null = null
  done = false
  status = 0
  headers: Headers = {}
  chunks: Array<Buffer> = []
  received = 0
  mode = BodyMode.Full
  limit = 0
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** performance.now() after which the whole attempt has timed out. */
  attemptDeadline = Number.POSITIVE_INFINITY
  /** When the timer is armed to fire. */
  armedFor = Number.POSITIVE_INFINITY
  /** 0 = queued/connecting, 1 = waiting for headers, 2 = reading the body. */
  phase = 0
  /** Start of the current phase, or the last body chunk. */
  activityAt = 0
  sent = false
  live: LiveBody | undefined = undefined

  constructor(
    readonly prepared: Prepared,
    readonly options: ExchangeOptions,
    readonly resume: (effect: Effect.Effect<RawResponse, HttpError.HttpError>) => void
  ) {}

  ctx(): HttpError.Context {
    return { method: this.prepared.method, url: this.prepared.href, attempt: this.options.attempt }
  }

  finish(effect: Effect.Effect<RawResponse, HttpError.HttpError>): void {
    if (this.done) return
    this.done = true
    // A streamed body keeps its idle timer; the attempt timeout ends at the headers.
    if (this.live === undefined) this.stopTimer()
    else this.attemptDeadline = Number.POSITIVE_INFINITY
    this.resume(effect)
  }

  stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
  }

  arm(at: number, now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedFor = at
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - now)))
  }

  /**
   * Fires at the earliest deadline it was armed for, or earlier (it is armed
   * from dispatch, before the phase it guards has started): re-checks every
   * deadline against the clock and re-arms when none has passed.
   */
  readonly onTimer = (): void => {
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
    const now = performance.now()
    const o = this.options
    if (now >= this.attemptDeadline) {
      return this.fail(new HttpError.TimeoutError({ ...this.ctx(), phase: o.totalPhase, timeoutMs: o.totalTimeoutMs }))
    }
    let phaseDeadline = Number.POSITIVE_INFINITY
    if (this.phase === 1) {
      phaseDeadline = this.activityAt + o.headersTimeoutMs
    } else if (this.phase === 2) {
      // A consumer that is slow to pull (back-pressure) is not an idle server.
      if (this.controller?.paused === true) this.activityAt = now
      phaseDeadline = this.activityAt + o.bodyTimeoutMs
    }
    if (now >= phaseDeadline) {
      const phase = this.phase === 1 ? "headers" : "body"
      const timeoutMs = this.phase === 1 ? o.headersTimeoutMs : o.bodyTimeoutMs
      return this.fail(new HttpError.TimeoutError({ ...this.ctx(), phase, timeoutMs }))
    }
    const next = Math.min(this.attemptDeadline, phaseDeadline)
    if (next < Number.POSITIVE_INFINITY) this.arm(next, now)
  }

  fail(error: HttpError.HttpError): void {
    if (this.live !== undefined) {
      this.stopTimer()
      this.live.fail(error)
    } else {
      this.finish(Effect.fail(error))
    }
    this.abort(new Error(error.message))
  }

  abort(reason: Error): void {
    if (this.controller !== null) {
      if (!this.controller.aborted) this.controller.abort(reason)
    } else {
      this.cancelled = reason
    }
  }

  onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    this.sent = true
    if (this.cancelled !== null) {
      controller.abort(this.cancelled)
      return
    }
    this.controller = controller
    this.phase = 1
    this.activityAt = performance.now()
    this.tighten(this.activityAt + this.options.headersTimeoutMs)
  }

  /** Re-arms only when a phase deadline falls before the armed time (rare: the timer is armed early). */
  tighten(deadline: number): void {
    const at = Math.min(deadline, this.attemptDeadline)
    if (at < this.armedFor) this.arm(at, this.activityAt)
  }

  onResponseStart(
    _controller: Undici.Dispatcher.DispatchController,
    statusCode: number,
    headers: Headers
  ): void {
    if (statusCode < 200 || this.done) return
    this.phase = 2
    this.activityAt = performance.now()
    this.tighten(this.activityAt + this.options.bodyTimeoutMs)
    this.status = statusCode
    this.headers = headers
    this.mode = this.options.bodyMode(statusCode, headers)
    const reading = this.mode === BodyMode.Full || this.mode === BodyMode.Stream
    this.limit = reading ? this.options.maxBodyBytes : Math.min(EXCERPT_BYTES, this.options.maxBodyBytes)
    if (reading) {
      const declared = Number(firstHeader(headers["content-length"]))
      if (declared > this.limit) {
        return this.fail(new HttpError.BodyTooLarge({ ...this.ctx(), limit: this.limit, received: declared, stage: "declared" }))
      }
    }
    if (this.mode === BodyMode.Stream) {
      this.live = new LiveBody(this, this.options.decompress ? contentCodings(headers) : undefined)
      this.finish(Effect.succeed({ status: statusCode, headers, body: new Uint8Array(0), complete: false, live: this.live }))
    }
  }

  onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Buffer): void {
    this.activityAt = performance.now()
    if (this.live !== undefined) return this.live.write(chunk)
    if (this.done) return
    this.received += chunk.length
    if (this.received > this.limit) {
      if (this.mode === BodyMode.Full) {
        return this.fail(
          new HttpError.BodyTooLarge({ ...this.ctx(), limit: this.limit, received: this.received, stage: "received" })
        )
      }
      // An error or redirect body we only needed a prefix of: stop reading; the
      // connection is closed rather than drained.
      if (this.mode === BodyMode.Excerpt) this.chunks.push(chunk)
      this.finish(Effect.succeed({ status: this.status, headers: this.headers, body: this.concat(), complete: false }))
      this.abort(new Error("response body not needed"))
      return
    }
    if (this.mode !== BodyMode.Discard) this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    if (this.live !== undefined) {
      this.stopTimer()
      return this.live.finish()
    }
    if (this.done) return
    const body = this.concat()
    const codings = this.options.decompress ? contentCodings(this.headers) : undefined
    if (codings === undefined || this.mode === BodyMode.Discard || body.length === 0) {
      return this.finish(Effect.succeed({ status: this.status, headers: this.headers, body, complete: true }))
    }
    const limit = this.mode === BodyMode.Full ? this.options.maxBodyBytes : EXCERPT_BYTES
    this.finish(Effect.map(
      decodeBody(codings, body, limit, this.ctx()),
      (decoded): RawResponse => ({ status: this.status, headers: this.headers, body: decoded, complete: true })
    ))
  }

  onResponseError(_controller: Undici.Dispatcher.DispatchController | null, error: Error): void {
    const failure = classifyError(error, this.prepared, this.options.attempt, this.sent, {
      connect: this.options.connectTimeoutMs,
      headers: this.options.headersTimeoutMs,
      body: this.options.bodyTimeoutMs
    })
    if (this.live !== undefined) {
      this.stopTimer()
      return this.live.fail(failure)
    }
    this.finish(Effect.fail(failure))
  }

  concat(): Buffer {
    const chunks = this.chunks
    return chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(chunks, this.received)
  }
}

/**
 * undici's connector with a precise connect timeout. undici's own connect
 * timer runs on its ~1 s tick, so it is kept only as a backstop; this timer
 * fails the connection attempt on time, with undici's own error type so the
 * rest of the stack sees an ordinary connect timeout.
 *
 * @internal
 */
export const connector = (timeoutMs: number): Undici.buildConnector.connector => {
  const base = Undici.buildConnector({ timeout: timeoutMs + 2000 })
  return (options, callback) => {
    let settled = false
    let socket: unknown
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      if (typeof socket === "object" && socket !== null && "destroy" in socket && typeof socket.destroy === "function") {
        socket.destroy()
      }
      callback(new Undici.errors.ConnectTimeoutError(`Connect Timeout Error (attempted address: ${options.hostname}:${options.port}, timeout: ${timeoutMs}ms)`), null)
    }, timeoutMs)
    // The connector returns the socket although its type says void.
    socket = (base as (o: typeof options, cb: typeof callback) => unknown)(options, (...args) => {
      clearTimeout(timer)
      if (settled) {
        const late = args[1]
        if (late !== null) late.destroy()
        return
      }
      settled = true
      callback(...args)
    })
  }
}

/** @internal */
export const dispatchOptions = (
  prepared: Prepared,
  options: Pick<ExchangeOptions, "headersTimeoutMs" | "bodyTimeoutMs">
): Undici.Dispatcher.DispatchOptions => ({
  origin: prepared.url.origin,
  path: prepared.url.pathname + prepared.url.search,
  method: prepared.method as Undici.Dispatcher.HttpMethod,
  headers: prepared.headers,
  body: prepared.body,
  // Backstops only: the exchange's own timer fires first (undici's tick is ~1 s).
  headersTimeout: options.headersTimeoutMs + 2000,
  bodyTimeout: options.bodyTimeoutMs + 2000
})

/**
 * Runs one exchange. In `Full`, `Excerpt` and `Discard` modes the effect
 * completes with the body read; in `Stream` mode it completes at the headers
 * with a {@link LiveBody}. Interrupting the effect before it completes aborts
 * the request (the socket is destroyed when it was already in use).
 *
 * @internal
 */
export const exchange = (
  dispatcher: Undici.Dispatcher,
  prepared: Prepared,
  options: ExchangeOptions
): Effect.Effect<RawResponse, HttpError.HttpError> =>
  Effect.async<RawResponse, HttpError.HttpError>((resume) => {
    const handler = new ExchangeHandler(prepared, options, resume)
    const now = performance.now()
    handler.attemptDeadline = now + options.totalTimeoutMs
    // Armed for the headers deadline as if the request went out at once (the
    // common case on a kept-alive connection); if it did not, the timer fires
    // early and re-arms.
    handler.arm(now + Math.min(options.totalTimeoutMs, options.headersTimeoutMs), now)
    try {
      dispatcher.dispatch(dispatchOptions(prepared, options), handler)
    } catch (error) {
      handler.onResponseError(null, error instanceof Error ? error : new Error(String(error)))
    }
    return Effect.sync(() => {
      if (handler.done) return
      handler.done = true
      handler.stopTimer()
      handler.abort(new Error("request interrupted"))
    })
  })

