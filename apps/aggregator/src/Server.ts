/**
 * `Server`: the aggregator's HTTP server — the {@link Api} implemented over
 * `Store` (history, stored aggregates), `Live` (latest aggregates in memory,
 * the SSE stream) and `SourceHealth`, plus OpenAPI docs at `/docs` (spec at
 * `/openapi.json`) and the dashboard at `/`.
 *
 * - `GET /api/prices/:symbol` answers from memory (`Live`) and reads the
 *   database only for a symbol not seen since the server started.
 * - `GET /api/stream` sends the latest aggregate of each symbol, then every
 *   new one, as `event: aggregate` with the aggregate as JSON `data`, and a
 *   `: heartbeat` comment every `heartbeat` (default 15 s) so proxies keep
 *   the connection open. A client that disconnects is unsubscribed; a
 *   client that reads too slowly loses its oldest unread aggregates (see
 *   `Live`). When the server stops, open streams end so that it can close.
 * - `GET /health`: `200` with `status: "ok"` or `"degraded"` (some circuit
 *   open, or no tick yet right after start), `503` with `status: "down"`
 *   when the database does not answer a ping within `dbTimeout` (default
 *   2 s), no tick was published for `staleAfter` (default 30 s), or every
 *   source's circuit is open.
 * - `GET /metrics`: every `effect/Metric` as Prometheus text (core `Metrics`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as Server from "./Server.js"
 *
 * // needs Store | Live | SourceHealth
 * const HttpLive = Server.layer({ port: 8080, host: "127.0.0.1" })
 * ```
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import type * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { DbError } from "@fiberkit/core"
import { Metrics } from "@fiberkit/core"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { readdir, readFile } from "node:fs/promises"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { extname, join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  Api,
  candleCount,
  decodeParam,
  defaultCandles,
  defaultInterval,
  type Health,
  type HistoryResponse,
  IntervalParam,
  InvalidRange,
  maxCandles,
  PriceResponse,
  type PriceSource,
  StoreUnavailable,
  SymbolParam,
  TimeParam,
  UnknownSymbol,
  Unhealthy
} from "./Api.js"
import { Live } from "./Live.js"
import type { Aggregate, SymbolSummary } from "./Model.js"
import { SourceHealth } from "./SourceHealth.js"
import { Store } from "./Store.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** TCP port; default 8080 (0 picks a free one). */
  readonly port?: number | undefined
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Interval of the SSE heartbeat comment; default 15 s. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** `/health` is down when no tick was published for this long; default 30 s. */
  readonly staleAfter?: Duration.DurationInput | undefined
  /** How long `/health` waits for the database ping; default 2 s. */
  readonly dbTimeout?: Duration.DurationInput | undefined
}

/**
 * The default port, 8080.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPort = 8080

/**
 * The default host, `127.0.0.1` (loopback only).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHost = "127.0.0.1"

const storeUnavailable = (error: DbError.DbError) =>
  Effect.logWarning("aggregator API: the database did not answer", error).pipe(
    Effect.zipRight(Effect.fail(
      new StoreUnavailable({ message: `the database did not answer: ${error.message}; try again shortly` })
    ))
  )

const unknownSymbol = (symbol: string) =>
  new UnknownSymbol({
    symbol,
    message: `no aggregate for symbol "${symbol}": it is not configured or has not been quoted yet; ` +
      "GET /api/symbols lists the known symbols"
  })

/** The latest aggregate of `symbol`: from memory, else from the database. */
const latestAggregate = (symbol: string) =>
  Effect.gen(function*() {
    const live = yield* Live
    const inMemory = yield* live.latest(symbol)
    if (Option.isSome(inMemory)) return inMemory
    const store = yield* Store
    return yield* Effect.catchAll(store.latest(symbol), storeUnavailable)
  })

const bps = (price: number | null, reference: number | null): number | null =>
  price === null || reference === null || reference === 0 ? null : ((price - reference) / reference) * 10_000

/**
 * Every source's part in an aggregate, by source name.
 *
 * @since 0.1.0
 * @category api
 */
