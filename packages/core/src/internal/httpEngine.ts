/**
 * The request engine behind `Http`: one {@link Call} per logical request
 * drives limits, exchanges and redirects as a callback state machine, and
 * leaves the fiber only for what needs the Effect runtime — sleeping on the
 * `Clock` (rate waits, retry backoff), the retry decision (`Clock`, `Random`),
 * and the final decode.
 *
 * Why a state machine: every Effect combinator on the per-request path costs
 * about a microsecond, and a request that takes a global slot, a per-host
 * slot and a rate token, runs under a span with a timeout and a retry loop,
 * was spending more time in combinators than undici spends on the wire. Here
 * the happy path is one `Effect.async` plus one `flatMap`.
 *
 * @internal
 */
import * as Net from "node:net"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Tracer from "effect/Tracer"
import type * as Undici from "undici"
import type * as Http from "../Http.js"
import * as HttpError from "../HttpError.js"
import type * as KeyedRateLimiter from "../KeyedRateLimiter.js"
import type * as KeyedSemaphore from "../KeyedSemaphore.js"
import * as Retry from "../Retry.js"
import * as metrics from "./httpMetrics.js"
import * as transport from "./transport.js"

/** Per-call knobs, resolved against the settings. @internal */
export interface Plan {
  readonly headersMs: number
  readonly bodyMs: number
  readonly attemptMs: number
  readonly totalMs: number
  readonly retry: Retry.Policy
  readonly maxBodyBytes: number
  readonly maxRedirects: number
  readonly follow: ((from: URL, to: URL, status: number) => boolean) | undefined
  readonly accept: ((status: number) => boolean) | undefined
  readonly hostKey: string | undefined
  /**
   * Read every body in full and, when retries end on a status the caller does
   * not accept, return that response instead of a `StatusError` (the
   * platform `HttpClient` convention).
   */
  readonly statusAsResponse: boolean
}

/** What `finish` knows about the final hop. @internal */
export interface Final {
  readonly method: string
  readonly url: string
  readonly redirects: ReadonlyArray<Http.Redirect>
  readonly attempts: number
}

/** The limits and pool shared by every call of one `Http` service. @internal */
export class Engine {
  constructor(
    /** The pool, used directly for IP-literal hosts. */
    readonly direct: Undici.Dispatcher,
    /** The pool behind the DNS cache, for host names (the cache parses every origin, so IPs skip it). */
    readonly resolving: Undici.Dispatcher,
    readonly settings: Http.Settings,
    readonly global: KeyedSemaphore.KeyedSemaphore<string> | undefined,
    readonly perHost: KeyedSemaphore.KeyedSemaphore<string> | undefined,
    readonly rate: KeyedRateLimiter.KeyedRateLimiter<string> | undefined,
    readonly registry: metrics.Registry,
    /** The Clock the service was made under (Retry-After dates are relative to it). */
    readonly clock: Clock.Clock
  ) {}
}

type Signal =
  | { readonly _tag: "Done"; readonly response: transport.RawResponse }
  | {
    readonly _tag: "Failed"
    readonly error: HttpError.HttpError
    /** The response behind a `StatusError`, for `statusAsResponse`. */
    readonly response: transport.RawResponse | undefined
  }
  | { readonly _tag: "Wait"; readonly ms: number }

const GLOBAL = "*"
const REDIRECTS = new Set([301, 302, 303, 307, 308])
const SENSITIVE = ["authorization", "cookie", "proxy-authorization"]
const CONTENT_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"]

// 3xx responses that reach this check were not followed (redirects off, or refused by followRedirect).
const isAccepted = (status: number) => status >= 200 && status < 400

/** An IPv4 or bracketed IPv6 literal (checked cheaply first: most host names start with a letter). */
const isIpLiteral = (hostname: string): boolean => {
  const c = hostname.charCodeAt(0)
  return c === 91 || (c >= 48 && c <= 57 && Net.isIP(hostname) !== 0)
}

const firstHeader = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v?.[0]

const utf8 = new TextDecoder("utf-8", { fatal: false })

