/**
 * The API contract, through the typed client derived from `Api`
 * (`HttpApiClient.make`) against a real server on a loopback port, over the
 * real Store (SQLite), Live and SourceHealth. Error bodies are also read raw,
 * to pin the JSON a non-Effect client sees.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Aggregate from "../src/Aggregate.js"
import { Api, InvalidParameter, InvalidRange, maxCandles, Unhealthy, UnknownSymbol } from "../src/Api.js"
import type { Aggregate as AggregateModel } from "../src/Model.js"
import * as Harness from "./serverHarness.js"

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0) // 2024-05-01T12:00:00Z
const STEP = 10_000

/** Stored history: BTC 67000 + 10·i, ETH 3500 + i, SOL 150 + i/10, one aggregate every 10 s for 10 minutes. */
const stored = (symbol: string, base: number, slope: number): ReadonlyArray<AggregateModel> =>
  Array.from({ length: 60 }, (_, i) => Harness.simple(symbol, T0 + i * STEP, base + slope * i))

const now = Date.now()
const liveBtc = Aggregate.aggregate("BTCUSDT", now - 500, [
  Harness.quote("binance", "BTCUSDT", now - 500, 67_010),
  Harness.quote("coinbase", "BTCUSDT", now - 500, 67_000),
  Harness.quote("kraken", "BTCUSDT", now - 500, 66_990),
  Harness.quote("bitstamp", "BTCUSDT", now - 500, 69_000),
  Harness.failure("okx", "BTCUSDT", "timeout", "okx did not answer within 2s")
])
const liveEth = Harness.simple("ETHUSDT", now - 500, 3_510)

const seed = (env: Harness.Running) =>
  Effect.gen(function*() {
    yield* env.store.writeAggregates([
      ...stored("BTCUSDT", 67_000, 10),
      ...stored("ETHUSDT", 3_500, 1),
      ...stored("SOLUSDT", 150, 0.1)
    ])
    yield* env.live.publish([liveBtc, liveEth])
    for (const source of ["binance", "coinbase", "kraken"]) {
      yield* env.health.register(source, "exchange")
      yield* env.health.record(source, { ok: true, latencyMs: 40, at: now })
    }
  })

const client = (url: string) => HttpApiClient.make(Api, { baseUrl: url }).pipe(Effect.provide(FetchHttpClient.layer))

/** Status and JSON body of a raw GET. */
const raw = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    const text = await response.text()
    return { status: response.status, contentType: response.headers.get("content-type"), text }
  })

const json = (text: string): unknown => JSON.parse(text)

