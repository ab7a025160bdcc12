/**
 * Sources against real things: exchange and JSON sources against a real
 * HTTP server on loopback (testkit `TestServer`) serving the documented
 * payload shapes and faults, file sources against real files in a temp
 * directory. Waits that the assertions are about (Retry-After, rate tokens,
 * re-read schedules) run on the TestClock.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Faults, type Route, TestServer } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import * as Exchanges from "../src/Exchanges.js"
import type { Observation, Quote, SourceFailure } from "../src/Model.js"
import * as Source from "../src/Source.js"

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}-ticker.json`, import.meta.url), "utf8"))

/** The documentation examples, as templates for the server's answers. */
const templates = {
  binance: (fixture("binance") as ReadonlyArray<Json>)[0] ?? {},
  coinbase: fixture("coinbase") as Json,
  kraken: (fixture("kraken") as { readonly result: Readonly<Record<string, Json>> }).result["XXBTZUSD"] ?? {},
  okx: (fixture("okx") as { readonly data: ReadonlyArray<Json> }).data[0] ?? {},
  bybit: fixture("bybit") as Json & { readonly result: { readonly list: ReadonlyArray<Json> } },
  bitstamp: fixture("bitstamp") as Json
}

const prices: Readonly<Record<string, number>> = { BTCUSDT: 67000.5, ETHUSDT: 3500.25, SOLUSDT: 150.125 }
const demo = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

/** A rate that never makes a test wait. */
const fast = { perSecond: 1000, burst: 1000 }

const quotes = (observations: ReadonlyArray<Observation>): Array<Quote> =>
  observations.flatMap((o) => (o._tag === "Quote" ? [o.quote] : []))

const asQuote = (o: Observation | undefined): Quote => {
  if (o?._tag !== "Quote") throw new Error(`expected a quote, got ${JSON.stringify(o)}`)
  return o.quote
}

const asFailure = (o: Observation | undefined): SourceFailure => {
  if (o?._tag !== "Failure") throw new Error(`expected a failure, got ${JSON.stringify(o)}`)
  return o.failure
}

const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Waits (in real time) until a fiber sleeps on the TestClock until `at` ms. */
const untilSleepingUntil = (at: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3000; i++) {
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps()).map((d) => Duration.toMillis(d))
      if (sleeps.includes(at)) return
      yield* realPause(1)
    }
    return yield* Effect.dieMessage(`expected a fiber sleeping until ${at} ms on the TestClock`)
  })

// ---------------------------------------------------------------------------
// A loopback server speaking the six documented shapes
// ---------------------------------------------------------------------------

const known = (symbol: string): number | undefined => prices[symbol]

const binanceRoute = Faults.get("/api/v3/ticker/24hr", (req) => {
  const symbols: Array<string> = JSON.parse(req.query.get("symbols") ?? "[]")
  if (symbols.some((s) => known(s) === undefined)) return Faults.json({ code: -1121, msg: "Invalid symbol." }, 400)
  return Faults.json(symbols.map((symbol) => ({ ...templates.binance, symbol, lastPrice: String(prices[symbol]) })))
})

const coinbaseRoute = Faults.get("/products/*", (req) => {
  const product = req.pathname.split("/")[2] ?? ""
  const price = known(product.replace("-", ""))
  return price === undefined
    ? Faults.json({ message: "NotFound" }, 404)
    : Faults.json({ ...templates.coinbase, price: String(price) })
})

const krakenRoute = Faults.get("/0/public/Ticker", (req) => {
  const pairs = (req.query.get("pair") ?? "").split(",")
  const result: Record<string, unknown> = {}
  for (const pair of pairs) {
    const price = known(Exchanges.krakenCanonical(pair) ?? "")
    if (price === undefined) return Faults.json({ error: ["EQuery:Unknown asset pair"] })
    result[pair] = { ...templates.kraken, c: [String(price), "0.1"] }
  }
  return Faults.json({ error: [], result })
})

const okxTicker = (symbol: string) => ({
  ...templates.okx,
  instType: "SPOT",
  instId: Exchanges.okx.venueSymbol(symbol),
  last: String(prices[symbol])
})