export const priceSources = (aggregate: Aggregate): ReadonlyArray<PriceSource> => {
  const sources: Array<PriceSource> = []
  for (const c of aggregate.contributions) {
    sources.push({
      source: c.source,
      status: "contributed",
      price: c.price,
      deviationBps: c.deviation * 10_000,
      volume: c.volume,
      ageMs: c.ageMs,
      reason: null,
      detail: null
    })
  }
  for (const e of aggregate.exclusions) {
    sources.push({
      source: e.source,
      status: "excluded",
      price: e.price,
      deviationBps: bps(e.price, aggregate.price),
      volume: null,
      ageMs: null,
      reason: e.reason,
      detail: e.detail
    })
  }
  return sources.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
}

const encodePriceBody = Schema.encode(PriceResponse.pipe(Schema.omit("ageMs")))
const priceJsonCache = new WeakMap<Aggregate, string>()

/**
 * The JSON of a {@link PriceResponse} up to its `ageMs` value, built (and
 * checked against the schema) once per aggregate rather than per request:
 * the hot endpoint then costs a string concatenation, and only `ageMs`
 * changes between requests.
 */
const priceJsonPrefix = (symbol: string, aggregate: Aggregate): Effect.Effect<string> => {
  const cached = priceJsonCache.get(aggregate)
  if (cached !== undefined) return Effect.succeed(cached)
  return encodePriceBody({ symbol, aggregate, sources: priceSources(aggregate) }).pipe(
    // Our own aggregate not fitting its schema is a bug, not a request error.
    Effect.orDie,
    Effect.map((encoded) => {
      const json = JSON.stringify(encoded)
      const prefix = `${json.slice(0, -1)},"ageMs":`
      priceJsonCache.set(aggregate, prefix)
      return prefix
    })
  )
}

const PricesLive = HttpApiBuilder.group(Api, "prices", (handlers) =>
  handlers
    .handle("symbols", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const live = yield* Live
        const stored = yield* Effect.catchAll(store.symbols, storeUnavailable)
        // The writer batches, so memory can be ahead of the database: the later tick wins.
        const bySymbol = new Map<string, SymbolSummary>(stored.map((s) => [s.symbol, s]))
        for (const a of yield* live.snapshot) {
          const known = bySymbol.get(a.symbol)
          if (known === undefined || known.lastTick === null || known.lastTick <= a.tick) {
            bySymbol.set(a.symbol, { symbol: a.symbol, lastTick: a.tick, price: a.price })
          }
        }
        return Array.from(bySymbol.values()).sort((a, b) => (a.symbol < b.symbol ? -1 : 1))
      }))
    .handle("price", ({ path }) =>
      Effect.gen(function*() {
        const symbol = yield* decodeParam(SymbolParam, "symbol", path.symbol)
        const aggregate = yield* latestAggregate(symbol)
        if (Option.isNone(aggregate)) return yield* Effect.fail(unknownSymbol(symbol))
        const prefix = yield* priceJsonPrefix(symbol, aggregate.value)
        const now = yield* Clock.currentTimeMillis
        return HttpServerResponse.text(`${prefix}${Math.max(0, now - aggregate.value.tick)}}`, {
          contentType: "application/json"
        })
      }))
    .handle("history", ({ path, urlParams }) =>
      Effect.gen(function*() {
        const symbol = yield* decodeParam(SymbolParam, "symbol", path.symbol)
        const interval = urlParams.interval ?? defaultInterval
        const intervalMs = yield* decodeParam(IntervalParam, "interval", interval)
        const to = urlParams.to === undefined
          ? yield* Clock.currentTimeMillis
          : yield* decodeParam(TimeParam, "to", urlParams.to)
        const from = urlParams.from === undefined
          ? Math.max(0, to - defaultCandles * intervalMs)
          : yield* decodeParam(TimeParam, "from", urlParams.from)
        const candles = candleCount(from, to, intervalMs)
        if (from >= to) {
          return yield* Effect.fail(
            new InvalidRange({
              parameter: "from",
              from,
              to,
              intervalMs,
              candles,
              maxCandles,
              message: `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`
            })
          )
        }
        if (candles > maxCandles) {
          return yield* Effect.fail(
            new InvalidRange({
              parameter: "interval",
              from,
              to,
              intervalMs,
              candles,
              maxCandles,
              message: `from ${new Date(from).toISOString()} to ${new Date(to).toISOString()} at interval ` +
                `${interval} is ${candles} candles, more than the ${maxCandles} allowed: ` +
                "use a larger interval or a shorter range"
            })
          )
        }
        if (Option.isNone(yield* latestAggregate(symbol))) return yield* Effect.fail(unknownSymbol(symbol))
        const store = yield* Store
        const rows = yield* Effect.catchAll(store.history(symbol, { from, to, intervalMs }), storeUnavailable)
        const response: HistoryResponse = { symbol, interval, intervalMs, from, to, candles: rows }
        return response
      }))
)