/** The request for the next hop, per RFC 9110 §15.4 and the fetch standard. */
const nextHop = (prepared: transport.Prepared, status: number, target: URL): transport.Prepared => {
  const toGet = status === 303 ? prepared.method !== "HEAD" : (status === 301 || status === 302) && prepared.method === "POST"
  const headers: Record<string, string> = { ...prepared.headers }
  if (toGet) for (const name of CONTENT_HEADERS) delete headers[name]
  if (target.origin !== prepared.url.origin) for (const name of SENSITIVE) delete headers[name]
  target.hash = ""
  return { method: toGet ? "GET" : prepared.method, url: target, href: target.href, headers, body: toGet ? null : prepared.body }
}

/**
 * One logical request: its retries, its redirects, the slots it holds. It is
 * its own undici listener, and `step` runs it until it has something for the
 * fiber: a response, a failure, or a wait on the Clock.
 *
 * @internal
 */
export class Call<A> implements transport.Listener, Final {
  private prepared: transport.Prepared
  attempts = 1
  private spentMs = 0
  readonly redirects: Array<Http.Redirect> = []
  private key: string
  private host: metrics.HostMetrics
  private holdsHost = false
  private holdsGlobal = false
  /** Withdraws a pending wait for a slot. */
  private withdraw: (() => void) | undefined = undefined
  private exchange: transport.Exchange | undefined = undefined
  private resume: ((effect: Effect.Effect<A, HttpError.HttpError>) => void) | undefined = undefined
  private readonly following: boolean
  private readonly accept: (status: number) => boolean
  /** Runs the call until its outcome; re-entered after each wait on the Clock. */
  readonly run: Effect.Effect<A, HttpError.HttpError>

  constructor(
    private readonly engine: Engine,
    private readonly first: transport.Prepared,
    private readonly plan: Plan,
    private readonly streaming: boolean,
    private readonly finish: (response: transport.RawResponse, call: Final) => Effect.Effect<A, HttpError.HttpError>
  ) {
    this.prepared = first
    this.key = plan.hostKey ?? engine.settings.hostKey(first.url)
    this.host = engine.registry.forHost(this.key)
    this.following = plan.maxRedirects > 0
    this.accept = plan.accept ?? isAccepted
    const interrupted = Effect.sync(() => this.interrupt())
    this.run = Effect.async<A, HttpError.HttpError>((resume) => {
      this.resume = resume
      this.advance()
      return interrupted
    })
  }

  get method(): string {
    return this.prepared.method
  }

  get url(): string {
    return this.prepared.href
  }

  private next(signal: Signal): Effect.Effect<A, HttpError.HttpError> {
    switch (signal._tag) {
      case "Done": {
        const result = this.finish(signal.response, this)
        // The decode runs inside the retried unit; only look at its failures when they may be retried.
        return this.plan.retry.onDecode
          ? Effect.catchAll(result, (error) => error._tag === "DecodeError" ? this.failed(error, undefined) : Effect.fail(error))
          : result
      }
      case "Wait":
        return Effect.zipRight(Effect.sleep(signal.ms), this.run)
      case "Failed":
        return this.failed(signal.error, signal.response)
    }
  }

  /** Retries after the policy's delay, or ends the call with the error. */
  private failed(
    error: HttpError.HttpError,
    response: transport.RawResponse | undefined
  ): Effect.Effect<A, HttpError.HttpError> {
    return Effect.flatMap(Effect.zip(Clock.currentTimeMillis, Random.next), ([now, random]) => {
      const decision = Retry.decide(this.plan.retry, {
        attempt: this.attempts,
        error,
        idempotent: Retry.isIdempotent(this.prepared.method, this.prepared.headers),
        elapsedMs: this.spentMs,
        remainingMs: this.plan.totalMs - this.spentMs,
        nowMs: now,
        random
      })
      if (decision._tag === "Retry") {
        this.spentMs += decision.delayMs
        return Effect.zipRight(Effect.sleep(decision.delayMs), Effect.suspend(() => this.retryUnlessPaused(error, response)))
      }
      return this.stop(error, response, decision.reason)
    })
  }

