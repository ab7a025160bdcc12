/**
 * The engine behind `Http`: request preparation, limits, the retry and
 * redirect loop, metrics and spans. One exchange on the wire is
 * `transport.exchange`.
 *
 * @internal
 */
import * as PlatformClient from "@effect/platform/HttpClient"
import * as ClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as ClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Agent, interceptors, type Dispatcher } from "undici"
import * as Http from "../Http.js"
import * as HttpError from "../HttpError.js"
import * as KeyedRateLimiter from "../KeyedRateLimiter.js"
import * as KeyedSemaphore from "../KeyedSemaphore.js"
import * as Retry from "../Retry.js"
import * as metrics from "./httpMetrics.js"
import * as transport from "./transport.js"

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const toMs = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

const positive = (path: string, n: number, allowInfinity: boolean): string | undefined =>
  (allowInfinity && n === Number.POSITIVE_INFINITY) || (Number.isFinite(n) && n > 0)
    ? undefined
    : `${path} must be a positive number${allowInfinity ? " or Infinity" : ""}, got ${n}`

/** @internal */
export const resolve = (
  input: Http.Input,
  base?: Http.Settings
): Either.Either<Http.Settings, Http.SettingsError> => {
  const b = base ?? Http.defaults
  try {
    const t = input.timeouts ?? {}
    const p = input.pool ?? {}
    const settings: Http.Settings = {
      baseUrl: input.baseUrl ?? b.baseUrl,
      headers: lowerKeys({ ...b.headers, ...input.headers }),
      userAgent: input.userAgent ?? b.userAgent,
      timeouts: {
        connectMs: toMs(t.connect, b.timeouts.connectMs),
        headersMs: toMs(t.headers, b.timeouts.headersMs),
        bodyMs: toMs(t.body, b.timeouts.bodyMs),
        attemptMs: toMs(t.attempt, b.timeouts.attemptMs),
        totalMs: toMs(t.total, b.timeouts.totalMs)
      },
      retry: input.retry === false ? Retry.none : Retry.withOverrides(b.retry, input.retry ?? {}),
      limits: { ...b.limits, ...definedOnly(input.limits ?? {}) },
      pool: {
        connectionsPerOrigin: p.connectionsPerOrigin ?? b.pool.connectionsPerOrigin,
        pipelining: p.pipelining ?? b.pool.pipelining,
        keepAliveTimeoutMs: toMs(p.keepAliveTimeout, b.pool.keepAliveTimeoutMs),
        keepAliveMaxTimeoutMs: toMs(p.keepAliveMaxTimeout, b.pool.keepAliveMaxTimeoutMs),
        dnsCache: p.dnsCache ?? b.pool.dnsCache
      },
      maxBodyBytes: input.maxBodyBytes ?? b.maxBodyBytes,
      maxRedirects: input.maxRedirects ?? b.maxRedirects,
      decompress: input.decompress ?? b.decompress,
      hostKey: input.hostKey ?? b.hostKey,
      metrics: {
        perHost: input.metrics?.perHost ?? b.metrics.perHost,
        maxHosts: input.metrics?.maxHosts ?? b.metrics.maxHosts
      }
    }
    const problem = validate(settings)
    return problem === undefined ? Either.right(settings) : Either.left(problem)
  } catch (error) {
    // Duration.decode throws on malformed input such as "5 parsecs".
    return Either.left(settingsError("(duration)", error instanceof Error ? error.message : String(error)))
  }
}

const settingsError = (path: string, reason: string): Http.SettingsError => new Http.SettingsError({ path, reason })

const definedOnly = <A extends object>(o: A): Partial<A> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<A>

const lowerKeys = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined) out[name.toLowerCase()] = value
  }
  return out
}

