/**
 * The `Http` service: settings, request preparation (plain data or platform
 * requests into `transport.Prepared`), the service's methods, and the
 * platform `HttpClient` adapter. Calls run in `httpEngine`; one exchange on
 * the wire is a `transport.Exchange`.
 *
 * @internal
 */
import * as PlatformClient from "@effect/platform/HttpClient"
import * as ClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as ClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Agent, interceptors } from "undici"
import * as Http from "../Http.js"
import * as HttpError from "../HttpError.js"
import * as KeyedRateLimiter from "../KeyedRateLimiter.js"
import * as KeyedSemaphore from "../KeyedSemaphore.js"
import * as Retry from "../Retry.js"
import * as engine from "./httpEngine.js"
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
  for (const name in s.headers) {
    if (!HEADER_NAME.test(name)) return settingsError(`headers.${name}`, "not a valid header name")
    if (!HEADER_VALUE.test(s.headers[name] ?? "")) {
      return settingsError(`headers.${name}`, "control characters (CR, LF, NUL) are not allowed in header values")
    }
  }
  if (!HEADER_VALUE.test(s.userAgent)) return settingsError("userAgent", "control characters are not allowed")
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

const planFor = (settings: Http.Settings, base: engine.Plan, o: Http.RequestOptions | undefined): engine.Plan => {
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
    hostKey: o.hostKey,
    statusAsResponse: o.failOnStatus === false ? true : base.statusAsResponse
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

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])

/** The headers every request starts from: User-Agent, Accept-Encoding and the configured defaults. */
const baseHeaders = (settings: Http.Settings): Readonly<Record<string, string>> => {
  const headers: Record<string, string> = { "user-agent": settings.userAgent }
  if (settings.decompress) headers["accept-encoding"] = "gzip, deflate, br"
  for (const name in settings.headers) {
    const value = settings.headers[name]
    if (value !== undefined) headers[name] = value
  }
  return headers
}

