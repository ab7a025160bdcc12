/**
 * `Http`: a typed HTTP client service on undici with the production policies
 * built in — timeouts per phase that are always on, retries with backoff that
 * honour `Retry-After`, global and per-host concurrency limits, per-host
 * request rates, safe redirects, body size caps (decompressed size included),
 * metrics and one span per request.
 *
 * Requests are plain data ({@link RequestInput}) or `@effect/platform`
 * `HttpClientRequest`s; responses are buffered ({@link HttpResponse}),
 * decoded with a `Schema` ({@link json}), or streamed ({@link stream}). The
 * body read and decode run inside the retried unit, so a connection reset
 * mid-body is retried like any other transport failure. The service also
 * exposes itself as a platform `HttpClient` ({@link Http.client},
 * {@link layerHttpClient}) for code written against that interface.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Http } from "@fiberkit/core"
 *
 * const Ticker = Schema.Struct({ symbol: Schema.String, price: Schema.NumberFromString })
 *
 * const program = Effect.gen(function*() {
 *   const ticker = yield* Http.json(Ticker, "https://api.example.com/ticker?symbol=BTCUSDT")
 *   yield* Effect.log(`${ticker.symbol}: ${ticker.price}`)
 * })
 *
 * program.pipe(
 *   Effect.provide(Http.layerWith({ limits: { perHostMaxInFlight: 4, perHostPerSecond: 10 } })),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Concurrent from "./Concurrent.js"
import type * as HttpError from "./HttpError.js"
import * as internal from "./internal/http.js"
import type * as KeyedRateLimiter from "./KeyedRateLimiter.js"
import * as Retry from "./Retry.js"

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/**
 * Timeouts in milliseconds. Every one is finite by default: there is no way to
 * wait forever by accident. Time spent waiting for a concurrency slot or a
 * rate-limit token never counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timeouts {
  /** Establishing a connection (TCP + TLS). Default `10_000`. Set on the connection pool, so not per call. */
  readonly connectMs: number
  /** From the request being written until the response headers arrive. Default `30_000`. */
  readonly headersMs: number
  /** Longest gap between two body chunks. Default `30_000`. */
  readonly bodyMs: number
  /** One whole attempt, connection to last byte. Default `60_000`. */
  readonly attemptMs: number
  /** The whole call: every attempt, redirect and backoff delay. Default `120_000`. */
  readonly totalMs: number
}

/**
 * Concurrency and rate limits. `Infinity` disables a limit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Requests on the wire at once, across all hosts. Default `256`. */
  readonly maxInFlight: number
  /** Requests on the wire at once to one host. Default `16`. */
  readonly perHostMaxInFlight: number
  /** Request starts per second to one host. Default `Infinity`. */
  readonly perHostPerSecond: number
  /** Starts a host may receive back to back before the rate applies. Default `1`. */
  readonly perHostBurst: number
  /**
   * Adapt each host's rate to its answers (the `KeyedRateLimiter` adaptive
   * mode): a 429 or 503 pauses the whole host until its `Retry-After` and
   * halves its rate; successes win the rate back gradually. Default `false`
   * (each request still honours its own `Retry-After`).
   */
  readonly adaptive: boolean
}

/**
 * The connection pool (an undici `Agent` owned by the layer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Pool {
  /**
   * Connections kept per origin. Default: `perHostMaxInFlight` (so requests
   * never queue inside the pool, where a timeout could not tell waiting from
   * working), or unlimited when that is unlimited.
   */
  readonly connectionsPerOrigin: number | undefined
  /** HTTP/1.1 pipelining depth. Default `1` (off). */
  readonly pipelining: number
  /** Idle keep-alive time of a pooled connection. Default `4_000` ms. */
  readonly keepAliveTimeoutMs: number
  /** Upper bound on a server-advertised keep-alive. Default `600_000` ms. */
  readonly keepAliveMaxTimeoutMs: number
  /** Cache DNS answers (undici's dns interceptor). Default `true`. */
  readonly dnsCache: boolean
}