const validate = (s: Http.Settings): Http.SettingsError | undefined => {
  const checks: Array<[string, string | undefined]> = [
    ["timeouts.connect", positive("timeouts.connect", s.timeouts.connectMs, false)],
    ["timeouts.headers", positive("timeouts.headers", s.timeouts.headersMs, false)],
    ["timeouts.body", positive("timeouts.body", s.timeouts.bodyMs, false)],
    ["timeouts.attempt", positive("timeouts.attempt", s.timeouts.attemptMs, false)],
    ["timeouts.total", positive("timeouts.total", s.timeouts.totalMs, false)],
    ["limits.maxInFlight", positive("limits.maxInFlight", s.limits.maxInFlight, true)],
    ["limits.perHostMaxInFlight", positive("limits.perHostMaxInFlight", s.limits.perHostMaxInFlight, true)],
    ["limits.perHostPerSecond", positive("limits.perHostPerSecond", s.limits.perHostPerSecond, true)],
    ["limits.perHostBurst", positive("limits.perHostBurst", s.limits.perHostBurst, false)],
    ["maxBodyBytes", s.maxBodyBytes >= 0 ? undefined : `maxBodyBytes must be >= 0, got ${s.maxBodyBytes}`],
    [
      "maxRedirects",
      Number.isInteger(s.maxRedirects) && s.maxRedirects >= 0
        ? undefined
        : `maxRedirects must be an integer >= 0, got ${s.maxRedirects}`
    ],
    [
      "pool.pipelining",
      Number.isInteger(s.pool.pipelining) && s.pool.pipelining >= 1
        ? undefined
        : `pool.pipelining must be an integer >= 1, got ${s.pool.pipelining}`
    ],
    [
      "pool.connectionsPerOrigin",
      s.pool.connectionsPerOrigin === undefined
        ? undefined
        : positive("pool.connectionsPerOrigin", s.pool.connectionsPerOrigin, true)
    ],
    ["retry", Retry.validate(s.retry)]
  ]
  for (const [path, reason] of checks) if (reason !== undefined) return settingsError(path, reason)
  if (s.baseUrl !== undefined) {
    const parsed = URL.canParse(s.baseUrl) ? new URL(s.baseUrl) : undefined
    if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      return settingsError("baseUrl", `must be an absolute http(s) URL, got ${JSON.stringify(s.baseUrl)}`)
    }
  }
  return undefined
}

/** Later input wins field by field. @internal */
export const mergeInput = (a: Http.Input, b: Http.Input): Http.Input => ({
  ...definedOnly(a),
  ...definedOnly(b),
  headers: { ...a.headers, ...b.headers },
  timeouts: { ...definedOnly(a.timeouts ?? {}), ...definedOnly(b.timeouts ?? {}) },
  retry: b.retry === false || a.retry === false
    ? (b.retry ?? a.retry)
    : { ...definedOnly(a.retry ?? {}), ...definedOnly(b.retry ?? {}) },
  limits: { ...definedOnly(a.limits ?? {}), ...definedOnly(b.limits ?? {}) },
  pool: { ...definedOnly(a.pool ?? {}), ...definedOnly(b.pool ?? {}) },
  metrics: { ...definedOnly(a.metrics ?? {}), ...definedOnly(b.metrics ?? {}) }
})

// ---------------------------------------------------------------------------
// Text decoding
// ---------------------------------------------------------------------------

const decoders = new Map<string, InstanceType<typeof TextDecoder>>()
const utf8 = new TextDecoder("utf-8")

/** Decodes a body in the charset named by a content-type, UTF-8 otherwise. @internal */
export const decodeText = (body: Uint8Array, contentType: string | undefined): string => {
  const match = contentType === undefined ? null : /charset\s*=\s*"?([^";\s]+)/i.exec(contentType)
  const label = match?.[1]?.toLowerCase()
  if (label === undefined || label === "utf-8" || label === "utf8") return utf8.decode(body)
  let decoder = decoders.get(label)
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label)
    } catch {
      // An unknown charset label: UTF-8 is the web's fallback too.
      decoder = utf8
    }
    decoders.set(label, decoder)
  }
  return decoder.decode(body)
}

// ---------------------------------------------------------------------------
// Request preparation
// ---------------------------------------------------------------------------

/** Per-call knobs resolved against the settings. */
interface Plan {
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
}