const okxRoutes = [
  Faults.get("/api/v5/market/ticker", (req) => {
    const symbol = Exchanges.okx.canonicalSymbol(req.query.get("instId") ?? "") ?? ""
    return known(symbol) === undefined
      ? Faults.json({ code: "51001", msg: "Instrument ID doesn't exist.", data: [] })
      : Faults.json({ code: "0", msg: "", data: [okxTicker(symbol)] })
  }),
  Faults.get("/api/v5/market/tickers", () => Faults.json({ code: "0", msg: "", data: demo.map(okxTicker) }))
]

const bybitRoute = Faults.get("/v5/market/tickers", (req) => {
  const asked = req.query.get("symbol")
  const symbols = asked === null ? demo : [asked]
  if (symbols.some((s) => known(s) === undefined)) {
    return Faults.json({ retCode: 10001, retMsg: "Not supported symbols", result: {}, retExtInfo: {}, time: 1 })
  }
  const body = templates.bybit
  const template = body.result.list[0]
  return Faults.json({
    ...body,
    result: { category: "spot", list: symbols.map((symbol) => ({ ...template, symbol, lastPrice: String(prices[symbol]) })) }
  })
})

const bitstampRoute = Faults.get("/api/v2/ticker/*", (req) => {
  const market = (req.pathname.split("/")[4] ?? "").toUpperCase()
  const price = known(market)
  return price === undefined ? Faults.status(404, "Not Found") : Faults.json({ ...templates.bitstamp, last: String(price) })
})

const exchangeRoutes: ReadonlyArray<Route.Route> = [
  binanceRoute,
  coinbaseRoute,
  krakenRoute,
  ...okxRoutes,
  bybitRoute,
  bitstampRoute
]

// ---------------------------------------------------------------------------
// Source.exchange
// ---------------------------------------------------------------------------

