import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as DemoExchanges from "../src/DemoExchanges.js"
import * as Exchanges from "../src/Exchanges.js"
import { Market } from "../src/internal/demoMarket.js"

// Real HTTP on loopback with the platform's fetch: the servers are what is
// under test, so the client is the plainest one there is.

interface Response {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

const get = (url: string, timeoutMs: number = 5_000): Effect.Effect<Response, Error> =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      return { status: response.status, headers: response.headers, text: await response.text() }
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })

const getJson = (url: string) =>
  Effect.map(get(url), (response): { readonly status: number; readonly headers: Headers; readonly body: unknown } => ({
    status: response.status,
    headers: response.headers,
    body: JSON.parse(response.text)
  }))

/** A JSON object's field, for payloads typed `unknown`. */
const at = (value: unknown, ...path: ReadonlyArray<string | number>): unknown => {
  let current = value
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<string | number, unknown>)[key]
  }
  return current
}

const decimal = expect.stringMatching(/^\d+(\.\d+)?$/)
const signedDecimal = expect.stringMatching(/^-?\d+(\.\d+)?$/)
const quiet = { faults: DemoExchanges.noFaults, latencyMs: { min: 0, max: 0 } } as const

const startOne = (id: DemoExchanges.ExchangeId, options: DemoExchanges.Options = {}) =>
  Effect.gen(function*() {
    const service = yield* DemoExchanges.make({ ...quiet, ...options, exchanges: [id] })
    return yield* service.get(id)
  })

