/**
 * One HTTP exchange (a single hop of a single attempt) on undici's
 * `dispatch` API, driven by callbacks.
 *
 * Why `dispatch` and not `request` or `fetch`: it hands us raw chunks without a
 * Node or web stream in between and lets us abort without an `AbortSignal`
 * (allocating one per request costs about a third of the throughput).
 *
 * Timeouts: connect is enforced by {@link connector}. Headers, body idle and
 * the whole attempt share one precise timer per exchange: undici's own timers
 * tick at about one-second resolution, so a 200 ms timeout would fire after up
 * to a second. The headers phase starts when undici puts the request on a
 * socket, so time queued for a connection never counts.
 *
 * @internal
 */
import * as zlib from "node:zlib"
import * as Undici from "undici"
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
  /** Read a bounded prefix for an error message; stop early if longer. */
  Excerpt,
  /** Drain a short body so the connection can be reused; abort if longer. */
  Discard,
  /** Hand the body over as a {@link LiveBody} once the headers arrive. */
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
}

/** @internal */
export interface RawResponse {
  readonly status: number
  readonly headers: Headers
  /** The decoded body; for `Excerpt`, at most {@link EXCERPT_TEXT_BYTES} of it. */
  readonly body: Uint8Array
  /** The body still arriving, in `Stream` mode. */
  readonly live: LiveBody | undefined
}

/** Who hears how an exchange ended: exactly one call per exchange. @internal */
export interface Listener {
  bodyMode(status: number, headers: Headers): BodyMode
  onExchange(error: HttpError.HttpError | undefined, response: RawResponse | undefined): void
}

/** Raw bytes read from a body only needed for an error message or a redirect. */
const EXCERPT_BYTES = 64 * 1024
/** Decoded bytes kept of an error body. @internal */
export const EXCERPT_TEXT_BYTES = 1024

const firstHeader = (v: string | Array<string> | undefined): string | undefined => Array.isArray(v) ? v[0] : v

/** Maps an undici / system error to a typed HttpError. @internal */
export const classifyError = (
  cause: unknown,
  prepared: Prepared,
  attempt: number,
  gotHeaders: boolean,
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
  return new HttpError.TransportError({ ...ctx, phase: gotHeaders ? "receive" : "send", code, cause })
}

/** Content-codings in the order they were applied, or undefined for identity. @internal */
export const contentCodings = (headers: Headers): Array<string> | undefined => {
  const value = firstHeader(headers["content-encoding"])
  if (value === undefined) return undefined
  const codings = value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "" && s !== "identity")
  return codings.length === 0 ? undefined : codings
}

// Lenient on a missing trailer: many servers end gzip and deflate streams early.
const LENIENT = { finishFlush: zlib.constants.Z_SYNC_FLUSH }

const isZlibWrapped = (body: Buffer): boolean => ((body[0] ?? 0) & 0x0f) === 8

/** A streaming decoder for one content-coding, or undefined when unsupported. */
const decoderFor = (coding: string, first: Buffer | undefined) => {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip(LENIENT)
    case "br":
      return zlib.createBrotliDecompress()
    case "deflate":
      // "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
      return first === undefined || isZlibWrapped(first) ? zlib.createInflate(LENIENT) : zlib.createInflateRaw(LENIENT)
    default:
      return undefined
  }
}