const planFor = (settings: Http.Settings, base: Plan, o: Http.RequestOptions | undefined): Plan => {
  if (o === undefined) return base
  const t = o.timeouts
  return {
    headersMs: toMs(t?.headers, base.headersMs),
    bodyMs: toMs(t?.body, base.bodyMs),
    attemptMs: toMs(t?.attempt, base.attemptMs),
    totalMs: toMs(t?.total, base.totalMs),
    retry: o.retry === false ? Retry.none : o.retry === undefined ? base.retry : Retry.withOverrides(settings.retry, o.retry),
    maxBodyBytes: o.maxBodyBytes ?? base.maxBodyBytes,
    maxRedirects: o.maxRedirects === false ? 0 : o.maxRedirects ?? base.maxRedirects,
    follow: o.followRedirect,
    accept: o.acceptStatus,
    hostKey: o.hostKey
  }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Field values: visible ASCII, obs-text, space and tab; never CR, LF or NUL.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

const appendQuery = (url: URL, query: Http.Query | URLSearchParams): void => {
  if (query instanceof URLSearchParams) {
    for (const [k, v] of query) url.searchParams.append(k, v)
    return
  }
  for (const key in query) {
    const value = query[key]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v))
    else url.searchParams.append(key, String(value))
  }
}

interface Draft {
  readonly method: string
  readonly url: string | URL
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly query: Http.Query | URLSearchParams | undefined
  readonly body: Uint8Array | string | null
  readonly contentType: string | undefined
}