describe("DemoExchanges: documented paths and shapes", () => {
  it.scopedLive("Binance /api/v3/ticker/24hr with symbols=[…] and symbol=, plus MINI, bookTicker and price", () =>
    Effect.gen(function*() {
      const binance = yield* startOne("binance")
      const many = yield* getJson(
        `${binance.baseUrl}/api/v3/ticker/24hr?symbols=${encodeURIComponent(JSON.stringify(["BTCUSDT", "ETHUSDT"]))}`
      )
      expect(many.status).toBe(200)
      expect(Array.isArray(many.body)).toBe(true)
      expect(at(many.body, 0, "symbol")).toBe("BTCUSDT")
      expect(at(many.body, 1, "symbol")).toBe("ETHUSDT")
      const one = yield* getJson(`${binance.baseUrl}/api/v3/ticker/24hr?symbol=SOLUSDT`)
      expect(one.status).toBe(200)
      expect(Object.keys(one.body as object)).toEqual([
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
        "lastQty",
        "bidPrice",
        "bidQty",
        "askPrice",
        "askQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count"
      ])
      expect(one.body).toMatchObject({
        symbol: "SOLUSDT",
        priceChange: signedDecimal,
        priceChangePercent: signedDecimal,
        lastPrice: expect.stringMatching(/^\d+\.\d{8}$/),
        bidPrice: decimal,
        askPrice: decimal,
        volume: decimal,
        quoteVolume: decimal,
        openTime: expect.any(Number),
        closeTime: expect.any(Number),
        count: expect.any(Number)
      })
      expect(Number(at(one.body, "bidPrice"))).toBeLessThan(Number(at(one.body, "askPrice")))
      expect(Math.abs(Number(at(one.body, "closeTime")) - Date.now())).toBeLessThan(5_000)
      expect(Number(at(one.body, "lastPrice"))).toBeGreaterThan(100)
      expect(Number(at(one.body, "lastPrice"))).toBeLessThan(200)

      const mini = yield* getJson(`${binance.baseUrl}/api/v3/ticker/24hr?symbol=BTCUSDT&type=MINI`)
      expect(at(mini.body, "bidPrice")).toBeUndefined()
      expect(at(mini.body, "lastPrice")).toEqual(decimal)
      const book = yield* getJson(`${binance.baseUrl}/api/v3/ticker/bookTicker?symbol=BTCUSDT`)
      expect(Object.keys(book.body as object)).toEqual(["symbol", "bidPrice", "bidQty", "askPrice", "askQty"])
      const price = yield* getJson(`${binance.baseUrl}/api/v3/ticker/price?symbols=["ETHUSDT"]`)
      expect(price.body).toEqual([{ symbol: "ETHUSDT", price: decimal }])
      const all = yield* getJson(`${binance.baseUrl}/api/v3/ticker/24hr`)
      expect((all.body as ReadonlyArray<unknown>).map((t) => at(t, "symbol"))).toEqual(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    }))

  it.scopedLive("Coinbase /products/BTC-USDT/ticker", () =>
    Effect.gen(function*() {
      const coinbase = yield* startOne("coinbase")
      const { body, status } = yield* getJson(`${coinbase.baseUrl}/products/BTC-USDT/ticker`)
      expect(status).toBe(200)
      expect(body).toEqual({
        trade_id: expect.any(Number),
        price: decimal,
        size: decimal,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        bid: decimal,
        ask: decimal,
        volume: decimal,
        rfq_volume: decimal,
        conversions_volume: decimal
      })
      expect(Math.abs(Date.parse(String(at(body, "time"))) - Date.now())).toBeLessThan(5_000)
    }))

  it.scopedLive("Kraken /0/public/Ticker?pair=XBTUSDT,ETHUSDT keyed by pair name, legacy XXBTZUSD keys", () =>
    Effect.gen(function*() {
      const kraken = yield* startOne("kraken", { symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSD", "ETHEUR"] })
      const { body, status } = yield* getJson(`${kraken.baseUrl}/0/public/Ticker?pair=XBTUSDT,ETHUSDT`)
      expect(status).toBe(200)
      expect(at(body, "error")).toEqual([])
      expect(Object.keys(at(body, "result") as object)).toEqual(["XBTUSDT", "ETHUSDT"])
      expect(at(body, "result", "XBTUSDT")).toEqual({
        a: [decimal, expect.stringMatching(/^\d+$/), decimal],
        b: [decimal, expect.stringMatching(/^\d+$/), decimal],
        c: [decimal, decimal],
        v: [decimal, decimal],
        p: [decimal, decimal],
        t: [expect.any(Number), expect.any(Number)],
        l: [decimal, decimal],
        h: [decimal, decimal],
        o: decimal
      })
      // Legacy pairs answer under their X/Z name, whichever spelling was asked.
      const legacy = yield* getJson(`${kraken.baseUrl}/0/public/Ticker?pair=XBTUSD,XETHZEUR`)
      expect(Object.keys(at(legacy.body, "result") as object)).toEqual(["XXBTZUSD", "XETHZEUR"])
      const all = yield* getJson(`${kraken.baseUrl}/0/public/Ticker`)
      expect(Object.keys(at(all.body, "result") as object)).toEqual(["XBTUSDT", "ETHUSDT", "SOLUSDT", "XXBTZUSD", "XETHZEUR"])
    }))

  it.scopedLive("OKX /api/v5/market/tickers?instType=SPOT and /api/v5/market/ticker?instId=", () =>
    Effect.gen(function*() {
      const okx = yield* startOne("okx")
      const all = yield* getJson(`${okx.baseUrl}/api/v5/market/tickers?instType=SPOT`)
      expect(all.status).toBe(200)
      expect(at(all.body, "code")).toBe("0")
      expect(at(all.body, "msg")).toBe("")
      expect((at(all.body, "data") as ReadonlyArray<unknown>).map((t) => at(t, "instId"))).toEqual([
        "BTC-USDT",
        "ETH-USDT",
        "SOL-USDT"
      ])
      const one = yield* getJson(`${okx.baseUrl}/api/v5/market/ticker?instId=ETH-USDT`)
      expect(at(one.body, "data", 0)).toEqual({
        instType: "SPOT",
        instId: "ETH-USDT",
        last: decimal,
        lastSz: decimal,
        askPx: decimal,
        askSz: decimal,
        bidPx: decimal,
        bidSz: decimal,
        open24h: decimal,
        high24h: decimal,
        low24h: decimal,
        volCcy24h: decimal,
        vol24h: decimal,
        ts: expect.stringMatching(/^\d{13}$/),
        sodUtc0: decimal,
        sodUtc8: decimal
      })
      const swap = yield* getJson(`${okx.baseUrl}/api/v5/market/tickers?instType=SWAP`)
      expect(swap.body).toEqual({ code: "0", msg: "", data: [] })
      const missing = yield* getJson(`${okx.baseUrl}/api/v5/market/tickers`)
      expect(missing.status).toBe(400)
      expect(at(missing.body, "code")).toBe("50014")
    }))

  it.scopedLive("Bybit /v5/market/tickers?category=spot[&symbol=] in the retCode envelope", () =>
    Effect.gen(function*() {
      const bybit = yield* startOne("bybit")
      const all = yield* getJson(`${bybit.baseUrl}/v5/market/tickers?category=spot`)
      expect(all.status).toBe(200)
      expect(all.body).toMatchObject({ retCode: 0, retMsg: "OK", result: { category: "spot" }, retExtInfo: {} })
      expect(Math.abs(Number(at(all.body, "time")) - Date.now())).toBeLessThan(5_000)
      expect((at(all.body, "result", "list") as ReadonlyArray<unknown>).length).toBe(3)
      const one = yield* getJson(`${bybit.baseUrl}/v5/market/tickers?category=spot&symbol=BTCUSDT`)
      expect(at(one.body, "result", "list")).toEqual([{
        symbol: "BTCUSDT",
        bid1Price: decimal,
        bid1Size: decimal,
        ask1Price: decimal,
        ask1Size: decimal,
        lastPrice: decimal,
        prevPrice24h: decimal,
        price24hPcnt: signedDecimal,
        highPrice24h: decimal,
        lowPrice24h: decimal,
        turnover24h: decimal,
        volume24h: decimal,
        usdIndexPrice: decimal
      }])
      const category = yield* getJson(`${bybit.baseUrl}/v5/market/tickers`)
      expect(at(category.body, "retCode")).toBe(10001)
    }))

  it.scopedLive("Bitstamp /api/v2/ticker/{pair}/ (with and without the slash) and /api/v2/ticker/", () =>
    Effect.gen(function*() {
      const bitstamp = yield* startOne("bitstamp")
      const one = yield* getJson(`${bitstamp.baseUrl}/api/v2/ticker/btcusdt/`)
      expect(one.status).toBe(200)
      expect(one.body).toEqual({
        timestamp: expect.stringMatching(/^\d{10}$/),
        open: decimal,
        high: decimal,
        low: decimal,
        last: decimal,
        volume: decimal,
        vwap: decimal,
        bid: decimal,
        ask: decimal,
        side: expect.stringMatching(/^[01]$/),
        open_24: decimal,
        percent_change_24: signedDecimal,
        market_type: "SPOT"
      })
      expect(Math.abs(Number(at(one.body, "timestamp")) * 1000 - Date.now())).toBeLessThan(5_000)
      const noSlash = yield* getJson(`${bitstamp.baseUrl}/api/v2/ticker/ethusdt`)
      expect(noSlash.status).toBe(200)
      const all = yield* getJson(`${bitstamp.baseUrl}/api/v2/ticker/`)
      expect((all.body as ReadonlyArray<unknown>).map((t) => at(t, "pair"))).toEqual(["BTC/USDT", "ETH/USDT", "SOL/USDT"])
    }))
})

describe("DemoExchanges: unknown symbols get each exchange's real error", () => {
  it.scopedLive("every exchange answers an unknown or unlisted symbol its own way", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, unlisted: { okx: ["SOLUSDT"] } })
      const url = (id: DemoExchanges.ExchangeId, path: string) =>
        Effect.map(service.get(id), (exchange) => exchange.baseUrl + path)

      const binance = yield* Effect.flatMap(url("binance", "/api/v3/ticker/24hr?symbol=FOOUSDT"), get)
      expect([binance.status, JSON.parse(binance.text)]).toEqual([400, { code: -1121, msg: "Invalid symbol." }])
      const binanceBatch = yield* Effect.flatMap(url("binance", `/api/v3/ticker/24hr?symbols=["BTCUSDT","FOOUSDT"]`), get)
      expect([binanceBatch.status, JSON.parse(binanceBatch.text)]).toEqual([400, { code: -1121, msg: "Invalid symbol." }])

      const coinbase = yield* Effect.flatMap(url("coinbase", "/products/FOO-USDT/ticker"), get)
      expect([coinbase.status, JSON.parse(coinbase.text)]).toEqual([404, { message: "NotFound" }])

      const kraken = yield* Effect.flatMap(url("kraken", "/0/public/Ticker?pair=XBTUSDT,FOOUSDT"), get)
      expect([kraken.status, JSON.parse(kraken.text)]).toEqual([200, { error: ["EQuery:Unknown asset pair"] }])

      const okx = yield* Effect.flatMap(url("okx", "/api/v5/market/ticker?instId=SOL-USDT"), get)
      expect([okx.status, JSON.parse(okx.text)]).toEqual([200, { code: "51001", msg: "Instrument ID does not exist", data: [] }])
      const okxAll = yield* Effect.flatMap(url("okx", "/api/v5/market/tickers?instType=SPOT"), getJson)
      expect((at(okxAll.body, "data") as ReadonlyArray<unknown>).map((t) => at(t, "instId"))).toEqual(["BTC-USDT", "ETH-USDT"])

      const bybit = yield* Effect.flatMap(url("bybit", "/v5/market/tickers?category=spot&symbol=FOOUSDT"), get)
      expect(bybit.status).toBe(200)
      expect(JSON.parse(bybit.text)).toEqual({
        retCode: 10001,
        retMsg: "Not supported symbols",
        result: {},
        retExtInfo: {},
        time: expect.any(Number)
      })

      const bitstamp = yield* Effect.flatMap(url("bitstamp", "/api/v2/ticker/foousdt/"), get)
      expect(bitstamp.status).toBe(404)
      expect(bitstamp.headers.get("content-type")).toContain("text/html")
      expect(bitstamp.text).toContain("<h1>Not Found</h1>")
    }))
})