layer(Harness.layer({}, seed), { excludeTestServices: true })("Api", (it) => {
  describe("GET /api/symbols", () => {
    it.effect("lists stored and live symbols, the later tick winning", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const symbols = yield* (yield* client(url)).prices.symbols()
        expect(symbols.map((s) => s.symbol)).toEqual(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
        expect(symbols[0]).toEqual({ symbol: "BTCUSDT", lastTick: liveBtc.tick, price: liveBtc.price })
        const sol = symbols[2]
        expect(sol?.lastTick).toBe(T0 + 59 * STEP)
        expect(sol?.price).toBeCloseTo(150 + 5.9, 6)
      }))
  })

  describe("GET /api/prices/:symbol", () => {
    it.effect("answers the live aggregate with every source's part and deviation in bps", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const price = yield* (yield* client(url)).prices.price({ path: { symbol: "BTCUSDT" } })
        expect(price.symbol).toBe("BTCUSDT")
        expect(price.aggregate).toEqual(liveBtc)
        expect(price.aggregate.price).toBe(67_000)
        expect(price.ageMs).toBeGreaterThanOrEqual(500)
        expect(price.sources.map((s) => [s.source, s.status, s.reason])).toEqual([
          ["binance", "contributed", null],
          ["bitstamp", "excluded", "outlier"],
          ["coinbase", "contributed", null],
          ["kraken", "contributed", null],
          ["okx", "excluded", "timeout"]
        ])
        const bps = Object.fromEntries(price.sources.map((s) => [s.source, s.deviationBps]))
        expect(bps["binance"]).toBeCloseTo((10 / 67_000) * 10_000, 9)
        expect(bps["kraken"]).toBeCloseTo((-10 / 67_000) * 10_000, 9)
        expect(bps["coinbase"]).toBe(0)
        expect(bps["bitstamp"]).toBeCloseTo((2_000 / 67_000) * 10_000, 9)
        expect(bps["okx"]).toBeNull()
      }))

    it.effect("the fast path (live symbol, plain GET) answers the same bytes as the HttpApi handler", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const fast = yield* raw(`${url}/api/prices/BTCUSDT`)
        // A query string takes the HttpApi route.
        const full = yield* raw(`${url}/api/prices/BTCUSDT?via=api`)
        expect(fast.status).toBe(200)
        expect(full.status).toBe(200)
        expect(fast.contentType).toBe(full.contentType)
        const withoutAge = (text: string) => text.replace(/,"ageMs":\d+\}$/, "}")
        expect(withoutAge(fast.text)).toBe(withoutAge(full.text))
        const metrics = yield* raw(`${url}/metrics`)
        expect(metrics.text).toMatch(/aggregator_api_fast_price_requests_total [1-9]/)
      }))

    it.effect("falls back to the database for a symbol not seen live", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const price = yield* (yield* client(url)).prices.price({ path: { symbol: "SOLUSDT" } })
        expect(price.aggregate.tick).toBe(T0 + 59 * STEP)
        expect(price.aggregate.status).toBe("ok")
        expect(price.sources.map((s) => s.source)).toEqual(["binance", "coinbase", "kraken"])
      }))

    it.effect("400 InvalidParameter for a malformed symbol", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const error = yield* Effect.flip((yield* client(url)).prices.price({ path: { symbol: "btc-usd" } }))
        expect(error).toBeInstanceOf(InvalidParameter)
        expect(error).toMatchObject({ parameter: "symbol", value: "btc-usd" })

        const response = yield* raw(`${url}/api/prices/btc-usd`)
        expect(response.status).toBe(400)
        expect(response.contentType).toContain("application/json")
        expect(json(response.text)).toEqual({
          _tag: "InvalidParameter",
          parameter: "symbol",
          value: "btc-usd",
          message: "symbol \"btc-usd\" is not valid: a symbol is 2 to 24 upper-case letters or digits, e.g. BTCUSDT"
        })
      }))

    it.effect("404 UnknownSymbol for a well-formed symbol with no aggregate", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const error = yield* Effect.flip((yield* client(url)).prices.price({ path: { symbol: "XRPUSDT" } }))
        expect(error).toBeInstanceOf(UnknownSymbol)
        const response = yield* raw(`${url}/api/prices/XRPUSDT`)
        expect(response.status).toBe(404)
        expect(json(response.text)).toEqual({
          _tag: "UnknownSymbol",
          symbol: "XRPUSDT",
          message: "no aggregate for symbol \"XRPUSDT\": it is not configured or has not been quoted yet; " +
            "GET /api/symbols lists the known symbols"
        })
      }))
  })

  describe("GET /api/prices/:symbol/history", () => {
    it.effect("OHLC candles from the database, epoch-ms range", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const history = yield* (yield* client(url)).prices.history({
          path: { symbol: "BTCUSDT" },
          urlParams: { from: String(T0), to: String(T0 + 600_000), interval: "1m" }
        })
        expect(history).toMatchObject({ symbol: "BTCUSDT", interval: "1m", intervalMs: 60_000, from: T0, to: T0 + 600_000 })
        expect(history.candles).toHaveLength(10)
        expect(history.candles[0]).toEqual({ time: T0, open: 67_000, high: 67_050, low: 67_000, close: 67_050, count: 6 })
        expect(history.candles[9]).toEqual({
          time: T0 + 540_000,
          open: 67_540,
          high: 67_590,
          low: 67_540,
          close: 67_590,
          count: 6
        })
      }))

    it.effect("ISO-8601 range, a date-time without offset read as UTC", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const history = yield* (yield* client(url)).prices.history({
          path: { symbol: "ETHUSDT" },
          urlParams: { from: "2024-05-01T12:00:00Z", to: "2024-05-01T12:05:00", interval: "5m" }
        })
        expect(history.from).toBe(T0)
        expect(history.to).toBe(T0 + 300_000)
        expect(history.candles).toEqual([{ time: T0, open: 3_500, high: 3_529, low: 3_500, close: 3_529, count: 30 }])
      }))

    it.effect("defaults: interval 1m, to now, from 120 intervals earlier", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const before = Date.now()
        const history = yield* (yield* client(url)).prices.history({ path: { symbol: "SOLUSDT" }, urlParams: {} })
        expect(history.interval).toBe("1m")
        expect(history.to).toBeGreaterThanOrEqual(before)
        expect(history.to - history.from).toBe(120 * 60_000)
        expect(history.candles).toEqual([]) // the stored data is from 2024
      }))

    const badParams: ReadonlyArray<readonly [string, Record<string, string>, string, string]> = [
      ["interval", { interval: "7x" }, "7x", "use a positive whole number and a unit s, m, h or d"],
      ["interval", { interval: "0m" }, "0m", "use a positive whole number"],
      ["interval", { interval: "1.5m" }, "1.5m", "use a positive whole number"],
      ["interval", { interval: "31d" }, "31d", "from 1s to 30d"],
      ["from", { from: "yesterday" }, "yesterday", "use epoch milliseconds"],
      ["to", { to: "2024-02-30T00:00:00Z" }, "2024-02-30T00:00:00Z", "ISO-8601"]
    ]
    for (const [parameter, urlParams, value, hint] of badParams) {
      it.effect(`400 InvalidParameter for ${parameter}=${value}`, () =>
        Effect.gen(function*() {
          const { url } = yield* Harness.Env
          const error = yield* Effect.flip(
            (yield* client(url)).prices.history({ path: { symbol: "BTCUSDT" }, urlParams })
          )
          expect(error).toBeInstanceOf(InvalidParameter)
          expect(error).toMatchObject({ parameter, value })
          const response = yield* raw(`${url}/api/prices/BTCUSDT/history?${new URLSearchParams(urlParams)}`)
          expect(response.status).toBe(400)
          const body = json(response.text) as Record<string, unknown>
          expect(body).toMatchObject({ _tag: "InvalidParameter", parameter, value })
          expect(String(body["message"])).toContain(`${parameter} "${value}" is not valid`)
          expect(String(body["message"])).toContain(hint)
        }))
    }

    it.effect("400 InvalidParameter for a malformed symbol", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const response = yield* raw(`${url}/api/prices/BTC_USDT/history`)
        expect(response.status).toBe(400)
        expect(json(response.text)).toMatchObject({ _tag: "InvalidParameter", parameter: "symbol", value: "BTC_USDT" })
      }))

    it.effect("400 InvalidRange when from is not before to", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const urlParams = { from: String(T0 + 60_000), to: String(T0), interval: "1m" }
        const error = yield* Effect.flip(
          (yield* client(url)).prices.history({ path: { symbol: "BTCUSDT" }, urlParams })
        )
        expect(error).toBeInstanceOf(InvalidRange)
        const response = yield* raw(`${url}/api/prices/BTCUSDT/history?${new URLSearchParams(urlParams)}`)
        expect(response.status).toBe(400)
        expect(json(response.text)).toEqual({
          _tag: "InvalidRange",
          parameter: "from",
          from: T0 + 60_000,
          to: T0,
          intervalMs: 60_000,
          candles: 0,
          maxCandles,
          message: "from (2024-05-01T12:01:00.000Z) must be before to (2024-05-01T12:00:00.000Z)"
        })
      }))

    it.effect("400 InvalidRange when the range spans too many candles", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const urlParams = { from: "2024-05-01", to: "2024-05-03", interval: "1m" }
        const error = yield* Effect.flip(
          (yield* client(url)).prices.history({ path: { symbol: "BTCUSDT" }, urlParams })
        )
        expect(error).toBeInstanceOf(InvalidRange)
        const response = yield* raw(`${url}/api/prices/BTCUSDT/history?${new URLSearchParams(urlParams)}`)
        expect(response.status).toBe(400)
        const body = json(response.text)
        expect(body).toMatchObject({ _tag: "InvalidRange", parameter: "interval", candles: 2880, maxCandles: 1000 })
        expect((body as { message: string }).message).toContain("2880 candles, more than the 1000 allowed")
      }))

    it.effect("404 UnknownSymbol for a well-formed unknown symbol", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const error = yield* Effect.flip(
          (yield* client(url)).prices.history({ path: { symbol: "XRPUSDT" }, urlParams: { interval: "5m" } })
        )
        expect(error).toBeInstanceOf(UnknownSymbol)
        const response = yield* raw(`${url}/api/prices/XRPUSDT/history`)
        expect(response.status).toBe(404)
        expect(json(response.text)).toMatchObject({ _tag: "UnknownSymbol", symbol: "XRPUSDT" })
      }))
  })

  describe("GET /api/sources", () => {
    it.effect("answers SourceHealth's snapshot", () =>
      Effect.gen(function*() {
        const { health, url } = yield* Harness.Env
        const sources = yield* (yield* client(url)).sources.list()
        expect(sources).toEqual(yield* health.snapshot)
        expect(sources.map((s) => [s.source, s.circuit, s.requests])).toEqual([
          ["binance", "closed", 1],
          ["coinbase", "closed", 1],
          ["kraken", "closed", 1]
        ])
      }))
  })

  describe("GET /api/stream", () => {
    it.effect("400 InvalidParameter for a malformed symbol in ?symbols", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const response = yield* raw(`${url}/api/stream?symbols=BTCUSDT,eth`)
        expect(response.status).toBe(400)
        expect(json(response.text)).toMatchObject({ _tag: "InvalidParameter", parameter: "symbols", value: "eth" })
      }))
  })

  describe("GET /health, /metrics, /docs, dashboard", () => {
    it.effect("/health is ok with a fresh tick, a reachable database and closed circuits", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const health = yield* (yield* client(url)).system.health()
        expect(health).toMatchObject({
          status: "ok",
          db: { ok: true, error: null },
          lastTick: liveBtc.tick,
          sources: { total: 3, closed: 3, halfOpen: 0, open: 0, down: [] },
          problems: []
        })
        expect(health.lastTickAgeMs).toBeGreaterThanOrEqual(500)
      }))

    it.effect("/metrics is Prometheus text with the aggregator's metrics", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const text = yield* (yield* client(url)).system.metrics()
        expect(text).toContain("# TYPE aggregator_live_published counter")
        expect(text).toMatch(/aggregator_source_requests_total\{[^}]*source="binance"[^}]*\} 1/)
        const response = yield* raw(`${url}/metrics`)
        expect(response.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
      }))

    it.effect("/docs serves Swagger UI and /openapi.json the spec", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const docs = yield* raw(`${url}/docs`)
        expect(docs.status).toBe(200)
        expect(docs.contentType).toContain("text/html")
        expect(docs.text).toContain("SwaggerUIBundle")
        const spec = json((yield* raw(`${url}/openapi.json`)).text) as { paths: Record<string, unknown> }
        expect(Object.keys(spec.paths).sort()).toEqual([
          "/api/prices/{symbol}",
          "/api/prices/{symbol}/history",
          "/api/sources",
          "/api/stream",
          "/api/symbols",
          "/health",
          "/metrics"
        ])
      }))

    it.effect("/ serves the dashboard and /dashboard/* its assets", () =>
      Effect.gen(function*() {
        const { url } = yield* Harness.Env
        const page = yield* raw(`${url}/`)
        expect(page.status).toBe(200)
        expect(page.contentType).toBe("text/html; charset=utf-8")
        expect(page.text).toContain(`<script type="module" src="/dashboard/app.js"></script>`)
        const js = yield* raw(`${url}/dashboard/app.js`)
        expect(js.status).toBe(200)
        expect(js.contentType).toBe("text/javascript; charset=utf-8")
        expect(js.text).toContain("new EventSource(\"/api/stream\")")
        expect((yield* raw(`${url}/dashboard/style.css`)).contentType).toBe("text/css; charset=utf-8")
        expect((yield* raw(`${url}/dashboard/missing.js`)).status).toBe(404)
      }))
  })
})