const SourcesLive = HttpApiBuilder.group(Api, "sources", (handlers) =>
  handlers.handle("list", () => Effect.flatMap(SourceHealth, (health) => health.snapshot)))

const encoder = new TextEncoder()

const sseEvent = (aggregate: Aggregate): string => `event: aggregate\ndata: ${JSON.stringify(aggregate)}\n\n`

/**
 * The SSE body: the latest aggregate of each (matching) symbol, then every
 * new one, with heartbeat comments, until `closing` completes.
 */
const sseStream = (
  live: Live["Type"],
  symbols: ReadonlySet<string> | undefined,
  heartbeat: Duration.Duration,
  closing: Deferred.Deferred<void>
): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    // Subscribe before taking the snapshot so that nothing published in between is missed.
    const queue = yield* live.subscribe
    const snapshot = yield* live.snapshot
    const wanted = (a: Aggregate) => symbols === undefined || symbols.has(a.symbol)
    const events = Stream.concat(Stream.fromIterable(snapshot), Stream.fromQueue(queue)).pipe(
      Stream.filter(wanted),
      // One write per chunk of aggregates, not one per aggregate.
      Stream.mapChunks((chunk) => Chunk.of(Chunk.join(Chunk.map(chunk, sseEvent), "")))
    )
    const heartbeats = Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(Stream.as(": heartbeat\n\n"))
    return Stream.make("retry: 3000\n: connected\n\n").pipe(
      Stream.concat(Stream.merge(events, heartbeats)),
      Stream.interruptWhen(Deferred.await(closing)),
      Stream.map((text) => encoder.encode(text))
    )
  }))

const StreamLive = (heartbeat: Duration.Duration) =>
  HttpApiBuilder.group(Api, "stream", (handlers) =>
    Effect.gen(function*() {
      const live = yield* Live
      // Node's server.close waits for open connections: end every stream first when the server stops.
      const closing = yield* Deferred.make<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
      return handlers.handle("aggregates", ({ urlParams }) =>
        Effect.gen(function*() {
          let symbols: Set<string> | undefined
          if (urlParams.symbols !== undefined) {
            symbols = new Set()
            for (const item of urlParams.symbols.split(",")) {
              const trimmed = item.trim()
              if (trimmed === "") continue
              symbols.add(yield* decodeParam(SymbolParam, "symbols", trimmed))
            }
          }
          return HttpServerResponse.stream(sseStream(live, symbols, heartbeat, closing), {
            contentType: "text/event-stream",
            // `connection: close`: when the stream ends (server stopping) the socket goes too, instead of idling
            // in keep-alive and holding server.close for the keep-alive timeout.
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "close" }
          })
        }))
    }))