describe("DemoExchanges: forced faults", () => {
  it.scopedLive("503 in the exchange's envelope, for the next N requests only", () =>
    Effect.gen(function*() {
      const okx = yield* startOne("okx")
      const path = `${okx.baseUrl}/api/v5/market/ticker?instId=BTC-USDT`
      yield* okx.force("503", { times: 2 })
      const first = yield* get(path)
      const second = yield* get(path)
      const third = yield* get(path)
      expect([first.status, second.status, third.status]).toEqual([503, 503, 200])
      expect(JSON.parse(first.text)).toEqual({ code: "50001", msg: "Service temporarily unavailable", data: [] })
      const log = yield* okx.requests
      expect(log.map((r) => [r.status, r.fault, r.forced])).toEqual([
        [503, "server_error", true],
        [503, "server_error", true],
        [200, null, false]
      ])
    }))

  it.scopedLive("429 carries Retry-After in seconds", () =>
    Effect.gen(function*() {
      const binance = yield* startOne("binance")
      yield* binance.force({ status: 429, retryAfter: 3 })
      const response = yield* get(`${binance.baseUrl}/api/v3/ticker/24hr?symbol=BTCUSDT`)
      expect(response.status).toBe(429)
      expect(response.headers.get("retry-after")).toBe("3")
      expect(JSON.parse(response.text)).toMatchObject({ code: -1003 })
      yield* binance.clearFault
      expect((yield* get(`${binance.baseUrl}/api/v3/ticker/24hr?symbol=BTCUSDT`)).status).toBe(200)
    }))

  it.scopedLive("a stall never answers; the client's timeout ends it and the log says so", () =>
    Effect.gen(function*() {
      const kraken = yield* startOne("kraken")
      yield* kraken.force("stall")
      const started = Date.now()
      const result = yield* Effect.either(get(`${kraken.baseUrl}/0/public/Ticker?pair=XBTUSDT`, 300))
      expect(Either.isLeft(result)).toBe(true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      yield* Effect.sleep("50 millis")
      const [record] = yield* kraken.requests
      expect(record).toMatchObject({ fault: "stall", forced: true, status: undefined, outcome: "aborted" })
    }))

  it.scopedLive("closing the scope closes stalled sockets", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bybit = yield* Scope.extend(startOne("bybit"), scope)
      yield* bybit.force("stall")
      const pending = yield* Effect.fork(Effect.either(get(`${bybit.baseUrl}/v5/market/tickers?category=spot`, 20_000)))
      yield* bybit.awaitRequests(1)
      const closedAt = Date.now()
      yield* Scope.close(scope, Exit.void)
      const result = yield* Fiber.join(pending)
      expect(Either.isLeft(result)).toBe(true)
      // Ended by the server closing the socket, not by the client's 20 s timeout.
      expect(Date.now() - closedAt).toBeLessThan(2_000)
    }))

  it.scopedLive("a reset cuts the connection", () =>
    Effect.gen(function*() {
      const coinbase = yield* startOne("coinbase")
      yield* coinbase.force("reset", { times: 1 })
      const failed = yield* Effect.either(get(`${coinbase.baseUrl}/products/BTC-USDT/ticker`))
      expect(Either.isLeft(failed)).toBe(true)
      expect((yield* get(`${coinbase.baseUrl}/products/BTC-USDT/ticker`)).status).toBe(200)
    }))

  it.scopedLive("stale: the price stops moving and timestamps are old where the shape has one", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, stepMs: 5, volatility: 0.01, exchanges: ["binance", "bybit", "kraken"] })
      const binance = yield* service.get("binance")
      const bybit = yield* service.get("bybit")
      const kraken = yield* service.get("kraken")
      for (const exchange of [binance, bybit, kraken]) yield* exchange.force({ _tag: "Stale", ageMs: 60_000 })
      const binanceUrl = `${binance.baseUrl}/api/v3/ticker/24hr?symbol=BTCUSDT`
      const krakenUrl = `${kraken.baseUrl}/0/public/Ticker?pair=XBTUSDT`
      const first = yield* getJson(binanceUrl)
      const firstKraken = yield* getJson(krakenUrl)
      yield* Effect.sleep("30 millis")
      const second = yield* getJson(binanceUrl)
      expect(at(second.body, "lastPrice")).toBe(at(first.body, "lastPrice"))
      expect(at(yield* getJson(krakenUrl), "body", "result", "XBTUSDT", "c", 0)).toBe(
        at(firstKraken.body, "result", "XBTUSDT", "c", 0)
      )
      expect(Date.now() - Number(at(second.body, "closeTime"))).toBeGreaterThanOrEqual(59_000)
      const bybitBody = (yield* getJson(`${bybit.baseUrl}/v5/market/tickers?category=spot&symbol=BTCUSDT`)).body
      expect(Date.now() - Number(at(bybitBody, "time"))).toBeGreaterThanOrEqual(59_000)
      expect((yield* binance.requests).every((r) => r.fault === "stale")).toBe(true)

      // Once cleared the quote is live again, and it has moved meanwhile (5 ms steps, 1 % each).
      yield* binance.clearFault
      const live = yield* getJson(binanceUrl)
      expect(Date.now() - Number(at(live.body, "closeTime"))).toBeLessThan(5_000)
      expect(at(live.body, "lastPrice")).not.toBe(at(first.body, "lastPrice"))
    }))

  it.scopedLive("outlier: one exchange quotes far from the others", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make(quiet)
      const bitstamp = yield* service.get("bitstamp")
      yield* bitstamp.force({ _tag: "Outlier", factor: 0.9 })
      const truth = yield* service.truth("BTCUSDT")
      const body = (yield* getJson(`${bitstamp.baseUrl}/api/v2/ticker/btcusdt/`)).body
      expect(Number(at(body, "last")) / (truth ?? Number.NaN)).toBeCloseTo(0.9, 2)
      expect((yield* bitstamp.requests)[0]).toMatchObject({ fault: "outlier", forced: true, status: 200 })
    }))

  it.scopedLive("slow: a normal answer after the given latency, visible in the log's server timestamps", () =>
    Effect.gen(function*() {
      const binance = yield* startOne("binance")
      yield* binance.force({ _tag: "Slow", latencyMs: 150 })
      const response = yield* get(`${binance.baseUrl}/api/v3/ticker/price?symbol=BTCUSDT`)
      expect(response.status).toBe(200)
      const [record] = yield* binance.requests
      expect(record).toMatchObject({ fault: "slow", latencyMs: 150, outcome: "completed", status: 200 })
      expect((record?.completedAt ?? 0) - (record?.arrivedAt ?? 0)).toBeGreaterThanOrEqual(140)
    }))

  it.scopedLive("an exchange's own rate limit answers 429 with Retry-After to a client that goes too fast", () =>
    Effect.gen(function*() {
      const coinbase = yield* startOne("coinbase", { rateLimits: { coinbase: { perSecond: 0.5, burst: 2 } } })
      const url = `${coinbase.baseUrl}/products/ETH-USDT/ticker`
      const statuses = [(yield* get(url)).status, (yield* get(url)).status]
      const limited = yield* get(url)
      expect([...statuses, limited.status]).toEqual([200, 200, 429])
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(JSON.parse(limited.text)).toEqual({ message: "Public rate limit exceeded" })
      expect((yield* coinbase.requests).map((r) => r.fault)).toEqual([null, null, "throttled"])
      yield* coinbase.setRateLimit(null)
      expect((yield* get(url)).status).toBe(200)
    }))

  it.scopedLive("an invalid forced fault is a defect that says what is wrong", () =>
    Effect.gen(function*() {
      const binance = yield* startOne("binance")
      const exit = yield* Effect.exit(binance.force(200))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain("option \"force\"")
    }))
})