/**
 * The resolved settings of an {@link Http} service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Resolves relative request URLs. Default: none (relative URLs are an `InvalidUrl` error). */
  readonly baseUrl: string | undefined
  /** Headers added to every request (a request's own headers win). Default none. */
  readonly headers: Readonly<Record<string, string>>
  /** Default `fiberkit/0.1`. */
  readonly userAgent: string
  readonly timeouts: Timeouts
  readonly retry: Retry.Policy
  readonly limits: Limits
  readonly pool: Pool
  /** Largest response body, after decompression. Default 10 MiB. */
  readonly maxBodyBytes: number
  /** Redirects followed per call; `0` returns 3xx responses as they are. Default `10`. */
  readonly maxRedirects: number
  /** Send `accept-encoding` and decode gzip, br and deflate. Default `true`. */
  readonly decompress: boolean
  /** The key per-host limits are counted under. Default: `url.host` (host and port). */
  readonly hostKey: (url: URL) => string
  /**
   * Label metrics by host. Past `maxHosts` distinct hosts the label becomes
   * `other`, so a crawl cannot blow up the metric registry. Default `true`, `1000`.
   */
  readonly metrics: { readonly perHost: boolean; readonly maxHosts: number }
}

/**
 * Partial settings: anything left out takes its default. Durations accept
 * `Duration` inputs (`"5 seconds"`, `Duration.millis(500)`, a number of ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly baseUrl?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly userAgent?: string | undefined
  readonly timeouts?: TimeoutsInput | undefined
  /** Retry overrides, or `false` for no retries. */
  readonly retry?: Retry.Overrides | false | undefined
  readonly limits?: Partial<Limits> | undefined
  readonly pool?: {
    readonly connectionsPerOrigin?: number | undefined
    readonly pipelining?: number | undefined
    readonly keepAliveTimeout?: Duration.DurationInput | undefined
    readonly keepAliveMaxTimeout?: Duration.DurationInput | undefined
    readonly dnsCache?: boolean | undefined
  } | undefined
  readonly maxBodyBytes?: number | undefined
  readonly maxRedirects?: number | undefined
  readonly decompress?: boolean | undefined
  readonly hostKey?: ((url: URL) => string) | undefined
  /**
   * Use this per-host rate limiter instead of making one from
   * `limits.perHostPerSecond`/`perHostBurst`: for a program that shapes the
   * rates itself (a crawler setting robots Crawl-delay floors) while every
   * request, retry and redirect hop of `Http` still goes through it. Keys
   * are `hostKey(url)`. `limits.adaptive` still feeds it 429/503 answers.
   */
  readonly rateLimiter?: KeyedRateLimiter.KeyedRateLimiter<string> | undefined
  readonly metrics?: { readonly perHost?: boolean | undefined; readonly maxHosts?: number | undefined } | undefined
}