describe("Source.exchange against a real server", () => {
  it.scopedLive("every adapter quotes the demo symbols from its documented payload shape", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: exchangeRoutes })
      for (const adapter of Exchanges.all) {
        const source = yield* Source.exchange(adapter, { baseUrl: server.url, rate: fast })
        expect(source.id).toBe(adapter.id)
        expect(source.kind).toBe("exchange")
        const observations = yield* source.fetch(demo)
        expect(observations.map((o) => asQuote(o).symbol), adapter.id).toEqual(demo)
        for (const q of quotes(observations)) {
          expect(q.price, `${adapter.id} ${q.symbol}`).toBe(prices[q.symbol])
          expect(q.source).toBe(adapter.id)
          expect(q.latencyMs).toBeGreaterThanOrEqual(0)
          expect(q.receivedAt).toBeGreaterThan(1.6e12)
        }
      }
      // multi-symbol endpoints: one request for Binance and Kraken, one per symbol for Coinbase
      expect((yield* server.requestsTo("/api/v3/ticker/24hr")).length).toBe(1)
      expect((yield* server.requestsTo("/0/public/Ticker")).length).toBe(1)
      expect((yield* server.requestsTo("/products/*")).length).toBe(3)
    }))

  it.scopedLive("the documented Binance weight: a batch of 1-20 symbols takes 2 tokens", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [binanceRoute] })
      const request = (yield* Effect.flatMap(
        Source.exchange(Exchanges.binance, { baseUrl: server.url, rate: fast }),
        (source) => Effect.zipRight(source.fetch(demo), server.requests)
      ))[0]
      expect(request?.path).toBe(Exchanges.binance.requests(demo)[0]?.path)
      expect(request?.headers["user-agent"]).toBe("fiberkit-aggregator/0.1")
    }))

  it.scoped("request weights are taken from the source's rate limit (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [binanceRoute] })
      // 1 weight unit per second, burst 2: one batch (weight 2) at once, the next 2 s later
      const source = yield* Source.exchange(Exchanges.binance, { baseUrl: server.url, rate: { perSecond: 1, burst: 2 } })
      expect(quotes(yield* source.fetch(demo))).toHaveLength(3)
      const second = yield* Effect.fork(source.fetch(demo))
      yield* untilSleepingUntil(1000)
      yield* TestClock.adjust(1000)
      yield* untilSleepingUntil(2000)
      expect((yield* server.requests).length).toBe(1)
      yield* TestClock.adjust(1000)
      expect(quotes(yield* Fiber.join(second))).toHaveLength(3)
      expect((yield* server.requests).length).toBe(2)
    }))

  it.scopedLive("an unknown symbol is unsupported without sinking its batch, and is remembered", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: exchangeRoutes })
      for (const adapter of Exchanges.all) {
        const source = yield* Source.exchange(adapter, { baseUrl: server.url, rate: fast })
        const observations = yield* source.fetch(["BTCUSDT", "DOGEUSDT", "ETHUSDT"])
        expect(asQuote(observations[0]).price, adapter.id).toBe(prices["BTCUSDT"])
        expect(asFailure(observations[1]).kind, adapter.id).toBe("unsupported")
        expect(asQuote(observations[2]).price, adapter.id).toBe(prices["ETHUSDT"])
      }
      const binance = yield* Source.exchange(Exchanges.binance, { baseUrl: server.url, rate: fast, id: "binance-2" })
      yield* server.reset
      const first = yield* binance.fetch(["BTCUSDT", "DOGEUSDT"])
      expect(asFailure(first[1]).message).toContain("-1121")
      // the batch failed, then each symbol was asked alone
      expect((yield* server.requests).map((r) => decodeURIComponent(r.path))).toEqual([
        "/api/v3/ticker/24hr?symbols=[\"BTCUSDT\",\"DOGEUSDT\"]",
        expect.stringMatching(/symbols=\["(BTC|DOGE)USDT"\]$/),
        expect.stringMatching(/symbols=\["(BTC|DOGE)USDT"\]$/)
      ])
      yield* server.reset
      const again = yield* binance.fetch(["BTCUSDT", "DOGEUSDT"])
      expect(asFailure(again[1])).toMatchObject({ kind: "unsupported", source: "binance-2" })
      expect(asFailure(again[1]).message).toContain("remembered")
      expect((yield* server.requests).map((r) => decodeURIComponent(r.path))).toEqual([
        "/api/v3/ticker/24hr?symbols=[\"BTCUSDT\"]"
      ])
    }))

  it.scopedLive("a symbol the venue cannot spell is unsupported without a request; duplicates answer once", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: exchangeRoutes })
      const source = yield* Source.exchange(Exchanges.coinbase, { baseUrl: server.url, rate: fast })
      const observations = yield* source.fetch(["ABCXYZ", "BTCUSDT", "BTCUSDT"])
      expect(observations).toHaveLength(2)
      expect(asFailure(observations[0])).toMatchObject({ symbol: "ABCXYZ", kind: "unsupported", latencyMs: 0 })
      expect(asQuote(observations[1]).symbol).toBe("BTCUSDT")
      expect((yield* server.requests).length).toBe(1)
    }))

  it.scoped("a 429 with Retry-After is retried after the wait, then succeeds (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get(
            "/products/BTC-USDT/ticker",
            Faults.sequence(Faults.tooManyRequests({ seconds: 3 }), Faults.json(templates.coinbase))
          )
        ]
      })
      const source = yield* Source.exchange(Exchanges.coinbase, { baseUrl: server.url, rate: fast })
      const fiber = yield* Effect.fork(source.fetch(["BTCUSDT"]))
      yield* server.awaitRequests(1)
      yield* untilSleepingUntil(3000)
      yield* TestClock.adjust(2999)
      expect((yield* server.requests).length).toBe(1)
      yield* TestClock.adjust(1)
      const [observation] = yield* Fiber.join(fiber)
      expect(asQuote(observation)).toMatchObject({ price: 6268.48, latencyMs: 3000 })
      expect((yield* server.requests).map((r) => r.status)).toEqual([429, 200])
    }))

  it.scopedLive("429 on every attempt is rate_limited; a Retry-After beyond maxRetryAfter is not waited for and pauses the host", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/products/BTC-USDT/ticker", Faults.tooManyRequests({ seconds: 0 })),
          Faults.get("/products/ETH-USDT/ticker", Faults.tooManyRequests({ seconds: 60 }))
        ]
      })
      const source = yield* Source.exchange(Exchanges.coinbase, { baseUrl: server.url, rate: fast, retries: 1 })
      const [btc] = yield* source.fetch(["BTCUSDT"])
      expect(asFailure(btc)).toMatchObject({ kind: "rate_limited" })
      expect(asFailure(btc).message).toContain("429")
      expect((yield* server.requestsTo("/products/BTC-USDT/ticker")).length).toBe(2)
      const [eth] = yield* source.fetch(["ETHUSDT"])
      expect(asFailure(eth).kind).toBe("rate_limited")
      expect((yield* server.requestsTo("/products/ETH-USDT/ticker")).length).toBe(1)
      // The whole host is paused for the minute it asked for: the next fetch fails at once, without a request.
      const [again] = yield* source.fetch(["BTCUSDT"])
      expect(asFailure(again)).toMatchObject({ kind: "rate_limited", latencyMs: 0 })
      expect(asFailure(again).message).toContain("Retry-After")
      expect((yield* server.requestsTo("/products/BTC-USDT/ticker")).length).toBe(2)
    }))

  it.scopedLive("a persistent 503 is an error after every attempt", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/api/v2/ticker/*", Faults.unavailable())] })
      const source = yield* Source.exchange(Exchanges.bitstamp, { baseUrl: server.url, rate: fast, retries: 2 })
      const [observation] = yield* source.fetch(["BTCUSDT"])
      expect(asFailure(observation)).toMatchObject({ source: "bitstamp", symbol: "BTCUSDT", kind: "error" })
      expect(asFailure(observation).message).toContain("HTTP 503")
      expect((yield* server.requests).length).toBe(3)
    }))

  it.scopedLive("a server that never answers is a timeout, per attempt", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/v5/market/tickers", Faults.stallBeforeHeaders)] })
      const source = yield* Source.exchange(Exchanges.bybit, {
        baseUrl: server.url,
        rate: fast,
        timeout: "150 millis",
        retries: 1
      })
      const observations = yield* source.fetch(["BTCUSDT", "ETHUSDT"])
      for (const o of observations) expect(asFailure(o).kind).toBe("timeout")
      expect(asFailure(observations[0]).latencyMs).toBeGreaterThanOrEqual(290)
      yield* server.awaitSettled(4)
      expect((yield* server.requests).length).toBe(4)
    }))

  it.scopedLive("a body that is not JSON, or a price of zero, is an error that says where", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/products/BTC-USDT/ticker", Faults.malformedJson()),
          Faults.get("/products/ETH-USDT/ticker", Faults.json({ ...templates.coinbase, price: "0" })),
          Faults.get("/products/SOL-USDT/ticker", Faults.json({ unexpected: true }))
        ]
      })
      const source = yield* Source.exchange(Exchanges.coinbase, { baseUrl: server.url, rate: fast })
      const [btc, eth, sol] = yield* source.fetch(demo)
      expect(asFailure(btc).kind).toBe("error")
      expect(asFailure(btc).message).toContain("Json")
      expect(asFailure(eth)).toMatchObject({ kind: "error" })
      expect(asFailure(eth).message).toMatch(/at price: a price must be greater than zero/)
      expect(asFailure(sol).message).toMatch(/at price/)
    }))

  it.scopedLive("Kraken and OKX error payloads become failures with the venue's message", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/0/public/Ticker", Faults.json({ error: ["EService:Unavailable"] })),
          Faults.get("/api/v5/market/ticker", Faults.json({ code: "50011", msg: "Too Many Requests", data: [] }))
        ]
      })
      const kraken = yield* Source.exchange(Exchanges.kraken, { baseUrl: server.url, rate: fast })
      const okx = yield* Source.exchange(Exchanges.okx, { baseUrl: server.url, rate: fast })
      const krakenObs = yield* kraken.fetch(demo)
      expect(krakenObs.map((o) => asFailure(o).kind)).toEqual(["error", "error", "error"])
      expect(asFailure(krakenObs[0]).message).toBe("kraken: EService:Unavailable")
      const [okxObs] = yield* okx.fetch(["BTCUSDT"])
      expect(asFailure(okxObs)).toMatchObject({ kind: "rate_limited", message: "okx: code 50011: Too Many Requests" })
    }))

  it.scoped("bad settings are a SourceError naming the field", () =>
    Effect.gen(function*() {
      const bad = (options: Source.HttpSourceOptions) =>
        Effect.flip(Source.exchange(Exchanges.binance, options)).pipe(Effect.map((e) => e.field))
      expect(yield* bad({ id: "Bad Id" })).toBe("id")
      expect(yield* bad({ rate: { perSecond: 0, burst: 1 } })).toBe("rate")
      expect(yield* bad({ retries: -1 })).toBe("retries")
      expect(yield* bad({ baseUrl: "not a url" })).toBe("baseUrl")
      expect(yield* bad({ timeout: "soon" as Duration.DurationInput })).toBe("timeout")
    }))

  it.scopedLive("fromExchangeConfig builds the adapter's source from decoded configuration", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: exchangeRoutes })
      const config = Schema.decodeUnknownSync(Source.ExchangeSourceConfig)({
        exchange: "okx",
        id: "okx-demo",
        baseUrl: server.url,
        timeout: "1 second",
        rate: { perSecond: 100, burst: 10 }
      })
      expect(config.timeout).toBe(1000)
      const source = yield* Source.fromExchangeConfig(config)
      expect(source.id).toBe("okx-demo")
      expect(quotes(yield* source.fetch(demo)).map((q) => q.price)).toEqual(demo.map((s) => prices[s]))
    }))
})

// ---------------------------------------------------------------------------
// Source.json
// ---------------------------------------------------------------------------

describe("Source.json against a real server", () => {
  const perSymbol = Faults.get("/v1/ticker/*", (req) => {
    const [base, quote] = (req.pathname.split("/")[3] ?? "").split("-")
    const price = known(`${base}${quote}`)
    return price === undefined
      ? Faults.status(404, "no such pair")
      : Faults.json({ data: [{ last: String(price), vol: 12.5, ts: 1_700_000_000 }] })
  })

  it.scopedLive("one request per symbol URL; price, volume and timestamp read at their paths", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [perSymbol] })
      const source = yield* Source.json({
        id: "feed",
        urlTemplate: `${server.url}/v1/ticker/{base}-{quote}`,
        pricePath: "$.data[0].last",
        volumePath: "data.0.vol",
        timestampPath: "data.0.ts",
        rate: fast
      })
      expect(source.kind).toBe("json")
      const observations = yield* source.fetch(demo)
      expect(quotes(observations).map((q) => [q.symbol, q.price, q.volume, q.quotedAt])).toEqual(
        demo.map((s) => [s, prices[s], 12.5, 1_700_000_000_000])
      )
      expect((yield* server.requests).map((r) => r.path).sort()).toEqual([
        "/v1/ticker/BTC-USDT",
        "/v1/ticker/ETH-USDT",
        "/v1/ticker/SOL-USDT"
      ])
    }))

  it.scopedLive("symbols sharing a URL share one request; a symbol not in the body is unsupported", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/prices", Faults.json({
            prices: {
              BTCUSDT: { last: 67000.5, at: "2024-01-02T03:04:05.678Z" },
              ETHUSDT: { last: "3500.25", at: 1_700_000_000_123 }
            }
          }))
        ]
      })
      const source = yield* Source.json({
        id: "all-in-one",
        urlTemplate: `${server.url}/prices`,
        pricePath: "prices.{symbol}.last",
        timestampPath: "prices[\"{symbol}\"].at",
        rate: fast
      })
      const [btc, eth, sol] = yield* source.fetch(demo)
      expect(asQuote(btc)).toMatchObject({ price: 67000.5, quotedAt: Date.parse("2024-01-02T03:04:05.678Z"), volume: null })
      expect(asQuote(eth)).toMatchObject({ price: 3500.25, quotedAt: 1_700_000_000_123 })
      expect(asFailure(sol).kind).toBe("unsupported")
      expect(asFailure(sol).message).toContain("prices.SOLUSDT")
      expect((yield* server.requests).length).toBe(1)
    }))

  it.scopedLive("{venue} comes from the symbol map, and :lower/:upper change case", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/q/*", Faults.json({ price: 1.5 }))] })
      const source = yield* Source.json({
        id: "cased",
        urlTemplate: `${server.url}/q/{venue}/{base:lower}/{quote:upper}`,
        pricePath: "price",
        symbols: { BTCUSDT: "XBT/USDT" },
        rate: fast
      })
      yield* source.fetch(["BTCUSDT", "ETHUSDT"])
      expect((yield* server.requests).map((r) => r.path).sort()).toEqual(["/q/ETHUSDT/eth/USDT", "/q/XBT%2FUSDT/btc/USDT"])
    }))

  it.scopedLive("failures: 404 unsupported, 503 error, a bad value error with its path", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          perSymbol,
          Faults.get("/down/*", Faults.unavailable()),
          Faults.get("/bad/*", Faults.json({ data: { last: "-3", ts: "yesterday" } }))
        ]
      })
      const make = (path: string, extra: Partial<Source.JsonSourceConfig> = {}) =>
        Source.json({
          id: "f",
          urlTemplate: `${server.url}${path}/{base}-{quote}`,
          pricePath: "data.last",
          rate: fast,
          retries: 0,
          ...extra
        })
      const [missing] = yield* (yield* make("/v1/ticker", { pricePath: "data.0.last" })).fetch(["DOGEUSDT"])
      expect(asFailure(missing).kind).toBe("unsupported")
      const [down] = yield* (yield* make("/down")).fetch(["BTCUSDT"])
      expect(asFailure(down)).toMatchObject({ kind: "error" })
      expect(asFailure(down).message).toContain("HTTP 503")
      const [bad] = yield* (yield* make("/bad")).fetch(["BTCUSDT"])
      expect(asFailure(bad).message).toBe("f: BTCUSDT: at data.last: a price must be greater than zero")
      const [fixedPathMissing] = yield* (yield* make("/bad", { pricePath: "data.price" })).fetch(["BTCUSDT"])
      expect(asFailure(fixedPathMissing).kind).toBe("error")
      expect(asFailure(fixedPathMissing).message).toMatch(/no value at data\.price \(the response has data\)/)
      const [badTime] = yield* (yield* make("/bad", { pricePath: "data.ts", timestampPath: "data.ts" })).fetch([
        "BTCUSDT"
      ])
      expect(asFailure(badTime).kind).toBe("error")
    }))

  it("JsonSourceConfig decodes configuration and reports a bad field by path", () => {
    const config = Schema.decodeUnknownSync(Source.JsonSourceConfig)({
      id: "my-feed",
      urlTemplate: "https://example.com/t/{symbol}",
      pricePath: "$.data[0].last",
      timeout: "500 millis",
      retries: 1,
      symbols: { BTCUSDT: "btc_usdt" }
    })
    expect(config).toMatchObject({ id: "my-feed", timeout: 500, retries: 1 })
    const fail = (input: unknown) =>
      Either.match(Schema.decodeUnknownEither(Source.JsonSourceConfig)(input), {
        onLeft: (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`),
        onRight: () => []
      })
    const base = { id: "f", urlTemplate: "https://x/{symbol}", pricePath: "p" }
    expect(fail({ ...base, pricePath: "data..last" })[0]).toMatch(/^pricePath: empty segment/)
    expect(fail({ ...base, urlTemplate: "https://x/{sym}" })[0]).toMatch(/^urlTemplate: unknown placeholder \{sym\}/)
    expect(fail({ ...base, urlTemplate: "ftp://x" })[0]).toMatch(/^urlTemplate: .*http/)
    expect(fail({ ...base, id: "My Feed" })[0]).toMatch(/^id: a source id is/)
    expect(fail({ ...base, timeout: "soon" })[0]).toMatch(/^timeout: .*not a duration/)
    expect(fail({ ...base, rate: { perSecond: 0, burst: 1 } })[0]).toMatch(/^rate\.perSecond/)
    expect(fail({ ...base, symbols: { btc: "x" } })[0]).toMatch(/canonical symbols/)
  })
})

// ---------------------------------------------------------------------------
// Source.file
// ---------------------------------------------------------------------------

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "aggregator-source-" }))

const write = (path: string, text: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(path, text))

const setMtime = (path: string, at: number) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.utimes(path, new Date(at), new Date(at)))

describe("Source.file against real files", () => {
  it.scopedLive("JSONL: the last row of a symbol wins; time or the file's mtime is the quote time", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/prices.jsonl`
      yield* write(
        path,
        [
          "{\"symbol\":\"BTCUSDT\",\"price\":60000,\"time\":1700000000}",
          "",
          "{\"symbol\":\"ETHUSDT\",\"price\":\"3500.25\",\"volume\":12}",
          "{\"symbol\":\"BTCUSDT\",\"price\":\"67000.5\",\"volume\":null,\"time\":\"2024-01-02T03:04:05Z\"}"
        ].join("\n") + "\n"
      )
      const mtime = Date.parse("2024-05-06T07:08:09Z")
      yield* setMtime(path, mtime)
      const source = yield* Source.file({ id: "file", path })
      expect(source.kind).toBe("file")
      const [btc, eth, sol] = yield* source.fetch(demo)
      expect(asQuote(btc)).toMatchObject({
        price: 67000.5,
        volume: null,
        quotedAt: Date.parse("2024-01-02T03:04:05Z"),
        bid: null,
        ask: null
      })
      expect(asQuote(eth)).toMatchObject({ price: 3500.25, volume: 12, quotedAt: mtime })
      expect(asFailure(sol)).toMatchObject({ kind: "unsupported" })
      expect(asFailure(sol).message).toContain("has no row for SOLUSDT")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("CSV: columns in any order, quoted cells, empty optional cells", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/prices.csv`
      yield* write(
        path,
        "time,Price,symbol,volume,note\r\n" +
          "1700000000000,67000.5,BTCUSDT,1.5,\"a, note\"\r\n" +
          ",\"3500.25\",ETHUSDT,,\"say \"\"hi\"\"\"\r\n"
      )
      const source = yield* Source.file({ id: "csv", path, symbols: { SOLUSDT: "SOL/USDT" } })
      const [btc, eth, sol] = yield* source.fetch(demo)
      expect(asQuote(btc)).toMatchObject({ price: 67000.5, volume: 1.5, quotedAt: 1_700_000_000_000 })
      expect(asQuote(eth)).toMatchObject({ price: 3500.25, volume: null })
      expect(asFailure(sol).message).toContain("no row for SOL/USDT")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a rewritten file is picked up at the next fetch", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/live.jsonl`
      yield* write(path, "{\"symbol\":\"BTCUSDT\",\"price\":100}\n")
      const source = yield* Source.file({ id: "live", path })
      expect(asQuote((yield* source.fetch(["BTCUSDT"]))[0]).price).toBe(100)
      yield* write(path, "{\"symbol\":\"BTCUSDT\",\"price\":101}\n")
      expect(asQuote((yield* source.fetch(["BTCUSDT"]))[0]).price).toBe(101)
      yield* write(path, "{\"symbol\":\"BTCUSDT\",\"price\":101}\n{\"symbol\":\"BTCUSDT\",\"price\":102.75}\n")
      expect(asQuote((yield* source.fetch(["BTCUSDT"]))[0]).price).toBe(102.75)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("re-read when mtime or size changes, and on the rereadEvery schedule; not otherwise (TestClock)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/snap.jsonl`
      const t0 = Date.parse("2025-01-01T00:00:00Z")
      yield* TestClock.setTime(t0 + 3_600_000)
      const row = (price: string) => `{"symbol":"BTCUSDT","price":${price}}\n`
      yield* write(path, row("100.5"))
      yield* setMtime(path, t0)
      const source = yield* Source.file({ id: "snap", path, rereadEvery: 30_000 })
      const price = Effect.map(source.fetch(["BTCUSDT"]), (os) => asQuote(os[0]).price)
      expect(yield* price).toBe(100.5)
      // same size, same mtime: the file looks unchanged and is not re-read
      yield* write(path, row("200.5"))
      yield* setMtime(path, t0)
      expect(yield* price).toBe(100.5)
      // a new mtime is a change
      yield* setMtime(path, t0 + 1000)
      expect(yield* price).toBe(200.5)
      // a new size is a change
      yield* write(path, row("300.25"))
      yield* setMtime(path, t0 + 1000)
      expect(yield* price).toBe(300.25)
      // unchanged-looking again, until the schedule says re-read anyway
      yield* write(path, row("400.25"))
      yield* setMtime(path, t0 + 1000)
      expect(yield* price).toBe(300.25)
      yield* TestClock.adjust(29_999)
      expect(yield* price).toBe(300.25)
      yield* TestClock.adjust(1)
      expect(yield* price).toBe(400.25)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a file modified within 2 s of its last read is read again: its timestamp cannot tell two writes apart", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/racy.jsonl`
      const t0 = Date.parse("2025-01-01T00:00:00Z")
      yield* TestClock.setTime(t0 + 500)
      const row = (price: string) => `{"symbol":"BTCUSDT","price":${price}}\n`
      yield* write(path, row("100.5"))
      yield* setMtime(path, t0)
      const source = yield* Source.file({ id: "racy", path })
      const price = Effect.map(source.fetch(["BTCUSDT"]), (os) => asQuote(os[0]).price)
      expect(yield* price).toBe(100.5)
      // a second write in the same timestamp tick, same size: only the guard sees it
      yield* write(path, row("200.5"))
      yield* setMtime(path, t0)
      expect(yield* price).toBe(200.5)
      // once the clock is well past the file's timestamp, an unchanged signature means unchanged
      yield* TestClock.adjust(5_000)
      expect(yield* price).toBe(200.5)
      yield* write(path, row("300.5"))
      yield* setMtime(path, t0)
      expect(yield* price).toBe(200.5)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a bad row fails its symbol with file and line; an unattributable line fails every symbol", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/bad.jsonl`
      yield* write(
        path,
        "{\"symbol\":\"BTCUSDT\",\"price\":67000}\n{\"symbol\":\"ETHUSDT\",\"price\":0}\n{\"symbol\":\"SOLUSDT\",\"price\":150,\"time\":\"later\"}\n"
      )
      const source = yield* Source.file({ id: "bad", path })
      const [btc, eth, sol] = yield* source.fetch(demo)
      expect(asQuote(btc).price).toBe(67000)
      expect(asFailure(eth)).toMatchObject({ kind: "error" })
      expect(asFailure(eth).message).toBe(`bad: ${path}:2: at price: a price must be greater than zero`)
      expect(asFailure(sol).message).toBe(`bad: ${path}:3: time "later" is not a timestamp`)

      yield* write(path, "{\"symbol\":\"BTCUSDT\",\"price\":67000}\nnot json\n[1]\n")
      const broken = yield* source.fetch(["BTCUSDT"])
      expect(asFailure(broken[0]).kind).toBe("error")
      expect(asFailure(broken[0]).message).toMatch(new RegExp(`${path}:2: not valid JSON .*\\(and 1 more bad lines\\)$`))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a last line still being written is ignored until complete", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const jsonl = `${dir}/torn.jsonl`
      yield* write(jsonl, "{\"symbol\":\"BTCUSDT\",\"price\":67000}\n{\"symbol\":\"BTCUSDT\",\"pri")
      const source = yield* Source.file({ id: "torn", path: jsonl })
      expect(asQuote((yield* source.fetch(["BTCUSDT"]))[0]).price).toBe(67000)
      const csv = `${dir}/torn.csv`
      yield* write(csv, "symbol,price\nBTCUSDT,67000\nBTCUSDT,\"670")
      const csvSource = yield* Source.file({ id: "torn-csv", path: csv })
      expect(asQuote((yield* csvSource.fetch(["BTCUSDT"]))[0]).price).toBe(67000)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a missing file is an error for every symbol, until it appears; a CSV without the columns too", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = `${dir}/later.csv`
      const source = yield* Source.file({ id: "later", path })
      const missing = yield* source.fetch(["BTCUSDT", "ETHUSDT"])
      for (const o of missing) {
        expect(asFailure(o)).toMatchObject({ kind: "error", message: `later: cannot read ${path}: no such file` })
      }
      yield* write(path, "ticker,last\nBTCUSDT,1\n")
      expect(asFailure((yield* source.fetch(["BTCUSDT"]))[0]).message).toContain(
        `${path}:1: the header must name the columns symbol and price`
      )
      yield* write(path, "symbol,price\nBTCUSDT,1\n")
      expect(asQuote((yield* source.fetch(["BTCUSDT"]))[0]).price).toBe(1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it("FileSourceConfig decodes configuration", () => {
    expect(Schema.decodeUnknownSync(Source.FileSourceConfig)({
      id: "f",
      path: "prices.csv",
      rereadEvery: "1 minute"
    })).toEqual({ id: "f", path: "prices.csv", rereadEvery: 60_000 })
    expect(Either.isLeft(Schema.decodeUnknownEither(Source.FileSourceConfig)({ id: "f", path: "p", format: "xml" })))
      .toBe(true)
  })
})