const prepare = (
  settings: Http.Settings,
  base: Readonly<Record<string, string>>,
  d: Draft
): Either.Either<transport.Prepared, HttpError.HttpError> => {
  const method = METHODS.has(d.method) ? d.method : d.method.toUpperCase()
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
  if (!METHODS.has(method) && !HEADER_NAME.test(method)) {
    return Either.left(new HttpError.InvalidRequest({ method, url: rawUrl, attempt: 0, reason: `invalid method ${JSON.stringify(d.method)}` }))
  }
  if (d.query !== undefined) appendQuery(url, d.query)
  const headers: Record<string, string> = { ...base }
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
  // Fragments are never sent (the setter re-serialises the URL, so only when there is one).
  if (url.hash !== "") url.hash = ""
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
  settings: Http.Settings,
  request: HttpClientRequest.HttpClientRequest,
  options: Http.RequestOptions | undefined
): Effect.Effect<Draft, HttpError.HttpError> => {
  const fail = (reason: string) =>
    Effect.fail(new HttpError.InvalidRequest({ method: request.method, url: request.url, attempt: 0, reason }))
  // makeUrl cannot resolve a relative URL outside a browser: resolve it against baseUrl first.
  const absolute = settings.baseUrl !== undefined && URL.canParse(request.url, settings.baseUrl)
    ? new URL(request.url, settings.baseUrl).href
    : request.url
  const url = UrlParams.makeUrl(absolute, request.urlParams, request.hash)
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
// The service
// ---------------------------------------------------------------------------

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
          // Backstops: each exchange runs its own, precise timer.
          headersTimeout: timeouts.headersMs + 2000,
          bodyTimeout: timeouts.bodyMs + 2000
        })
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const headers = baseHeaders(settings)
    const engineState = new engine.Engine(
      agent,
      pool.dnsCache ? agent.compose(interceptors.dns()) : agent,
      settings,
      Number.isFinite(limits.maxInFlight) ? yield* KeyedSemaphore.make<string>({ permits: limits.maxInFlight }) : undefined,
      Number.isFinite(limits.perHostMaxInFlight)
        ? yield* KeyedSemaphore.make<string>({ permits: limits.perHostMaxInFlight })
        : undefined,
      input.rateLimiter !== undefined
        ? input.rateLimiter
        : Number.isFinite(limits.perHostPerSecond) || limits.adaptive
        ? yield* KeyedRateLimiter.make<string>({
          perSecond: limits.perHostPerSecond,
          burst: limits.perHostBurst,
          ...(limits.adaptive ? { adaptive: {} } : {})
        })
        : undefined,
      new metrics.Registry(settings.metrics.perHost, settings.metrics.maxHosts),
      yield* Effect.clock
    )

    const basePlan: engine.Plan = {
      headersMs: timeouts.headersMs,
      bodyMs: timeouts.bodyMs,
      attemptMs: timeouts.attemptMs,
      totalMs: timeouts.totalMs,
      retry: settings.retry,
      maxBodyBytes: settings.maxBodyBytes,
      maxRedirects: settings.maxRedirects,
      follow: undefined,
      accept: undefined,
      hostKey: undefined,
      statusAsResponse: false
    }

    const buffered = (raw: transport.RawResponse, f: engine.Final): Effect.Effect<Http.HttpResponse> =>
      Effect.succeed(new Http.HttpResponse(f.method, f.url, raw.status, raw.headers, raw.body, f.redirects, f.attempts))

    const fromInput = (input: Http.RequestInput): Either.Either<transport.Prepared, HttpError.HttpError> => {
      const draft = draftFromInput(input)
      return Either.isLeft(draft) ? Either.left(draft.left) : prepare(settings, headers, draft.right)
    }

    const request = (input: Http.RequestInput): Effect.Effect<Http.HttpResponse, HttpError.HttpError> => {
      const prepared = fromInput(input)
      return Either.isLeft(prepared)
        ? Effect.fail(prepared.left)
        : engine.send(engineState, prepared.right, planFor(settings, basePlan, input), false, buffered)
    }

    const get = (url: string | URL, options?: Http.RequestOptions) => {
      const prepared = prepare(settings, headers, {
        method: "GET",
        url,
        headers: options?.headers,
        query: options?.query,
        body: null,
        contentType: undefined
      })
      return Either.isLeft(prepared)
        ? Effect.fail(prepared.left)
        : engine.send(engineState, prepared.right, planFor(settings, basePlan, options), false, buffered)
    }

    const executeWith = (plan: engine.Plan) => (req: HttpClientRequest.HttpClientRequest, options?: Http.RequestOptions) =>
      Effect.flatMap(draftFromPlatform(settings, req, options), (draft) => {
        const prepared = prepare(settings, headers, draft)
        return Either.isLeft(prepared)
          ? Effect.fail(prepared.left)
          : engine.send(engineState, prepared.right, planFor(settings, plan, options), false, buffered)
      })
    const execute = executeWith(basePlan)

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
        return engine.send(
          engineState,
          prepared.right,
          planFor(settings, basePlan, req),
          false,
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
        return engine.send(engineState, prepared.right, planFor(settings, basePlan, req), true, (raw, f) => {
          const live = raw.live
          const response = (body: Stream.Stream<Uint8Array, HttpError.HttpError>): Http.StreamResponse => ({
            method: f.method,
            url: f.url,
            status: raw.status,
            headers: raw.headers,
            redirects: f.redirects,
            attempts: f.attempts,
            body
          })
          if (live === undefined) return Effect.succeed(response(Stream.succeed(raw.body)))
          return Effect.as(
            Scope.addFinalizer(scope, Effect.sync(() => live.cancel())),
            response(Stream.repeatEffectOption(pullChunk(live)))
          )
        })
      })

    const platformPlan: engine.Plan = { ...basePlan, maxRedirects: 0, statusAsResponse: true }
    const executePlatform = executeWith(platformPlan)
    const service: Http.Service = {
      settings,
      request,
      execute,
      get,
      json,
      text,
      stream,
      client: PlatformClient.makeWith<never, never, ClientError.HttpClientError, never>(
        Effect.flatMap((req) => platformExecute((r) => executePlatform(r), req)),
        Effect.succeed
      )
    }
    return service
  })

/** One chunk of a live body, for `Stream.repeatEffectOption`. */
const pullChunk = (live: transport.LiveBody): Effect.Effect<Uint8Array, Option.Option<HttpError.HttpError>> =>
  Effect.async<Uint8Array, Option.Option<HttpError.HttpError>>((resume) => {
    let delivered = false
    live.pull((chunk, error) => {
      delivered = true
      resume(chunk !== undefined ? Effect.succeed(chunk) : Effect.fail(error === undefined ? Option.none() : Option.some(error)))
    })
    return delivered ? undefined : Effect.sync(() => live.unpull())
  })

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

/** Statuses a web `Response` must have no body for. */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

const platformExecute = (
  execute: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<Http.HttpResponse, HttpError.HttpError>,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<ClientResponse.HttpClientResponse, ClientError.HttpClientError> =>
  execute(request).pipe(
    Effect.mapError((error) =>
      new ClientError.RequestError({
        request,
        reason: error._tag === "InvalidUrl" ? "InvalidUrl" : error._tag === "InvalidRequest" ? "Encode" : "Transport",
        cause: error,
        description: error.message
      })
    ),
    Effect.flatMap((response) => {
      // A web Response only takes statuses 200-599; anything else is a broken server, not a defect here.
      if (response.status < 200 || response.status > 599) {
        return Effect.fail(
          new ClientError.RequestError({
            request,
            reason: "Transport",
            description: `${response.method} ${response.url}: the server answered with status ${response.status}, outside 200-599`
          })
        )
      }
      return Effect.succeed(ClientResponse.fromWeb(
        request,
        // A web Response takes only ArrayBuffer-backed views: copy (this adapter is not the hot path).
        new Response(NULL_BODY.has(response.status) ? null : new Uint8Array(response.body), {
          status: response.status,
          headers: toWebHeaders(response.headers)
        })
      ))
    })
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