  /**
   * Runs the retry, unless the host is now paused (adaptive limits: another request's Retry-After) for
   * longer than retry.maxRetryAfter: the retry would wait out the whole pause, so give up as for a
   * Retry-After of our own that long.
   */
  private retryUnlessPaused(
    error: HttpError.HttpError,
    response: transport.RawResponse | undefined
  ): Effect.Effect<A, HttpError.HttpError> {
    const paused = this.engine.rate?.unsafeWaitTime(this.key) ?? 0
    const limit = this.plan.retry.maxRetryAfterMs
    if (paused <= limit) {
      this.host.retries.update(1)
      this.attempts++
      return this.run
    }
    return this.stop(error, response, `the host is paused for another ${paused} ms (a Retry-After), more than retry.maxRetryAfter (${limit} ms)`)
  }

  /** Ends the call with `error` (or the response, when statuses are answers), saying why it was not retried. */
  private stop(
    error: HttpError.HttpError,
    response: transport.RawResponse | undefined,
    reason: string
  ): Effect.Effect<A, HttpError.HttpError> {
    if (this.plan.statusAsResponse && response !== undefined) return this.finish(response, this)
    return Effect.fail(
      error._tag === "StatusError" && Retry.isRetryable(this.plan.retry, error)
        ? new HttpError.StatusError({ ...error, notRetried: reason })
        : error
    )
  }

  /** Hands the fiber what to do next: the async step resumes with that effect directly. */
  private signal(signal: Signal): void {
    const resume = this.resume
    if (resume === undefined) return
    this.resume = undefined
    resume(this.next(signal))
  }

  /**
   * Takes the slots in order and sends: the host's slot first (so one busy
   * host cannot hold global slots while it queues), then the global slot, then
   * the rate token (last, so the start it permits is not delayed, and bunched
   * with others, by a wait for the global slot). Before queueing for a global
   * slot it waits out the host's rate, holding nothing global meanwhile.
   */
  private advance(): void {
    const { perHost, global, rate } = this.engine
    if (perHost !== undefined && !this.holdsHost) {
      if (perHost.unsafeTake(this.key)) {
        this.holdsHost = true
      } else {
        this.withdraw = perHost.unsafeAwait(this.key, () => {
          this.withdraw = undefined
          this.holdsHost = true
          this.advance()
        })
        return
      }
    }
    if (global !== undefined && !this.holdsGlobal) {
      if (global.unsafeTake(GLOBAL)) {
        this.holdsGlobal = true
      } else {
        if (rate !== undefined) {
          const wait = rate.unsafeWaitTime(this.key)
          if (wait > 0) return this.waitFor(wait)
        }
        this.withdraw = global.unsafeAwait(GLOBAL, () => {
          this.withdraw = undefined
          this.holdsGlobal = true
          this.advance()
        })
        return
      }
    }
    if (rate !== undefined) {
      const wait = rate.unsafeTryStart(this.key)
      if (wait > 0) return this.waitFor(wait)
    }
    this.send()
  }

  /** Gives the slots back and asks the fiber to sleep on the Clock. */
  private waitFor(ms: number): void {
    this.release()
    this.signal({ _tag: "Wait", ms })
  }

  private release(): void {
    const { perHost, global } = this.engine
    if (this.holdsGlobal) {
      this.holdsGlobal = false
      global?.unsafeRelease(GLOBAL)
    }
    if (this.holdsHost) {
      this.holdsHost = false
      perHost?.unsafeRelease(this.key)
    }
  }