describe("DemoExchanges: random faults, determinism and the request log", () => {
  const sequence = (seed: number) =>
    Effect.scoped(
      Effect.gen(function*() {
        const bybit = yield* startOne("bybit", {
          seed,
          stepMs: 3_600_000,
          faults: { error5xx: 0.2, rateLimited: 0.15, timeout: 0, stale: 0, outlier: 0.1 }
        })
        const out: Array<string> = []
        for (let i = 0; i < 40; i++) {
          const response = yield* get(`${bybit.baseUrl}/v5/market/tickers?category=spot&symbol=BTCUSDT`)
          const price = response.status === 200 ? String(at(JSON.parse(response.text), "result", "list", 0, "lastPrice")) : ""
          out.push(`${response.status}:${price}`)
        }
        const faults = (yield* bybit.requests).map((r) => r.fault)
        return { out, faults }
      })
    )

  it.live("the same seed gives the same faults and prices; another seed does not", () =>
    Effect.gen(function*() {
      const a = yield* sequence(42)
      const b = yield* sequence(42)
      const c = yield* sequence(43)
      expect(b).toEqual(a)
      expect(c.out).not.toEqual(a.out)
      // The rates are honoured: some of each fault, most requests fine.
      const count = (kind: string | null) => a.faults.filter((f) => f === kind).length
      expect(count("server_error")).toBeGreaterThan(0)
      expect(count("rate_limited")).toBeGreaterThan(0)
      expect(count("outlier")).toBeGreaterThan(0)
      expect(count(null)).toBeGreaterThan(15)
      expect(a.out.filter((s) => s.startsWith("429")).length).toBe(count("rate_limited"))
    }))

  it.scopedLive("random stale episodes freeze every answer for a while", () =>
    Effect.gen(function*() {
      const binance = yield* startOne("binance", {
        faults: { ...DemoExchanges.noFaults, stale: 1 },
        staleAgeMs: 45_000,
        staleEpisodeMs: 60_000
      })
      for (let i = 0; i < 3; i++) {
        const body = (yield* getJson(`${binance.baseUrl}/api/v3/ticker/24hr?symbol=ETHUSDT`)).body
        expect(Date.now() - Number(at(body, "closeTime"))).toBeGreaterThanOrEqual(44_000)
      }
      expect((yield* binance.requests).map((r) => r.fault)).toEqual(["stale", "stale", "stale"])
    }))

  it.scopedLive("the log has server-side arrival and completion times, status, fault and latency", () =>
    Effect.gen(function*() {
      const okx = yield* startOne("okx", { latencyMs: { min: 40, max: 40 } })
      const before = performance.timeOrigin + performance.now()
      yield* get(`${okx.baseUrl}/api/v5/market/ticker?instId=BTC-USDT`)
      yield* get(`${okx.baseUrl}/api/v5/market/ticker?instId=NOPE-USDT`)
      const log = yield* okx.requests
      expect(log.map((r) => [r.id, r.method, r.path, r.status, r.fault, r.outcome])).toEqual([
        [1, "GET", "/api/v5/market/ticker?instId=BTC-USDT", 200, null, "completed"],
        [2, "GET", "/api/v5/market/ticker?instId=NOPE-USDT", 200, null, "completed"]
      ])
      const [first, second] = log
      expect(first?.arrivedAt).toBeGreaterThanOrEqual(before)
      expect(second?.arrivedAt).toBeGreaterThan(first?.arrivedAt ?? Infinity)
      for (const record of log) {
        expect(record.latencyMs).toBe(40)
        expect((record.completedAt ?? 0) - record.arrivedAt).toBeGreaterThanOrEqual(38)
      }
      yield* okx.reset
      expect(yield* okx.requests).toEqual([])
    }))

  it.scoped("prices follow the Clock the exchanges were started with (TestClock here)", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, exchanges: ["okx"], stepMs: 1_000, volatility: 0.001 })
      const okx = yield* service.get("okx")
      const url = `${okx.baseUrl}/api/v5/market/ticker?instId=BTC-USDT`
      const atStart = (yield* getJson(url)).body
      expect(at(atStart, "data", 0, "ts")).toBe("0")
      yield* TestClock.adjust("1 hour")
      const later = (yield* getJson(url)).body
      expect(at(later, "data", 0, "ts")).toBe("3600000")
      expect(at(later, "data", 0, "last")).not.toBe(at(atStart, "data", 0, "last"))
      const truth = yield* service.truth("BTCUSDT")
      expect(Number(at(later, "data", 0, "last")) / (truth ?? Number.NaN)).toBeCloseTo(1, 2)
    }))

  it.scopedLive("exchanges disagree a little: real dispersion around the shared price", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make(quiet)
      const truth = (yield* service.truth("BTCUSDT")) ?? Number.NaN
      const prices: Array<number> = []
      for (const exchange of service.exchanges) {
        const adapter = Exchanges.byId(exchange.id)
        if (adapter === undefined) continue
        const [plan] = adapter.requests(["BTCUSDT"])
        const body = (yield* getJson(exchange.baseUrl + (plan?.path ?? ""))).body
        const decoded = adapter.decode(body, plan?.symbols ?? [], Date.now())
        if (Either.isRight(decoded) && decoded.right[0]?._tag === "Quote") prices.push(decoded.right[0].quote.price)
      }
      expect(prices.length).toBe(6)
      expect(new Set(prices).size).toBeGreaterThan(3)
      for (const price of prices) expect(Math.abs(price / truth - 1)).toBeLessThan(0.002)
    }))
})