const prepare = (settings: Http.Settings, d: Draft): Either.Either<transport.Prepared, HttpError.HttpError> => {
  const method = d.method.toUpperCase()
  const rawUrl = typeof d.url === "string" ? d.url : d.url.href
  let url: URL
  try {
    url = new URL(rawUrl, settings.baseUrl)
  } catch {
    return Either.left(new HttpError.InvalidUrl({
      method,
      url: rawUrl,
      attempt: 0,
      reason: settings.baseUrl === undefined ? "not an absolute URL" : `cannot be resolved against ${settings.baseUrl}`
    }))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(new HttpError.InvalidUrl({
      method,
      url: rawUrl,
      attempt: 0,
      reason: `unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))} (only http and https)`
    }))
  }
  if (!HEADER_NAME.test(method)) {
    return Either.left(new HttpError.InvalidRequest({ method, url: rawUrl, attempt: 0, reason: `invalid method ${JSON.stringify(d.method)}` }))
  }
  if (d.query !== undefined) appendQuery(url, d.query)
  const headers: Record<string, string> = { "user-agent": settings.userAgent }
  if (settings.decompress) headers["accept-encoding"] = "gzip, deflate, br"
  for (const name in settings.headers) headers[name] = settings.headers[name]!
  if (d.contentType !== undefined) headers["content-type"] = d.contentType
  if (d.headers !== undefined) {
    for (const name in d.headers) {
      const value = d.headers[name]
      if (value === undefined) continue
      if (!HEADER_NAME.test(name)) {
        return Either.left(new HttpError.InvalidRequest({ method, url: rawUrl, attempt: 0, reason: `invalid header name ${JSON.stringify(name)}` }))
      }
      if (!HEADER_VALUE.test(value)) {
        return Either.left(new HttpError.InvalidRequest({
          method,
          url: rawUrl,
          attempt: 0,
          reason: `invalid value for header ${JSON.stringify(name)}: control characters (CR, LF, NUL) are not allowed`
        }))
      }
      headers[name.toLowerCase()] = value
    }
  }
  if (url.username !== "" || url.password !== "") {
    // Credentials in the URL become a Basic Authorization header (undici
    // rejects userinfo in an origin), stripped again on cross-origin redirects.
    const user = decodeURIComponent(url.username)
    const pass = decodeURIComponent(url.password)
    if (headers["authorization"] === undefined) {
      headers["authorization"] = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`
    }
    url.username = ""
    url.password = ""
  }
  url.hash = ""
  return Either.right({ method, url, href: url.href, headers, body: d.body })
}

const draftFromInput = (input: Http.RequestInput): Either.Either<Draft, HttpError.HttpError> => {
  const method = input.method ?? "GET"
  const given = [input.json !== undefined, input.form !== undefined, input.body !== undefined].filter(Boolean).length
  if (given > 1) {
    return Either.left(new HttpError.InvalidRequest({
      method,
      url: String(input.url),
      attempt: 0,
      reason: "give at most one of json, form and body"
    }))
  }
  let body: Uint8Array | string | null = null
  let contentType: string | undefined
  if (input.json !== undefined) {
    try {
      body = JSON.stringify(input.json)
    } catch (error) {
      return Either.left(new HttpError.InvalidRequest({
        method,
        url: String(input.url),
        attempt: 0,
        reason: `the json body cannot be serialised: ${error instanceof Error ? error.message : String(error)}`
      }))
    }
    contentType = "application/json"
  } else if (input.form !== undefined) {
    body = new URLSearchParams(input.form as Record<string, string>).toString()
    contentType = "application/x-www-form-urlencoded"
  } else if (input.body !== undefined) {
    body = input.body
  }
  return Either.right({ method, url: input.url, headers: input.headers, query: input.query, body, contentType })
}

const draftFromPlatform = (
  request: HttpClientRequest.HttpClientRequest,
  options: Http.RequestOptions | undefined
): Effect.Effect<Draft, HttpError.HttpError> => {
  const fail = (reason: string) =>
    Effect.fail(new HttpError.InvalidRequest({ method: request.method, url: request.url, attempt: 0, reason }))
  const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  const rawUrl = Either.isRight(url) ? url.right : request.url
  const headers = { ...request.headers, ...options?.headers }
  const base = { method: request.method, url: rawUrl, headers, query: options?.query }
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ ...base, body: null, contentType: undefined })
    case "Uint8Array":
      return Effect.succeed({ ...base, body: body.body, contentType: body.contentType })
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
        ? Effect.succeed({ ...base, body: body.body, contentType: undefined })
        : fail("a Raw body must be a string or a Uint8Array (other bodies cannot be replayed on retry)")
    case "FormData": {
      // Serialising through the web Response gives the multipart boundary and bytes in one go.
      const encoded = new Response(body.formData)
      return Effect.tryPromise({
        try: () => encoded.arrayBuffer(),
        catch: (error) =>
          new HttpError.InvalidRequest({
            method: request.method,
            url: request.url,
            attempt: 0,
            reason: `the form data cannot be encoded: ${String(error)}`
          })
      }).pipe(Effect.map((bytes) => ({
        ...base,
        body: new Uint8Array(bytes),
        contentType: encoded.headers.get("content-type") ?? undefined
      })))
    }
    case "Stream":
      // Buffered so that a retry can send it again.
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => ({ ...base, body: Buffer.concat(Array.from(chunks)), contentType: body.contentType })),
        Effect.mapError((error) =>
          new HttpError.InvalidRequest({
            method: request.method,
            url: request.url,
            attempt: 0,
            reason: `the request body stream failed: ${String(error)}`
          })
        )
      )
  }
}

// ---------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const SENSITIVE = ["authorization", "cookie", "proxy-authorization"]

const firstHeader = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v?.[0]

/** The request for the next hop, per RFC 9110 §15.4 and the fetch standard. */
const nextHop = (prepared: transport.Prepared, status: number, target: URL): transport.Prepared => {
  const toGet = status === 303 ? prepared.method !== "HEAD" : (status === 301 || status === 302) && prepared.method === "POST"
  const headers: Record<string, string> = { ...prepared.headers }
  if (toGet) {
    for (const name of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) {
      delete headers[name]
    }
  }
  if (target.origin !== prepared.url.origin) for (const name of SENSITIVE) delete headers[name]
  target.hash = ""
  return {
    method: toGet ? "GET" : prepared.method,
    url: target,
    href: target.href,
    headers,
    body: toGet ? null : prepared.body
  }
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

const bodyExcerpt = (raw: transport.RawResponse): string =>
  decodeText(raw.body.subarray(0, 1024), firstHeader(raw.headers["content-type"]))

// 3xx responses that reach this check were not followed (redirects off, or refused by followRedirect).
const isAccepted = (status: number) => status >= 200 && status < 400

/** @internal */
export const make = (input: Http.Input = {}): Effect.Effect<Http.Service, Http.SettingsError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* resolve(input)
    const { limits, pool, timeouts } = settings

    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Agent({
          connections: pool.connectionsPerOrigin ?? (Number.isFinite(limits.perHostMaxInFlight) ? limits.perHostMaxInFlight : null),
          pipelining: pool.pipelining,
          keepAliveTimeout: pool.keepAliveTimeoutMs,
          keepAliveMaxTimeout: pool.keepAliveMaxTimeoutMs,
          connect: transport.connector(timeouts.connectMs),
          // Our own timers govern each request; these are the pool's defaults.
          headersTimeout: timeouts.headersMs,
          bodyTimeout: timeouts.bodyMs
        })
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const dispatcher: Dispatcher = pool.dnsCache ? agent.compose(interceptors.dns()) : agent

    const global = Number.isFinite(limits.maxInFlight) ? yield* Effect.makeSemaphore(limits.maxInFlight) : undefined
    const perHost = Number.isFinite(limits.perHostMaxInFlight)
      ? yield* KeyedSemaphore.make<string>({ permits: limits.perHostMaxInFlight })
      : undefined
    const rate = Number.isFinite(limits.perHostPerSecond)
      ? yield* KeyedRateLimiter.make<string>({ perSecond: limits.perHostPerSecond, burst: limits.perHostBurst })
      : undefined
    const registry = new metrics.Registry(settings.metrics.perHost, settings.metrics.maxHosts)

    /**
     * Limits around one exchange. Order matters: the host slot first (so one
     * busy host cannot hold global slots while it queues), then wait for the
     * host's rate without holding anything global, then the global slot, then
     * the rate token itself — taken last so that the start it permits is not
     * delayed (and bunched with others) by a wait for the global slot.
     */
    const limited = <A, E>(key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
      let inner = effect
      if (rate !== undefined) inner = Effect.zipRight(rate.take(key), inner)
      if (global !== undefined) inner = global.withPermits(1)(inner)
      if (rate !== undefined) inner = Effect.zipRight(untilRateAllows(key), inner)
      if (perHost !== undefined) inner = perHost.withPermit(key)(inner)
      return inner
    }
    const untilRateAllows = (key: string): Effect.Effect<void> =>
      Effect.clockWith((clock) => {
        if (rate === undefined) return Effect.void
        const wait = rate.state(key).nextAllowedAt - clock.unsafeCurrentTimeMillis()
        return wait > 0 ? Effect.sleep(wait) : Effect.void
      })

    const basePlan: Plan = {
      headersMs: timeouts.headersMs,
      bodyMs: timeouts.bodyMs,
      attemptMs: timeouts.attemptMs,
      totalMs: timeouts.totalMs,
      retry: settings.retry,
      maxBodyBytes: settings.maxBodyBytes,
      maxRedirects: settings.maxRedirects,
      follow: undefined,
      accept: undefined,
      hostKey: undefined
    }

    /**
     * One exchange under the limits, with metrics. Buffered: the limits are
     * released when the body has been read. Streamed (`scope` given): they are
     * held in a child of `scope`, released when the body stream ends, or at
     * once when this exchange does not hand a body over (a redirect, an error
     * status, a failure).
     */
    const exchangeLimited = (
      key: string,
      prepared: transport.Prepared,
      options: transport.ExchangeOptions,
      scope: Scope.Scope | undefined,
      onElapsed: (ms: number) => void
    ): Effect.Effect<transport.RawResponse, HttpError.HttpError> => {
      const host = registry.forHost(key)
      const measured = Effect.suspend(() => {
        const started = performance.now()
        metrics.inFlight.unsafeModify(1, [])
        return transport.exchange(dispatcher, prepared, options).pipe(
          Effect.onExit((exit) => {
            const elapsed = performance.now() - started
            onElapsed(elapsed)
            metrics.inFlight.unsafeModify(-1, [])
            host.duration.update(elapsed)
            if (exit._tag === "Success") {
              host.status(metrics.statusClass(exit.value.status)).update(1)
              host.bytes.update(exit.value.body.length)
            } else {
              host.status("error").update(1)
            }
            return Effect.void
          })
        )
      })
      if (scope === undefined) return limited(key, measured)
      return Effect.flatMap(Scope.fork(scope, ExecutionStrategy.sequential), (child) =>
        Scope.extend(limitedScoped(key), child).pipe(
          Effect.zipRight(measured),
          Effect.tap((raw) => raw.live === undefined ? Scope.close(child, Exit.void) : Scope.addFinalizer(child, Effect.sync(() => raw.live?.cancel()))),
          Effect.map((raw) => raw.live === undefined ? raw : { ...raw, release: Scope.close(child, Exit.void) }),
          Effect.onError(() => Scope.close(child, Exit.void))
        ))
    }

    /**
     * The retry and redirect loop. `finish` turns the final exchange into the
     * result (the body decode for `json`), inside the retried unit.
     */
    const send = <A>(
      first: transport.Prepared,
      plan: Plan,
      scope: Scope.Scope | undefined,
      finish: (raw: transport.RawResponse, ctx: Final) => Effect.Effect<A, HttpError.HttpError>
    ): Effect.Effect<A, HttpError.HttpError> =>
      Effect.suspend(() => {
        let prepared = first
        let attempt = 1
        let spentMs = 0
        const redirects: Array<Http.Redirect> = []
        const idempotent = Retry.isIdempotent(first.method, first.headers)
        const following = plan.maxRedirects > 0
        const accept = plan.accept ?? isAccepted
        const addSpent = (ms: number) => {
          spentMs += ms
        }

        const bodyMode = (status: number): transport.BodyMode =>
          following && REDIRECTS.has(status)
            ? transport.BodyMode.Discard
            : accept(status)
            ? (scope === undefined ? transport.BodyMode.Full : transport.BodyMode.Stream)
            : transport.BodyMode.Excerpt

        const once: Effect.Effect<A, HttpError.HttpError> = Effect.suspend(() => {
          const remaining = plan.totalMs - spentMs
          if (remaining <= 0) {
            return Effect.fail(new HttpError.TimeoutError({
              method: prepared.method,
              url: prepared.href,
              attempt,
              phase: "deadline",
              timeoutMs: plan.totalMs
            }))
          }
          const current = prepared
          const options: transport.ExchangeOptions = {
            attempt,
            headersTimeoutMs: plan.headersMs,
            bodyTimeoutMs: plan.bodyMs,
            connectTimeoutMs: timeouts.connectMs,
            totalTimeoutMs: Math.min(plan.attemptMs, remaining),
            totalPhase: remaining < plan.attemptMs ? "deadline" : "attempt",
            maxBodyBytes: plan.maxBodyBytes,
            decompress: settings.decompress,
            bodyMode
          }
          // Only time on the wire counts against the deadline, never time
          // spent waiting for a slot or a token.
          return exchangeLimited(plan.hostKey ?? settings.hostKey(current.url), current, options, scope, addSpent).pipe(
            Effect.flatMap((raw) => handle(current, raw))
          )
        })

        const handle = (current: transport.Prepared, raw: transport.RawResponse): Effect.Effect<A, HttpError.HttpError> => {
          const ctx = { method: current.method, url: current.href, attempt }
          if (following && REDIRECTS.has(raw.status)) {
            const location = firstHeader(raw.headers["location"])
            const seen = [first.href, ...redirects.map((r) => r.location)]
            let target: URL | undefined
            try {
              target = location === undefined ? undefined : new URL(location, current.url)
            } catch {
              target = undefined
            }
            if (target === undefined || (target.protocol !== "http:" && target.protocol !== "https:")) {
              return Effect.fail(
                new HttpError.RedirectError({ ...ctx, reason: "InvalidLocation", chain: [...seen, location ?? "(no Location header)"] })
              )
            }
            if (plan.follow === undefined || plan.follow(current.url, target, raw.status)) {
              const next = nextHop(current, raw.status, target)
              if (seen.includes(next.href)) {
                return Effect.fail(new HttpError.RedirectError({ ...ctx, reason: "Loop", chain: [...seen, next.href] }))
              }
              if (redirects.length >= plan.maxRedirects) {
                return Effect.fail(new HttpError.RedirectError({ ...ctx, reason: "TooMany", chain: [...seen, next.href] }))
              }
              redirects.push({ url: current.href, status: raw.status, location: next.href })
              prepared = next
              return once
            }
          }
          if (!accept(raw.status) && !(following && REDIRECTS.has(raw.status))) {
            return Effect.fail(new HttpError.StatusError({
              ...ctx,
              status: raw.status,
              headers: raw.headers,
              bodyExcerpt: bodyExcerpt(raw)
            }))
          }
          return finish(raw, { method: current.method, url: current.href, redirects, attempts: attempt })
        }

        const loop: Effect.Effect<A, HttpError.HttpError> = Effect.catchAll(once, (error) =>
          Effect.flatMap(Effect.zip(Clock.currentTimeMillis, Random.next), ([now, random]) => {
            const decision = Retry.decide(plan.retry, {
              attempt,
              error,
              idempotent,
              elapsedMs: spentMs,
              remainingMs: plan.totalMs - spentMs,
              nowMs: now,
              random
            })
            if (decision._tag === "Stop") {
              return Effect.fail(
                error._tag === "StatusError" && Retry.isRetryable(plan.retry, error)
                  ? new HttpError.StatusError({ ...error, notRetried: decision.reason })
                  : error
              )
            }
            registry.forHost(plan.hostKey ?? settings.hostKey(prepared.url)).retries.update(1)
            attempt++
            spentMs += decision.delayMs
            return Effect.zipRight(Effect.sleep(decision.delayMs), loop)
          }))
        return loop
      }).pipe(
        Effect.withSpan(`http.client ${first.method}`, {
          kind: "client",
          captureStackTrace: false,
          attributes: { "http.request.method": first.method, "url.full": first.href, "server.address": first.url.host }
        })
      )

    const buffered = (raw: transport.RawResponse, f: Final): Effect.Effect<Http.HttpResponse> =>
      Effect.succeed(new Http.HttpResponse(f.method, f.url, raw.status, raw.headers, raw.body, f.redirects, f.attempts))

    const fromInput = (input: Http.RequestInput): Either.Either<transport.Prepared, HttpError.HttpError> => {
      const draft = draftFromInput(input)
      return Either.isLeft(draft) ? Either.left(draft.left) : prepare(settings, draft.right)
    }

    const request = (input: Http.RequestInput): Effect.Effect<Http.HttpResponse, HttpError.HttpError> => {
      const prepared = fromInput(input)
      return Either.isLeft(prepared)
        ? Effect.fail(prepared.left)
        : send(prepared.right, planFor(settings, basePlan, input), undefined, buffered)
    }

    const get = (url: string | URL, options?: Http.RequestOptions) => {
      const prepared = prepare(settings, {
        method: "GET",
        url,
        headers: options?.headers,
        query: options?.query,
        body: null,
        contentType: undefined
      })
      return Either.isLeft(prepared)
        ? Effect.fail(prepared.left)
        : send(prepared.right, planFor(settings, basePlan, options), undefined, buffered)
    }

    const execute = (req: HttpClientRequest.HttpClientRequest, options?: Http.RequestOptions) =>
      Effect.flatMap(draftFromPlatform(req, options), (draft) => {
        const prepared = prepare(settings, draft)
        return Either.isLeft(prepared)
          ? Effect.fail(prepared.left)
          : send(prepared.right, planFor(settings, basePlan, options), undefined, buffered)
      })

    const toInput = (input: Http.RequestInput | string | URL): Http.RequestInput =>
      typeof input === "string" || input instanceof URL ? { url: input } : input

    const json = <A, I, R>(
      schema: Schema.Schema<A, I, R>,
      input: Http.RequestInput | string | URL
    ): Effect.Effect<A, HttpError.HttpError, R> =>
      Effect.flatMap(Effect.context<R>(), (context) => {
        const req = toInput(input)
        const prepared = fromInput({ ...req, headers: { accept: "application/json", ...req.headers } })
        if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
        const decode = Schema.decodeUnknown(schema)
        return send(
          prepared.right,
          planFor(settings, basePlan, req),
          undefined,
          (raw, f) =>
            decodeJson(
              new Http.HttpResponse(f.method, f.url, raw.status, raw.headers, raw.body, f.redirects, f.attempts),
              (value) => Effect.provide(decode(value), context)
            )
        )
      })

    const text = (input: Http.RequestInput | string | URL) =>
      Effect.map(request(toInput(input)), (response) => response.text)

    const stream = (input: Http.RequestInput | string | URL): Effect.Effect<Http.StreamResponse, HttpError.HttpError, Scope.Scope> =>
      Effect.flatMap(Effect.scope, (scope) => {
        const req = toInput(input)
        const prepared = fromInput(req)
        if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
        return send(prepared.right, planFor(settings, basePlan, req), scope, (raw, f) => {
          const live = raw.live
          const body: Stream.Stream<Uint8Array, HttpError.HttpError> = live === undefined
            ? Stream.succeed(raw.body)
            : Stream.repeatEffectOption<Uint8Array, HttpError.HttpError, never>(
              Effect.mapError(live.pull, (error) => error === undefined ? Option.none() : Option.some(error))
            ).pipe(Stream.ensuring(raw.release ?? Effect.void))
          return Effect.succeed({
            method: f.method,
            url: f.url,
            status: raw.status,
            headers: raw.headers,
            redirects: f.redirects,
            attempts: f.attempts,
            body
          })
        })
      })

    /** The limits of `limited`, held until the given scope closes (for streams). */
    const limitedScoped = (key: string): Effect.Effect<void, never, Scope.Scope> => {
      const steps: Array<Effect.Effect<void, never, Scope.Scope>> = []
      if (perHost !== undefined) steps.push(Effect.acquireRelease(perHost.take(key), () => perHost.release(key)))
      if (rate !== undefined) steps.push(untilRateAllows(key))
      if (global !== undefined) steps.push(Effect.acquireRelease(global.take(1), () => global.release(1)))
      if (rate !== undefined) steps.push(rate.take(key))
      return Effect.all(steps, { discard: true })
    }

    const service: Http.Service = {
      settings,
      request,
      execute,
      get,
      json,
      text,
      stream,
      client: PlatformClient.makeWith<never, never, ClientError.HttpClientError, never>(
        Effect.flatMap((req) => platformExecute(service, req)),
        Effect.succeed
      )
    }
    return service
  })

/** What the loop knows about the final hop. */
interface Final {
  readonly method: string
  readonly url: string
  readonly redirects: ReadonlyArray<Http.Redirect>
  readonly attempts: number
}

const decodeJson = <A>(
  response: Http.HttpResponse,
  decode: (value: unknown) => Effect.Effect<A, ParseResult.ParseError>
): Effect.Effect<A, HttpError.HttpError> => {
  const ctx = { method: response.method, url: response.url, attempt: response.attempts }
  let value: unknown
  try {
    value = JSON.parse(response.text)
  } catch (error) {
    return Effect.fail(new HttpError.DecodeError({
      ...ctx,
      reason: "Json",
      path: [],
      detail: `${error instanceof Error ? error.message : String(error)} (content-type ${response.contentType ?? "none"})`
    }))
  }
  return Effect.mapError(decode(value), (error) => {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    const first = issues[0]
    const detail = ParseResult.TreeFormatter.formatErrorSync(error)
    return new HttpError.DecodeError({
      ...ctx,
      reason: "Schema",
      path: first?.path ?? [],
      detail: detail.length > 2000 ? `${detail.slice(0, 2000)}…` : detail
    })
  })
}

// ---------------------------------------------------------------------------
// Platform HttpClient adapter
// ---------------------------------------------------------------------------

const platformExecute = (
  service: Http.Service,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<ClientResponse.HttpClientResponse, ClientError.HttpClientError> =>
  service.execute(request, { acceptStatus: () => true, maxRedirects: false }).pipe(
    Effect.map((response) =>
      ClientResponse.fromWeb(
        request,
        new Response(response.status === 204 || response.status === 304 ? null : response.body, {
          status: response.status,
          headers: toWebHeaders(response.headers)
        })
      )
    ),
    Effect.mapError((error) =>
      new ClientError.RequestError({
        request,
        reason: error._tag === "InvalidUrl" ? "InvalidUrl" : error._tag === "InvalidRequest" ? "Encode" : "Transport",
        cause: error,
        description: error.message
      })
    )
  )

const toWebHeaders = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): globalThis.Headers => {
  const out = new globalThis.Headers()
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (typeof value === "string") out.append(name, value)
    else for (const v of value) out.append(name, v)
  }
  return out
}