  private send(): void {
    const plan = this.plan
    const remaining = plan.totalMs - this.spentMs
    if (remaining <= 0) {
      this.release()
      return this.signal({
        _tag: "Failed",
        error: new HttpError.TimeoutError({
          method: this.prepared.method,
          url: this.prepared.href,
          attempt: this.attempts,
          phase: "deadline",
          timeoutMs: plan.totalMs
        }),
        response: undefined
      })
    }
    const exchange = new transport.Exchange(this.prepared, {
      attempt: this.attempts,
      headersTimeoutMs: plan.headersMs,
      bodyTimeoutMs: plan.bodyMs,
      connectTimeoutMs: this.engine.settings.timeouts.connectMs,
      totalTimeoutMs: remaining < plan.attemptMs ? remaining : plan.attemptMs,
      totalPhase: remaining < plan.attemptMs ? "deadline" : "attempt",
      maxBodyBytes: plan.maxBodyBytes,
      decompress: this.engine.settings.decompress
    }, this)
    this.exchange = exchange
    metrics.inFlight.unsafeModify(1, [])
    exchange.start(isIpLiteral(this.prepared.url.hostname) ? this.engine.direct : this.engine.resolving)
  }

  bodyMode(status: number): transport.BodyMode {
    if (this.following && REDIRECTS.has(status)) return transport.BodyMode.Discard
    if (this.accept(status) || this.plan.statusAsResponse) {
      return this.streaming ? transport.BodyMode.Stream : transport.BodyMode.Full
    }
    return transport.BodyMode.Excerpt
  }

  onExchange(error: HttpError.HttpError | undefined, response: transport.RawResponse | undefined): void {
    const exchange = this.exchange
    this.exchange = undefined
    if (exchange !== undefined) {
      // Only time on the wire counts against the deadline, never a wait for a slot.
      const elapsed = performance.now() - exchange.startedAt
      this.spentMs += elapsed
      this.host.duration.update(elapsed)
    }
    metrics.inFlight.unsafeModify(-1, [])
    const live = response?.live
    if (live === undefined) {
      this.release()
    } else {
      // The slots go with the body: held until it ends, fails or is cancelled.
      live.onSettled = () => {
        this.host.bytes.update(live.size)
        this.release()
      }
    }
    if (response === undefined) {
      this.host.status("error").update(1)
      return this.signal({
        _tag: "Failed",
        error: error ?? new HttpError.TransportError({
          method: this.prepared.method,
          url: this.prepared.href,
          attempt: this.attempts,
          phase: "receive",
          code: undefined,
          cause: new Error("exchange ended without a response")
        }),
        response: undefined
      })
    }
    const status = response.status
    this.host.status(metrics.statusClass(status)).update(1)
    const rate = this.engine.rate
    if (rate !== undefined && this.engine.settings.limits.adaptive) {
      if (status === 429 || status === 503) {
        const asked = Retry.parseRetryAfter(response.headers["retry-after"], this.engine.clock.unsafeCurrentTimeMillis())
        rate.unsafeOnThrottled(this.key, asked)
      } else if (status < 400) {
        rate.unsafeOnSuccess(this.key)
      }
    }
    if (live === undefined) this.host.bytes.update(response.body.length)
    if (this.following && REDIRECTS.has(status)) {
      const outcome = this.redirect(response)
      if (outcome !== undefined) return this.signal(outcome)
      return this.advance()
    }
    if (!this.accept(status) && !(this.following && REDIRECTS.has(status))) {
      return this.signal({
        _tag: "Failed",
        error: new HttpError.StatusError({
          method: this.prepared.method,
          url: this.prepared.href,
          attempt: this.attempts,
          status,
          headers: response.headers,
          bodyExcerpt: utf8.decode(response.body.subarray(0, transport.EXCERPT_TEXT_BYTES))
        }),
        response
      })
    }
    this.signal({ _tag: "Done", response })
  }