const SystemLive = (options: { readonly staleAfter: Duration.Duration; readonly dbTimeout: Duration.Duration }) =>
  HttpApiBuilder.group(Api, "system", (handlers) =>
    Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const store = yield* Store
      const live = yield* Live
      const sourceHealth = yield* SourceHealth
      const staleMs = Duration.toMillis(options.staleAfter)

      const dbCheck = Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        return yield* store.ping.pipe(
          Effect.timeoutFail({
            duration: options.dbTimeout,
            onTimeout: () => ({ message: `no answer within ${Duration.format(options.dbTimeout)}` })
          }),
          Effect.matchEffect({
            onFailure: (error) =>
              Effect.succeed({ ok: false, latencyMs: null, error: error.message }),
            onSuccess: () =>
              Effect.map(Clock.currentTimeMillis, (now) => ({ ok: true, latencyMs: now - started, error: null }))
          })
        )
      })

      const check = Effect.gen(function*() {
        const [db, lastTick, statuses] = yield* Effect.all([dbCheck, live.lastTick, sourceHealth.snapshot], {
          concurrency: 3
        })
        const now = yield* Clock.currentTimeMillis
        const uptimeMs = now - startedAt
        const problems: Array<string> = []
        let down = false
        if (!db.ok) {
          down = true
          problems.push(`the database does not answer: ${db.error ?? "unknown error"}`)
        }
        const lastTickAgeMs = Option.match(lastTick, { onNone: () => null, onSome: (t) => Math.max(0, now - t) })
        if (lastTickAgeMs === null) {
          if (uptimeMs > staleMs) down = true
          problems.push(`no aggregate published in the ${Math.round(uptimeMs / 1000)} s since the server started`)
        } else if (lastTickAgeMs > staleMs) {
          down = true
          problems.push(`the last tick is ${Math.round(lastTickAgeMs / 1000)} s old (limit ${Duration.format(options.staleAfter)})`)
        }
        const open = statuses.filter((s) => s.circuit === "open").map((s) => s.source)
        if (open.length > 0) {
          if (open.length === statuses.length) down = true
          problems.push(`circuit open for ${open.length} of ${statuses.length} sources: ${open.join(", ")}`)
        }
        const health: Health = {
          status: down ? "down" : problems.length > 0 ? "degraded" : "ok",
          checkedAt: now,
          uptimeMs,
          db,
          lastTick: Option.getOrNull(lastTick),
          lastTickAgeMs,
          sources: {
            total: statuses.length,
            closed: statuses.filter((s) => s.circuit === "closed").length,
            halfOpen: statuses.filter((s) => s.circuit === "half_open").length,
            open: open.length,
            down: open
          },
          problems
        }
        return health
      })

      return handlers
        .handle("health", () =>
          Effect.flatMap(check, (health) =>
            health.status === "down"
              ? Effect.fail(new Unhealthy({ ...health, message: health.problems.join("; ") }))
              : Effect.succeed(health)))
        .handle("metrics", () => Metrics.handler)
    }))

// ---------------------------------------------------------------------------
// Dashboard
// ---------------------------------------------------------------------------

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".png": "image/png"
}

const dashboardDir = fileURLToPath(new URL("./dashboard/", import.meta.url))

const securityHeaders = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"
}

/** Serves `src/dashboard/*`: `index.html` at `/`, every file at `/dashboard/<name>`. Read once at start. */
const DashboardLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const files = yield* Effect.tryPromise({
      try: async () => {
        const names = (await readdir(dashboardDir)).filter((name) => extname(name) in contentTypes)
        return Promise.all(names.map(async (name) => [name, await readFile(join(dashboardDir, name))] as const))
      },
      catch: (cause) => new Error(`cannot read the dashboard files in ${dashboardDir}: ${String(cause)}`)
    }).pipe(Effect.orDie)
    const respond = (name: string, body: Uint8Array) =>
      HttpServerResponse.uint8Array(body, {
        contentType: contentTypes[extname(name)] ?? "application/octet-stream",
        headers: securityHeaders
      })
    for (const [name, body] of files) {
      const response = respond(name, body)
      yield* router.get(`/dashboard/${name}`, Effect.succeed(response))
      if (name === "index.html") {
        yield* router.get("/", Effect.succeed(response))
        yield* router.get("/dashboard", Effect.succeed(response))
      }
    }
  }))

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/**
 * The API handlers (`HttpApi.Api`), for serving with any `HttpServer`
 * (see {@link layerHttp}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerApi = (options: Options = {}) =>
  HttpApiBuilder.api(Api).pipe(
    Layer.provide([
      PricesLive,
      SourcesLive,
      StreamLive(Duration.decode(options.heartbeat ?? "15 seconds")),
      SystemLive({
        staleAfter: Duration.decode(options.staleAfter ?? "30 seconds"),
        dbTimeout: Duration.decode(options.dbTimeout ?? "2 seconds")
      })
    ])
  )

/**
 * The API, `/docs`, `/openapi.json` and the dashboard served on the
 * `HttpServer` of the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttp = (
  options: Options = {}
): Layer.Layer<never, never, HttpServer.HttpServer | Store | Live | SourceHealth> =>
  HttpApiBuilder.serve().pipe(
    Layer.provide([HttpApiSwagger.layer({ path: "/docs" }), HttpApiBuilder.middlewareOpenApi(), DashboardLive]),
    Layer.provide(layerApi(options)),
    Layer.provide(NodeHttpServer.layerContext)
  )

const fastPriceRequests = Metric.counter("aggregator_api_fast_price_requests_total", {
  description: "GET /api/prices/:symbol answered from the pre-encoded cache (not through the HttpApi stack)",
  incremental: true
})

const FAST_PRICE_PATH = /^\/api\/prices\/([A-Z0-9]{2,24})$/

/**
 * A Node server whose `GET /api/prices/:symbol` for a live symbol is
 * answered from `cache` before the request reaches the HttpApi stack.
 *
 * The hot endpoint's body is built once per aggregate anyway (see
 * `priceJsonPrefix`); going through routing, middleware, tracing and the
 * platform's response machinery for a string concatenation cost 3-4× a
 * bare `node:http` handler. Anything else — another method, a query string,
 * a symbol not in memory, a malformed symbol — takes the normal path, so
 * the contract, its errors and `/docs` stay the HttpApi's.
 */