/**
 * Timeout overrides.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeoutsInput {
  readonly connect?: Duration.DurationInput | undefined
  readonly headers?: Duration.DurationInput | undefined
  readonly body?: Duration.DurationInput | undefined
  readonly attempt?: Duration.DurationInput | undefined
  readonly total?: Duration.DurationInput | undefined
}

/**
 * The default settings (see each field of {@link Settings}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Settings = {
  baseUrl: undefined,
  headers: {},
  userAgent: "fiberkit/0.1",
  timeouts: { connectMs: 10_000, headersMs: 30_000, bodyMs: 30_000, attemptMs: 60_000, totalMs: 120_000 },
  retry: Retry.defaults,
  limits: {
    maxInFlight: 256,
    perHostMaxInFlight: 16,
    perHostPerSecond: Number.POSITIVE_INFINITY,
    perHostBurst: 1,
    adaptive: false
  },
  pool: {
    connectionsPerOrigin: undefined,
    pipelining: 1,
    keepAliveTimeoutMs: 4_000,
    keepAliveMaxTimeoutMs: 600_000,
    dnsCache: true
  },
  maxBodyBytes: 10 * 1024 * 1024,
  maxRedirects: 10,
  decompress: true,
  hostKey: (url) => url.host,
  metrics: { perHost: true, maxHosts: 1000 }
}

/**
 * Invalid settings: `path` names the field, the message says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class SettingsError extends Data.TaggedError("HttpSettingsError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid Http setting ${this.path}: ${this.reason}`
  }
}

/**
 * Applies {@link Input} to settings (the {@link defaults} unless given) and
 * validates the result.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve: (input: Input, base?: Settings) => Either.Either<Settings, SettingsError> = internal.resolve

/**
 * The settings read from the environment, every one optional (defaults as in
 * {@link Settings}):
 *
 * | variable | meaning |
 * |---|---|
 * | `HTTP_BASE_URL` | base URL for relative requests |
 * | `HTTP_USER_AGENT` | User-Agent header |
 * | `HTTP_MAX_IN_FLIGHT` | global in-flight limit |
 * | `HTTP_PER_HOST_MAX_IN_FLIGHT` | per-host in-flight limit |
 * | `HTTP_PER_HOST_RATE` | per-host starts per second |
 * | `HTTP_PER_HOST_BURST` | per-host burst |
 * | `HTTP_ADAPTIVE` | `true` to adapt each host's rate to 429/503 answers |
 * | `HTTP_TIMEOUT_CONNECT`, `HTTP_TIMEOUT_HEADERS`, `HTTP_TIMEOUT_BODY`, `HTTP_TIMEOUT_ATTEMPT`, `HTTP_TIMEOUT_TOTAL` | durations, e.g. `5 seconds` |
 * | `HTTP_RETRY_MAX_ATTEMPTS` | attempts including the first |
 * | `HTTP_RETRY_BASE_DELAY`, `HTTP_RETRY_MAX_DELAY`, `HTTP_RETRY_MAX_RETRY_AFTER` | durations |
 * | `HTTP_MAX_BODY_BYTES` | response size cap |
 * | `HTTP_MAX_REDIRECTS` | redirects followed |
 * | `HTTP_CONNECTIONS_PER_ORIGIN`, `HTTP_PIPELINING` | pool |
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Input> = Config.all({
  baseUrl: Config.option(Config.string("BASE_URL")),
  userAgent: Config.option(Config.string("USER_AGENT")),
  maxInFlight: Config.option(Config.number("MAX_IN_FLIGHT")),
  perHostMaxInFlight: Config.option(Config.number("PER_HOST_MAX_IN_FLIGHT")),
  perHostPerSecond: Config.option(Config.number("PER_HOST_RATE")),
  perHostBurst: Config.option(Config.number("PER_HOST_BURST")),
  adaptive: Config.option(Config.boolean("ADAPTIVE")),
  connect: Config.option(Config.duration("TIMEOUT_CONNECT")),
  headers: Config.option(Config.duration("TIMEOUT_HEADERS")),
  body: Config.option(Config.duration("TIMEOUT_BODY")),
  attempt: Config.option(Config.duration("TIMEOUT_ATTEMPT")),
  total: Config.option(Config.duration("TIMEOUT_TOTAL")),
  maxAttempts: Config.option(Config.integer("RETRY_MAX_ATTEMPTS")),
  baseDelay: Config.option(Config.duration("RETRY_BASE_DELAY")),
  maxDelay: Config.option(Config.duration("RETRY_MAX_DELAY")),
  maxRetryAfter: Config.option(Config.duration("RETRY_MAX_RETRY_AFTER")),
  maxBodyBytes: Config.option(Config.integer("MAX_BODY_BYTES")),
  maxRedirects: Config.option(Config.integer("MAX_REDIRECTS")),
  connectionsPerOrigin: Config.option(Config.integer("CONNECTIONS_PER_ORIGIN")),
  pipelining: Config.option(Config.integer("PIPELINING"))
}).pipe(
  Config.nested("HTTP"),
  Config.map((c): Input => ({
    baseUrl: Option.getOrUndefined(c.baseUrl),
    userAgent: Option.getOrUndefined(c.userAgent),
    limits: {
      ...Option.match(c.maxInFlight, { onNone: () => ({}), onSome: (maxInFlight) => ({ maxInFlight }) }),
      ...Option.match(c.perHostMaxInFlight, { onNone: () => ({}), onSome: (perHostMaxInFlight) => ({ perHostMaxInFlight }) }),
      ...Option.match(c.perHostPerSecond, { onNone: () => ({}), onSome: (perHostPerSecond) => ({ perHostPerSecond }) }),
      ...Option.match(c.perHostBurst, { onNone: () => ({}), onSome: (perHostBurst) => ({ perHostBurst }) }),
      ...Option.match(c.adaptive, { onNone: () => ({}), onSome: (adaptive) => ({ adaptive }) })
    },
    timeouts: {
      connect: Option.getOrUndefined(c.connect),
      headers: Option.getOrUndefined(c.headers),
      body: Option.getOrUndefined(c.body),
      attempt: Option.getOrUndefined(c.attempt),
      total: Option.getOrUndefined(c.total)
    },
    retry: {
      maxAttempts: Option.getOrUndefined(c.maxAttempts),
      baseDelay: Option.getOrUndefined(c.baseDelay),
      maxDelay: Option.getOrUndefined(c.maxDelay),
      maxRetryAfter: Option.getOrUndefined(c.maxRetryAfter)
    },
    maxBodyBytes: Option.getOrUndefined(c.maxBodyBytes),
    maxRedirects: Option.getOrUndefined(c.maxRedirects),
    pool: {
      connectionsPerOrigin: Option.getOrUndefined(c.connectionsPerOrigin),
      pipelining: Option.getOrUndefined(c.pipelining)
    }
  }))
)

// ---------------------------------------------------------------------------
// Requests and responses
// ---------------------------------------------------------------------------

/**
 * Query parameters: values are stringified; arrays repeat the key;
 * `undefined` values are skipped.
 *
 * @since 0.1.0
 * @category models
 */