  /**
   * Follows a redirect: moves the call to the next hop and returns
   * `undefined`, or returns the signal that ends the call (an error, or the
   * 3xx itself when `followRedirect` refuses).
   */
  private redirect(response: transport.RawResponse): Signal | undefined {
    const current = this.prepared
    const ctx = { method: current.method, url: current.href, attempt: this.attempts }
    const location = firstHeader(response.headers["location"])
    const seen = [this.first.href, ...this.redirects.map((r) => r.location)]
    let target: URL | undefined
    try {
      target = location === undefined ? undefined : new URL(location, current.url)
    } catch {
      target = undefined
    }
    if (target === undefined || (target.protocol !== "http:" && target.protocol !== "https:")) {
      return {
        _tag: "Failed",
        error: new HttpError.RedirectError({ ...ctx, reason: "InvalidLocation", chain: [...seen, location ?? "(no Location header)"] }),
        response: undefined
      }
    }
    if (this.plan.follow !== undefined && !this.plan.follow(current.url, target, response.status)) {
      return { _tag: "Done", response }
    }
    const next = nextHop(current, response.status, target)
    // A loop is the same request again: POST /form -> 303 -> GET /form is not one.
    const methods = [this.first.method, ...this.redirects.map((r) => r.method)]
    if (seen.some((href, i) => href === next.href && methods[i] === next.method)) {
      return { _tag: "Failed", error: new HttpError.RedirectError({ ...ctx, reason: "Loop", chain: [...seen, next.href] }), response: undefined }
    }
    if (this.redirects.length >= this.plan.maxRedirects) {
      return { _tag: "Failed", error: new HttpError.RedirectError({ ...ctx, reason: "TooMany", chain: [...seen, next.href] }), response: undefined }
    }
    this.redirects.push({ url: current.href, status: response.status, location: next.href, method: next.method })
    this.prepared = next
    this.key = this.plan.hostKey ?? this.engine.settings.hostKey(next.url)
    this.host = this.engine.registry.forHost(this.key)
    return undefined
  }

  /** The fiber was interrupted while this call was on the wire or waiting for a slot. */
  private interrupt(): void {
    this.resume = undefined
    const withdraw = this.withdraw
    this.withdraw = undefined
    withdraw?.()
    const exchange = this.exchange
    this.exchange = undefined
    if (exchange !== undefined) {
      exchange.cancel()
      metrics.inFlight.unsafeModify(-1, [])
    }
    this.release()
  }
}

/**
 * Runs one call in a span named `http.client <METHOD>`. The span is made
 * directly on the fiber's tracer rather than with `Effect.withSpan`, which
 * also installs it as the parent of everything inside (a context copy this
 * call does not need: nothing inside makes spans).
 *
 * @internal
 */
export const send = <A>(
  engine: Engine,
  prepared: transport.Prepared,
  plan: Plan,
  streaming: boolean,
  finish: (response: transport.RawResponse, call: Final) => Effect.Effect<A, HttpError.HttpError>
): Effect.Effect<A, HttpError.HttpError> =>
  Effect.withFiberRuntime((fiber) => {
    const effect = new Call(engine, prepared, plan, streaming, finish).run
    const span = startSpan(fiber, prepared)
    if (span === undefined) return effect
    return Effect.onExit(effect, (exit) => endSpan(fiber, span, exit))
  })

/**
 * Effect's built-in tracer, which keeps spans in memory and exports nothing:
 * a span made with it can never be observed (nothing inside the call reads
 * the current span), and making one costs more than the rest of the request
 * path together (it draws 48 random hex digits of ids), so calls skip it. Any
 * other tracer (OpenTelemetry, a test's recorder) gets a span per call.
 */
const defaultTracer = Effect.runSync(Effect.tracer)

const startSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>, prepared: transport.Prepared): Tracer.Span | undefined => {
  const services = fiber.currentDefaultServices
  const tracer = Context.get(services, Tracer.Tracer)
  if (tracer === defaultTracer || !fiber.getFiberRef(FiberRef.currentTracerEnabled)) return undefined
  const clock = Context.get(services, Clock.Clock)
  const span = tracer.span(
    `http.client ${prepared.method}`,
    Option.fromNullable(fiber.currentSpan),
    Context.empty(),
    [],
    clock.unsafeCurrentTimeNanos(),
    "client"
  )
  span.attribute("http.request.method", prepared.method)
  span.attribute("url.full", prepared.href)
  span.attribute("server.address", prepared.url.host)
  return span
}

const endSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  span: Tracer.Span,
  exit: Exit.Exit<unknown, HttpError.HttpError>
): Effect.Effect<void> => {
  if (exit._tag === "Failure") {
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure !== undefined) span.attribute("error.type", failure._tag)
  }
  span.end(Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeNanos(), exit)
  return Effect.void
}