const makeNodeServer = (cache: ReadonlyMap<string, { readonly prefix: string; readonly tick: number }>) => () => {
  const server = createServer()
  const emit = server.emit
  // Intercepting "request" before the platform's listener sees it: node:http has no other way to stop
  // a request from reaching every listener.
  const intercept = (event: string | symbol, ...args: Array<unknown>): boolean => {
    if (event === "request") {
      const [req, res] = args as [IncomingMessage, ServerResponse]
      if (req.method === "GET" && req.url !== undefined) {
        const match = FAST_PRICE_PATH.exec(req.url)
        const entry = match === null ? undefined : cache.get(match[1] ?? "")
        if (entry !== undefined) {
          const body = `${entry.prefix}${Math.max(0, Date.now() - entry.tick)}}`
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
          res.end(body)
          fastPriceRequests.unsafeUpdate(1, [])
          return true
        }
      }
    }
    return Reflect.apply(emit, server, [event, ...args]) as boolean
  }
  server.emit = intercept as typeof server.emit
  return server
}

/**
 * Everything served on a Node HTTP server at `host:port` (default
 * `127.0.0.1:8080`). The `HttpServer` it provides has the bound address
 * (useful with `port: 0`).
 *
 * `GET /api/prices/:symbol` for a symbol published to `Live` is answered
 * from a cache of pre-encoded responses kept current from `Live`'s
 * broadcast — the same bytes the HttpApi handler produces — so the hottest
 * endpoint runs near a bare `node:http` handler's speed.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Store | Live | SourceHealth> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const live = yield* Live
    const cache = new Map<string, { prefix: string; tick: number }>()
    const remember = (aggregate: Aggregate) =>
      Effect.map(priceJsonPrefix(aggregate.symbol, aggregate), (prefix) => {
        const current = cache.get(aggregate.symbol)
        if (current === undefined || current.tick <= aggregate.tick) cache.set(aggregate.symbol, { prefix, tick: aggregate.tick })
      })
    const updates = yield* live.subscribe
    for (const aggregate of yield* live.snapshot) yield* remember(aggregate)
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(updates), remember)))
    return layerHttp(options).pipe(
      Layer.provideMerge(
        NodeHttpServer.layer(makeNodeServer(cache), { port: options.port ?? defaultPort, host: options.host ?? defaultHost })
      )
    )
  }))

/**
 * `http://host:port` of a running server, for logs and clients.
 *
 * @since 0.1.0
 * @category utils
 */
export const url = (server: HttpServer.HttpServer): string =>
  server.address._tag === "TcpAddress"
    ? `http://${server.address.hostname.includes(":") ? `[${server.address.hostname}]` : server.address.hostname}:${server.address.port}`
    : `http+unix://${server.address.path}`