export type Query = Readonly<
  Record<string, string | number | boolean | ReadonlyArray<string | number | boolean> | undefined>
>

/**
 * Per-call options; each overrides the service setting of the same name.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly query?: Query | URLSearchParams | undefined
  /** `connect` cannot be overridden per call (it is a property of the pool). */
  readonly timeouts?: Omit<TimeoutsInput, "connect"> | undefined
  /** Retry overrides, or `false` for a single attempt. */
  readonly retry?: Retry.Overrides | false | undefined
  readonly maxBodyBytes?: number | undefined
  /** Redirects to follow, or `false` to return 3xx responses as they are. */
  readonly maxRedirects?: number | false | undefined
  /**
   * Called before each redirect hop; returning `false` stops there and
   * returns the 3xx response (its `location` header says where it pointed;
   * its body was drained, not kept). Use it to keep a crawler in scope.
   */
  readonly followRedirect?: ((from: URL, to: URL, status: number) => boolean) | undefined
  /**
   * Statuses that count as success. Default: 2xx, plus 3xx when the redirect
   * was not followed. Anything else fails with `StatusError` (after retries
   * when the status is retryable).
   */
  readonly acceptStatus?: ((status: number) => boolean) | undefined
  /**
   * `false`: a status outside `acceptStatus` is still retried when the
   * policy retries it (503, 429 with Retry-After, …), but once the retries
   * end the last response is returned instead of failing with
   * `StatusError`. For callers that record every answer (a crawler).
   * Default `true`.
   */
  readonly failOnStatus?: boolean | undefined
  /** Count this request under another per-host key. */
  readonly hostKey?: string | undefined
}