describe("DemoExchanges: the adapters of Exchanges.ts decode every demo exchange", () => {
  const symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
  const many = [
    ...symbols,
    "BNBUSDT",
    "XRPUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "AVAXUSDT",
    "DOTUSDT",
    "LINKUSDT",
    "LTCUSDT",
    "BCHUSDT",
    "TRXUSDT",
    "TONUSDT",
    "ATOMUSDT",
    "UNIUSDT",
    "XLMUSDT",
    "ETCUSDT",
    "FILUSDT",
    "NEARUSDT",
    "APTUSDT",
    "ARBUSDT",
    "OPUSDT",
    "SUIUSDT",
    "BTCUSD",
    "ETHUSD",
    "BTCEUR",
    "ETHBTC"
  ]

  const decodeAll = (service: DemoExchanges.Service, wanted: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const quotes = new Map<string, Map<string, Exchanges.DecodedQuote>>()
      for (const exchange of service.exchanges) {
        const adapter = Exchanges.byId(exchange.id)
        expect(adapter, `an adapter for ${exchange.id}`).toBeDefined()
        if (adapter === undefined) continue
        const byExchange = new Map<string, Exchanges.DecodedQuote>()
        quotes.set(exchange.id, byExchange)
        for (const plan of adapter.requests(wanted)) {
          const response = yield* get(exchange.baseUrl + plan.path)
          expect(response.status, `${exchange.id} ${plan.path}`).toBe(200)
          const decoded = adapter.decode(JSON.parse(response.text), plan.symbols, Date.now())
          if (Either.isLeft(decoded)) throw new Error(`${exchange.id} ${plan.path}: ${decoded.left.message}`)
          for (const result of decoded.right) {
            expect(result._tag, `${exchange.id}: ${JSON.stringify(result)}`).toBe("Quote")
            if (result._tag === "Quote") byExchange.set(result.quote.symbol, result.quote)
          }
        }
      }
      return quotes
    })

  it.scopedLive("BTCUSDT, ETHUSDT and SOLUSDT decode to quotes near the shared price on all six", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make(quiet)
      const quotes = yield* decodeAll(service, symbols)
      expect([...quotes.keys()]).toEqual(DemoExchanges.exchangeIds)
      for (const [id, byExchange] of quotes) {
        expect([...byExchange.keys()].sort(), id).toEqual([...symbols].sort())
        for (const [symbol, quote] of byExchange) {
          const truth = (yield* service.truth(symbol)) ?? Number.NaN
          expect(Math.abs(quote.price / truth - 1), `${id} ${symbol}`).toBeLessThan(0.002)
          expect(Math.abs(quote.quotedAt - Date.now()), `${id} ${symbol} quotedAt`).toBeLessThan(5_000)
          if (quote.bid !== null && quote.ask !== null) expect(quote.bid).toBeLessThan(quote.ask)
          expect(quote.volume === null || quote.volume > 0).toBe(true)
        }
      }
    }))

  it.scopedLive("30 symbols (multi-symbol and all-tickers endpoints) decode on all six", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, symbols: many })
      const quotes = yield* decodeAll(service, many)
      for (const [id, byExchange] of quotes) expect(byExchange.size, id).toBe(many.length)
    }))

  it.scopedLive("an unlisted symbol reads as unsupported through every adapter", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, symbols: [...symbols, "FOOUSDT"], unlisted: {
        binance: ["FOOUSDT"],
        coinbase: ["FOOUSDT"],
        kraken: ["FOOUSDT"],
        okx: ["FOOUSDT"],
        bybit: ["FOOUSDT"],
        bitstamp: ["FOOUSDT"]
      } })
      for (const exchange of service.exchanges) {
        const adapter = Exchanges.byId(exchange.id)
        if (adapter === undefined) continue
        for (const plan of adapter.requests(["FOOUSDT"])) {
          const response = yield* get(exchange.baseUrl + plan.path)
          let kind: string
          if (response.status >= 400) {
            kind = adapter.statusFailure(response.status, response.text)?.kind ?? `status ${response.status}`
          } else {
            const decoded = adapter.decode(JSON.parse(response.text), plan.symbols, Date.now())
            kind = Either.isLeft(decoded)
              ? decoded.left.kind
              : decoded.right.every((r) => r._tag === "Missing")
              ? "unsupported"
              : "quoted"
          }
          expect(kind, `${exchange.id} ${plan.path}`).toBe("unsupported")
        }
      }
    }))

  it.scopedLive("forced 429s and 5xx read as rate_limited and error through the adapters", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make(quiet)
      for (const exchange of service.exchanges) {
        const adapter = Exchanges.byId(exchange.id)
        if (adapter === undefined) continue
        const [plan] = adapter.requests(["BTCUSDT"])
        yield* exchange.force({ status: 429, retryAfter: 2 }, { times: 1 })
        const limited = yield* get(exchange.baseUrl + (plan?.path ?? ""))
        expect(limited.status).toBe(429)
        expect(limited.headers.get("retry-after")).toBe("2")
        const kind = adapter.statusFailure(429, limited.text)?.kind ?? "rate_limited"
        expect(kind, exchange.id).toBe("rate_limited")
        yield* exchange.force(503, { times: 1 })
        const failed = yield* get(exchange.baseUrl + (plan?.path ?? ""))
        expect(failed.status).toBe(503)
        expect(adapter.statusFailure(503, failed.text)?.kind ?? "error", exchange.id).toBe("error")
      }
    }))
})