/** Decodes a fully received body through its content-codings, capped at `maxBytes` of output. */
const decodeBody = (
  codings: Array<string>,
  body: Buffer,
  maxBytes: number,
  done: (error: Error | undefined, out: Buffer | undefined, tooLarge: boolean) => void
): void => {
  let i = codings.length - 1
  const step = (err: Error | null, out: Buffer): void => {
    if (err !== null) return done(err, undefined, (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
    if (i < 0) return done(undefined, out, false)
    const coding = codings[i--] ?? ""
    // maxOutputLength must be at least 1 for zlib; a zero limit still rejects any output.
    const opts = { ...LENIENT, maxOutputLength: Math.max(1, maxBytes) }
    switch (coding) {
      case "gzip":
      case "x-gzip":
        return zlib.gunzip(out, opts, step)
      case "br":
        return zlib.brotliDecompress(out, { maxOutputLength: opts.maxOutputLength }, step)
      case "deflate":
        return isZlibWrapped(out) ? zlib.inflate(out, opts, step) : zlib.inflateRaw(out, opts, step)
      default:
        return done(new Error(`unsupported content-encoding ${JSON.stringify(coding)}`), undefined, false)
    }
  }
  step(null, body)
}

/**
 * Decodes a prefix of a possibly truncated, possibly compressed error body,
 * keeping at most `EXCERPT_TEXT_BYTES`. Never fails: an error body that cannot
 * be decoded is not worth failing the request over.
 */
const decodeExcerpt = (codings: Array<string> | undefined, body: Buffer, done: (out: Buffer) => void): void => {
  if (codings === undefined) return done(body.subarray(0, EXCERPT_TEXT_BYTES))
  if (codings.length !== 1) return done(Buffer.alloc(0))
  const decoder = decoderFor(codings[0] ?? "", body)
  if (decoder === undefined) return done(Buffer.alloc(0))
  const out: Array<Buffer> = []
  let size = 0
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    decoder.destroy()
    done(Buffer.concat(out).subarray(0, EXCERPT_TEXT_BYTES))
  }
  decoder.on("data", (chunk: Buffer) => {
    out.push(chunk)
    size += chunk.length
    if (size >= EXCERPT_TEXT_BYTES) finish()
  })
  decoder.on("end", finish)
  decoder.on("error", finish)
  decoder.end(body)
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
      callback(
        new Undici.errors.ConnectTimeoutError(
          `Connect Timeout Error (attempted address: ${options.hostname}:${options.port}, timeout: ${timeoutMs}ms)`
        ),
        null
      )
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

/**
 * A response body still arriving, consumed by pulls. undici is paused when
 * more than `HIGH_WATER` chunks wait unread, so a slow consumer applies
 * back-pressure to the socket instead of buffering without bound. The size cap
 * applies to the decoded bytes; content-encoding is decoded with a zlib stream.
 * `onSettled` runs once, when the body ends, fails or is cancelled.
 *
 * @internal
 */
export class LiveBody {
  private readonly queue: Array<Buffer> = []
  private ended = false
  private error: HttpError.HttpError | undefined = undefined
  private waiter: ((chunk: Buffer | undefined, error: HttpError.HttpError | undefined) => void) | undefined = undefined
  private decoder: ReturnType<typeof decoderFor> = undefined
  private decoded = 0
  private settled = false
  onSettled: (() => void) | undefined = undefined

  constructor(private readonly exchange: Exchange, private readonly codings: Array<string> | undefined) {}

  private static readonly HIGH_WATER = 16

  /** Raw bytes from the wire. */
  write(chunk: Buffer): void {
    if (this.codings === undefined) return this.accept(chunk)
    if (this.decoder === undefined) {
      const coding = this.codings.length === 1 ? this.codings[0] ?? "" : this.codings.join(", ")
      const decoder = decoderFor(coding, chunk)
      if (decoder === undefined) {
        return this.fail(new HttpError.DecodeError({
          ...this.exchange.ctx(),
          reason: "Encoding",
          path: [],
          detail: `cannot stream content-encoding ${JSON.stringify(coding)}`
        }))
      }
      decoder.on("data", (out: Buffer) => this.accept(out))
      decoder.on("end", () => this.end())
      decoder.on("error", (err) =>
        this.fail(new HttpError.DecodeError({ ...this.exchange.ctx(), reason: "Encoding", path: [], detail: `${coding}: ${err.message}` }))
      )
      this.decoder = decoder
    }
    this.decoder.write(chunk)
  }

  /** The wire body ended. */
  finish(): void {
    if (this.decoder !== undefined) this.decoder.end()
    else this.end()
  }

  private accept(chunk: Buffer): void {
    if (this.ended || this.error !== undefined) return
    this.decoded += chunk.length
    const limit = this.exchange.options.maxBodyBytes
    if (this.decoded > limit) {
      const stage = this.codings === undefined ? "received" : "decompressed"
      // Fail first: the abort reports an error of its own, which must lose.
      this.fail(new HttpError.BodyTooLarge({ ...this.exchange.ctx(), limit, received: this.decoded, stage }))
      return this.exchange.abort(new Error("response body too large"))
    }
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      return waiter(chunk, undefined)
    }
    this.queue.push(chunk)
    if (this.queue.length >= LiveBody.HIGH_WATER) this.exchange.pause()
  }

  private end(): void {
    if (this.ended || this.error !== undefined) return
    this.ended = true
    this.settle()
    this.wake()
  }

  fail(error: HttpError.HttpError): void {
    if (this.ended || this.error !== undefined) return
    this.error = error
    this.decoder?.destroy()
    this.settle()
    this.wake()
  }

  private settle(): void {
    if (this.settled) return
    this.settled = true
    this.exchange.stopTimer()
    this.onSettled?.()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(undefined, this.error)
  }

  /**
   * Delivers the next chunk to `callback` — synchronously when one is queued
   * or the body is over (`undefined` chunk at the end), otherwise when it
   * arrives. One pull at a time.
   */
  pull(callback: (chunk: Buffer | undefined, error: HttpError.HttpError | undefined) => void): void {
    const next = this.queue.shift()
    if (next !== undefined) {
      if (this.queue.length < LiveBody.HIGH_WATER / 2) this.exchange.resume()
      return callback(next, undefined)
    }
    if (this.error !== undefined || this.ended) return callback(undefined, this.error)
    this.waiter = callback
    this.exchange.resume()
  }

  /** Bytes delivered so far, after decoding. */
  get size(): number {
    return this.decoded
  }

  /** Forgets a registered pull (its fiber was interrupted). */
  unpull(): void {
    this.waiter = undefined
  }

  /** Stops the body: aborts the request if it is still arriving. */
  cancel(): void {
    if (!this.ended && this.error === undefined) {
      this.error = new HttpError.TransportError({
        ...this.exchange.ctx(),
        phase: "receive",
        code: undefined,
        cause: new Error("response stream cancelled")
      })
      this.exchange.abort(new Error("response stream cancelled"))
    }
    this.decoder?.destroy()
    this.settle()
  }
}

/**
 * The timer callback, shared by every exchange: a method passed as
 * `this.onTimer` would need a closure per request (and tsx's keepNames
 * wraps each such closure in a defineProperty call).
 */
const fire = (exchange: Exchange): void => exchange.onTimer()

/**
 * One exchange: the undici dispatch handler, its timer, and the body it reads.
 * A class rather than closures: one is allocated per request on the hot path.
 *
 * @internal
 */
export class Exchange implements Undici.Dispatcher.DispatchHandler {
  private controller: Undici.Dispatcher.DispatchController | null = null
  private cancelled: Error | null = null
  private done = false
  private status = 0
  private headers: Headers = {}
  private chunks: Array<Buffer> = []
  private received = 0
  private mode = BodyMode.Full
  private limit = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** performance.now() after which the whole attempt has timed out. */
  private attemptDeadline = Number.POSITIVE_INFINITY
  /** When the timer is armed to fire. */
  private armedFor = Number.POSITIVE_INFINITY
  /** 0 = queued/connecting, 1 = waiting for headers, 2 = reading the body. */
  private phase = 0
  /** Start of the current phase, or the last body chunk. */
  private activityAt = 0
  private live: LiveBody | undefined = undefined
  /** Set when we abort a body we no longer need: the error undici reports for it is ours. */
  private stopping = false
  /** performance.now() at dispatch. */
  startedAt = 0

  constructor(
    readonly prepared: Prepared,
    readonly options: ExchangeOptions,
    private readonly listener: Listener
  ) {}

  ctx(): HttpError.Context {
    return { method: this.prepared.method, url: this.prepared.href, attempt: this.options.attempt }
  }

  /** Sends the request. */
  start(dispatcher: Undici.Dispatcher): void {
    const now = performance.now()
    this.startedAt = now
    this.attemptDeadline = now + this.options.totalTimeoutMs
    // Armed for the headers deadline as if the request went out at once (the
    // common case on a kept-alive connection); if it did not, the timer fires
    // early and re-arms.
    this.arm(now + Math.min(this.options.totalTimeoutMs, this.options.headersTimeoutMs), now)
    const p = this.prepared
    try {
      dispatcher.dispatch({
        origin: p.url.origin,
        path: p.url.pathname + p.url.search,
        method: p.method as Undici.Dispatcher.HttpMethod,
        headers: p.headers,
        body: p.body,
        // Backstops only: this exchange's own timer fires first.
        headersTimeout: this.options.headersTimeoutMs + 2000,
        bodyTimeout: this.options.bodyTimeoutMs + 2000
      }, this)
    } catch (error) {
      this.onResponseError(null, error instanceof Error ? error : new Error(String(error)))
    }
  }

  /** Aborts the exchange without reporting (the caller was interrupted). */
  cancel(): void {
    if (this.live !== undefined) return this.live.cancel()
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.abort(new Error("request interrupted"))
  }

  private succeed(response: RawResponse): void {
    if (this.done) return
    this.done = true
    // A streamed body keeps its idle timer; the attempt timeout ends at the headers.
    if (this.live === undefined) this.stopTimer()
    else this.attemptDeadline = Number.POSITIVE_INFINITY
    this.listener.onExchange(undefined, response)
  }

  private fail(error: HttpError.HttpError): void {
    if (this.live !== undefined) {
      // Fail first: the abort reports an error of its own, which must lose.
      this.live.fail(error)
      return this.abort(new Error(error.message))
    }
    if (this.done) return
    this.done = true
    this.stopTimer()
    this.abort(new Error(error.message))
    this.listener.onExchange(error, undefined)
  }

  abort(reason: Error): void {
    if (this.controller !== null) {
      if (!this.controller.aborted) this.controller.abort(reason)
    } else {
      this.cancelled = reason
    }
  }

  pause(): void {
    this.controller?.pause()
  }

  resume(): void {
    this.controller?.resume()
  }

  stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
  }

  private arm(at: number, now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedFor = at
    this.timer = setTimeout(fire, Math.max(1, Math.ceil(at - now)), this)
  }

  /** Re-arms only when a deadline falls before the armed time (rare: the timer is armed early). */
  private tighten(deadline: number): void {
    const at = deadline < this.attemptDeadline ? deadline : this.attemptDeadline
    if (at < this.armedFor) this.arm(at, this.activityAt)
  }

  /**
   * Fires at the earliest deadline it was armed for, or earlier: re-checks
   * every deadline against the clock and re-arms when none has passed.
   */
  onTimer(): void {
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
    const next = phaseDeadline < this.attemptDeadline ? phaseDeadline : this.attemptDeadline
    if (next < Number.POSITIVE_INFINITY) this.arm(next, now)
  }

  onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    if (this.cancelled !== null) {
      controller.abort(this.cancelled)
      return
    }
    this.controller = controller
    this.phase = 1
    this.activityAt = performance.now()
    this.tighten(this.activityAt + this.options.headersTimeoutMs)
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
    const mode = this.listener.bodyMode(statusCode, headers)
    this.mode = mode
    const reading = mode === BodyMode.Full || mode === BodyMode.Stream
    this.limit = reading ? this.options.maxBodyBytes : EXCERPT_BYTES
    const bodiless = this.prepared.method === "HEAD" || statusCode === 204 || statusCode === 304
    if (reading && !bodiless) {
      const declared = Number(firstHeader(headers["content-length"]))
      if (declared > this.limit) {
        return this.fail(new HttpError.BodyTooLarge({ ...this.ctx(), limit: this.limit, received: declared, stage: "declared" }))
      }
    }
    if (mode === BodyMode.Stream) {
      this.live = new LiveBody(this, this.options.decompress ? contentCodings(headers) : undefined)
      this.succeed({ status: statusCode, headers, body: new Uint8Array(0), live: this.live })
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
      // A body we only needed a prefix of: stop reading; the connection is
      // closed rather than drained.
      if (this.mode === BodyMode.Excerpt) this.chunks.push(chunk)
      this.stopping = true
      this.abort(new Error("response body not needed"))
      return this.finishBody()
    }
    if (this.mode !== BodyMode.Discard) this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    if (this.live !== undefined) return this.live.finish()
    if (this.done) return
    this.finishBody()
  }

  private finishBody(): void {
    const body = this.chunks.length === 1
      ? this.chunks[0] ?? Buffer.alloc(0)
      : this.chunks.length === 0
      ? Buffer.alloc(0)
      : Buffer.concat(this.chunks)
    this.chunks = []
    const codings = this.options.decompress ? contentCodings(this.headers) : undefined
    if (this.mode === BodyMode.Excerpt) {
      // Stop the timer now: decoding an excerpt cannot hang, and the exchange is over.
      this.stopTimer()
      return decodeExcerpt(codings, body, (out) => this.succeed({ status: this.status, headers: this.headers, body: out, live: undefined }))
    }
    if (codings === undefined || this.mode === BodyMode.Discard || body.length === 0) {
      return this.succeed({ status: this.status, headers: this.headers, body, live: undefined })
    }
    const limit = this.options.maxBodyBytes
    decodeBody(codings, body, limit, (error, out, tooLarge) => {
      if (out !== undefined) return this.succeed({ status: this.status, headers: this.headers, body: out, live: undefined })
      this.fail(
        tooLarge
          ? new HttpError.BodyTooLarge({ ...this.ctx(), limit, received: limit + 1, stage: "decompressed" })
          : new HttpError.DecodeError({ ...this.ctx(), reason: "Encoding", path: [], detail: `${codings.join(", ")}: ${error?.message ?? "failed"}` })
      )
    })
  }

  onResponseError(_controller: Undici.Dispatcher.DispatchController | null, error: Error): void {
    const failure = classifyError(error, this.prepared, this.options.attempt, this.phase === 2, {
      connect: this.options.connectTimeoutMs,
      headers: this.options.headersTimeoutMs,
      body: this.options.bodyTimeoutMs
    })
    if (this.live !== undefined) return this.live.fail(failure)
    if (this.done || this.stopping) return
    this.done = true
    this.stopTimer()
    this.listener.onExchange(failure, undefined)
  }
}