/**
 * A request as plain data. Give at most one of `json`, `form` and `body`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInput extends RequestOptions {
  /** Default `GET`. */
  readonly method?: string | undefined
  /** Absolute, or relative to the `baseUrl` setting. */
  readonly url: string | URL
  /** Sent as `application/json`. */
  readonly json?: unknown
  /** Sent as `application/x-www-form-urlencoded`. */
  readonly form?: Readonly<Record<string, string>> | URLSearchParams | undefined
  /** Sent as is (set `content-type` yourself). */
  readonly body?: string | Uint8Array | undefined
}

/**
 * One redirect that was followed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Redirect {
  /** The URL that answered with the redirect. */
  readonly url: string
  readonly status: number
  /** Where it pointed, resolved. */
  readonly location: string
  /** The method used for the next hop (a 303 turns POST into GET). */
  readonly method: string
}

/**
 * A complete, buffered response.
 *
 * @since 0.1.0
 * @category models
 */
export class HttpResponse {
  private decodedText: string | undefined = undefined
  constructor(
    /** The method of the final hop (a 303 turns POST into GET). */
    readonly method: string,
    /** The URL that answered: the last hop after redirects. */
    readonly url: string,
    readonly status: number,
    /** Lower-case names; repeated headers (`set-cookie`) are arrays. */
    readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
    /** The body after content decoding. */
    readonly body: Uint8Array,
    /** Redirects followed, in order. */
    readonly redirects: ReadonlyArray<Redirect>,
    /** Attempts made, the successful one included. */
    readonly attempts: number
  ) {}

  /** A header's value (the first one when repeated). */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()]
    return typeof value === "string" ? value : value?.[0]
  }

  /** `content-type` without parameters, lower-case. */
  get contentType(): string | undefined {
    return this.header("content-type")?.split(";")[0]?.trim().toLowerCase()
  }

  /** The body as text, in the charset the response declares (UTF-8 otherwise). */
  get text(): string {
    if (this.decodedText === undefined) this.decodedText = internal.decodeText(this.body, this.header("content-type"))
    return this.decodedText
  }
}

/**
 * A response whose body is read as a stream. The stream enforces the body
 * size cap and the idle timeout, and decodes content-encoding.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamResponse {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly redirects: ReadonlyArray<Redirect>
  readonly attempts: number
  readonly body: Stream.Stream<Uint8Array, HttpError.HttpError>
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The HTTP client service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly settings: Settings
  /** Sends a request described as data and buffers the response. */
  readonly request: (input: RequestInput) => Effect.Effect<HttpResponse, HttpError.HttpError>
  /** Sends a platform `HttpClientRequest` and buffers the response. */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    options?: RequestOptions
  ) => Effect.Effect<HttpResponse, HttpError.HttpError>
  readonly get: (url: string | URL, options?: RequestOptions) => Effect.Effect<HttpResponse, HttpError.HttpError>
  /**
   * Sends a request and decodes its JSON body with `schema`. The decode runs
   * inside the retried unit; a mismatch fails with `DecodeError` naming the path.
   */
  readonly json: <A, I, R>(
    schema: Schema.Schema<A, I, R>,
    input: RequestInput | string | URL
  ) => Effect.Effect<A, HttpError.HttpError, R>
  /** Sends a request and returns its body as text. */
  readonly text: (input: RequestInput | string | URL) => Effect.Effect<string, HttpError.HttpError>
  /**
   * Sends a request and returns the response once its headers arrived, with
   * the body as a `Stream`. Retries and redirects happen before the body
   * starts; the request's concurrency slots are held until the body ends or
   * the scope closes (which aborts a body still arriving). The attempt
   * timeout ends at the headers; the body is bounded by the idle timeout and
   * `maxBodyBytes`.
   */
  readonly stream: (input: RequestInput | string | URL) => Effect.Effect<StreamResponse, HttpError.HttpError, Scope.Scope>
  /**
   * The same client as a platform `HttpClient`: limits, timeouts and
   * retries (Retry-After included) apply; redirects are not followed and a
   * status that is still unaccepted after the retries comes back as a
   * response, as the platform expects; bodies are buffered.
   */
  readonly client: HttpClient.HttpClient
}