describe("DemoExchanges: options and the price model", () => {
  it.scopedLive("unusable options are a defect naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [DemoExchanges.Options, string]> = [
        [{ symbols: ["btcusdt"] }, "symbols"],
        [{ symbols: ["BTCXYZ"] }, "symbols"],
        [{ exchanges: ["binance", "binance"] }, "exchanges"],
        [{ faults: { error5xx: 2 } }, "faults.error5xx"],
        [{ latencyMs: { min: 10, max: 5 } }, "latencyMs"],
        [{ rateLimits: { okx: { perSecond: 0, burst: 1 } } }, "rateLimits.okx"]
      ]
      for (const [options, option] of cases) {
        const exit = yield* Effect.exit(Effect.scoped(DemoExchanges.start(options)))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause), option).toBe(true)
        expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(`option "${option}"`)
      }
    }))

  it.scopedLive("every exchange listens on its own loopback port; get fails for one not started", () =>
    Effect.gen(function*() {
      const service = yield* DemoExchanges.make({ ...quiet, exchanges: ["kraken", "okx"] })
      expect(service.exchanges.map((e) => e.id)).toEqual(["kraken", "okx"])
      for (const exchange of service.exchanges) expect(exchange.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(new Set(service.exchanges.map((e) => e.port)).size).toBe(2)
      const missing = yield* Effect.exit(service.get("binance"))
      expect(Exit.isFailure(missing)).toBe(true)
    }))

  it("the walk is a pure function of seed and step, moves a little per step and stays bounded", () => {
    const make = (seed: number) => new Market({ seed, stepMs: 1_000, volatility: 0.0002, startedAt: 0 })
    const a = make(5)
    const b = make(5)
    // Asked in different orders, the same steps give the same prices.
    const forward = [0, 1, 2, 5_000, 10_000].map((s) => a.mid("BTCUSDT", s * 1_000))
    const backward = [10_000, 5_000, 2, 1, 0].map((s) => b.mid("BTCUSDT", s * 1_000)).reverse()
    expect(backward).toEqual(forward)
    expect(forward[0]).toBe(67_000)
    expect(make(6).mid("BTCUSDT", 10_000_000)).not.toBe(forward[4])
    let previous = a.mid("ETHUSDT", 0) ?? Number.NaN
    let maxMove = 0
    for (let step = 1; step <= 20_000; step++) {
      const price = a.mid("ETHUSDT", step * 1_000) ?? Number.NaN
      maxMove = Math.max(maxMove, Math.abs(price / previous - 1))
      previous = price
    }
    expect(maxMove).toBeLessThan(0.002)
    expect(maxMove).toBeGreaterThan(0)
    expect(previous / 3_500).toBeGreaterThan(0.8)
    expect(previous / 3_500).toBeLessThan(1.25)
    expect(a.mid("SOLUSDT", 0)).toBe(150)
    expect(a.mid("FOOXYZ", 0)).toBeUndefined()
  })
})