layer(Harness.layer(), { excludeTestServices: true })("GET /health states", (it) => {
  it.effect("down (503) on a stale tick, ok on a fresh one, degraded with an open circuit", () =>
    Effect.gen(function*() {
      const { health, live, url } = yield* Harness.Env
      const api = yield* client(url)
      yield* health.register("binance", "exchange")
      yield* health.register("coinbase", "exchange")

      yield* live.publish([Harness.simple("BTCUSDT", Date.now() - 60_000, 67_000)])
      const down = yield* Effect.either(api.system.health())
      expect(Either.isLeft(down)).toBe(true)
      if (Either.isLeft(down)) {
        expect(down.left).toBeInstanceOf(Unhealthy)
        expect(down.left).toMatchObject({ status: "down", db: { ok: true } })
      }
      const response = yield* raw(`${url}/health`)
      expect(response.status).toBe(503)
      const body = json(response.text) as { _tag: string; status: string; problems: Array<string>; message: string }
      expect(body._tag).toBe("Unhealthy")
      expect(body.status).toBe("down")
      expect(body.problems).toHaveLength(1)
      expect(body.problems[0]).toMatch(/^the last tick is 6\d s old \(limit 30s\)$/)
      expect(body.message).toBe(body.problems[0])

      yield* live.publish([Harness.simple("BTCUSDT", Date.now(), 67_000)])
      expect((yield* api.system.health()).status).toBe("ok")

      for (let i = 0; i < 5; i++) {
        yield* health.record("coinbase", { ok: false, latencyMs: 5, error: "HTTP 503", at: Date.now() })
      }
      const degraded = yield* api.system.health()
      expect(degraded).toMatchObject({
        status: "degraded",
        sources: { total: 2, closed: 1, open: 1, down: ["coinbase"] },
        problems: ["circuit open for 1 of 2 sources: coinbase"]
      })
    }))
})