/**
 * The `Http` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Http extends Context.Tag("@fiberkit/core/Http")<Http, Service>() {}

/**
 * Builds the service with its own connection pool, closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (input?: Input) => Effect.Effect<Service, SettingsError, Scope.Scope> = internal.make

/**
 * The service with the given settings (defaults for the rest).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (input: Input): Layer.Layer<Http, SettingsError> => Layer.scoped(Http, make(input))

/**
 * The service configured from the environment ({@link config}), with
 * `overrides` applied on top.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (overrides: Input = {}): Layer.Layer<Http, SettingsError | ConfigError.ConfigError> =>
  Layer.scoped(
    Http,
    Effect.flatMap(config, (fromEnv) => make(internal.mergeInput(fromEnv, overrides)))
  )

/**
 * The service with settings from the environment and defaults otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Http, SettingsError | ConfigError.ConfigError> = layerConfig()

/**
 * Provides the platform `HttpClient` backed by {@link Http}, so code written
 * against `@effect/platform` gets the same limits, timeouts and retries.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient, never, Http> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(Http, (http) => http.client)
)

// ---------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------

/**
 * `GET url` with the {@link Http} service from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (url: string | URL, options?: RequestOptions): Effect.Effect<HttpResponse, HttpError.HttpError, Http> =>
  Effect.flatMap(Http, (http) => http.get(url, options))

/**
 * Sends a request described as data with the {@link Http} service from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const request = (input: RequestInput): Effect.Effect<HttpResponse, HttpError.HttpError, Http> =>
  Effect.flatMap(Http, (http) => http.request(input))

/**
 * Sends a platform `HttpClientRequest` with the {@link Http} service from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const execute = (
  req: HttpClientRequest.HttpClientRequest,
  options?: RequestOptions
): Effect.Effect<HttpResponse, HttpError.HttpError, Http> => Effect.flatMap(Http, (http) => http.execute(req, options))

/**
 * Sends a request and decodes its JSON body with `schema`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const json = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  input: RequestInput | string | URL
): Effect.Effect<A, HttpError.HttpError, Http | R> => Effect.flatMap(Http, (http) => http.json(schema, input))

/**
 * Sends a request and returns its body as text.
 *
 * @since 0.1.0
 * @category accessors
 */
export const text = (input: RequestInput | string | URL): Effect.Effect<string, HttpError.HttpError, Http> =>
  Effect.flatMap(Http, (http) => http.text(input))

/**
 * Sends a request and streams its body.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (
  input: RequestInput | string | URL
): Effect.Effect<StreamResponse, HttpError.HttpError, Http | Scope.Scope> => Effect.flatMap(Http, (http) => http.stream(input))

// ---------------------------------------------------------------------------
// Combinators
// ---------------------------------------------------------------------------

/**
 * Runs the effects concurrently and succeeds with the first success; the
 * others are interrupted at once (their requests aborted, their connections
 * and slots released). Fails only when all fail, with every error in order.
 * The same function as `Concurrent.firstOf`.
 *
 * @example
 * ```ts
 * // ask three mirrors, take the fastest good answer
 * const price = Http.firstOf(mirrors.map((url) => Http.json(Price, url)))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const firstOf: <A, E, R>(effects: Iterable<Effect.Effect<A, E, R>>) => Effect.Effect<A, Array<E>, R> =
  Concurrent.firstOf

/**
 * The outcome of one effect run by {@link settle}.
 *
 * @since 0.1.0
 * @category models
 */
export type Settled<A, E> = Concurrent.Settled<A, E>

/**
 * Runs every effect (at most `concurrency` at once, default all) and returns
 * each outcome in input order as `Either.right(value)` or `Either.left(error)`
 * — `asyncio.gather(..., return_exceptions=True)`, typed. Defects and
 * interruptions are not captured: they still end the whole call. The same
 * function as `Concurrent.settle`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const settle: <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options?: { readonly concurrency?: number | "unbounded" | undefined }
) => Effect.Effect<Array<Settled<A, E>>, never, R> = Concurrent.settle
