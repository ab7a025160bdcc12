/**
 * The exchange adapters without IO: the documentation examples (fixtures)
 * decode to the expected quotes, symbols map both ways, requests are planned
 * as documented, and error payloads become failures with the venue's words.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import * as Exchanges from "../src/Exchanges.js"

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}-ticker.json`, import.meta.url), "utf8"))

const receivedAt = 1_700_000_000_000

const decodeOne = (adapter: Exchanges.Adapter, body: unknown, symbol: string): Exchanges.SymbolResult => {
  const decoded = adapter.decode(body, [symbol], receivedAt)
  if (Either.isLeft(decoded)) throw new Error(`expected a decoded response, got ${decoded.left.message}`)
  const [result] = decoded.right
  if (result === undefined) throw new Error("no result")
  return result
}

const quoteOf = (adapter: Exchanges.Adapter, body: unknown, symbol: string): Exchanges.DecodedQuote => {
  const result = decodeOne(adapter, body, symbol)
  if (result._tag !== "Quote") throw new Error(`expected a quote, got ${JSON.stringify(result)}`)
  return result.quote
}

const failureOf = (adapter: Exchanges.Adapter, body: unknown, symbols: ReadonlyArray<string>): Exchanges.DecodeFailure => {
  const decoded = adapter.decode(body, symbols, receivedAt)
  if (Either.isRight(decoded)) throw new Error(`expected a failure, got ${JSON.stringify(decoded.right)}`)
  return decoded.left
}

describe("documentation fixtures", () => {
  it("each fixture matches its documented payload schema", () => {
    expect(() => Schema.decodeUnknownSync(Exchanges.BinanceTickerResponse)(fixture("binance"))).not.toThrow()
    expect(() => Schema.decodeUnknownSync(Exchanges.CoinbaseTicker)(fixture("coinbase"))).not.toThrow()
    expect(() => Schema.decodeUnknownSync(Exchanges.KrakenTickerResponse)(fixture("kraken"))).not.toThrow()
    expect(() => Schema.decodeUnknownSync(Exchanges.OkxTickerResponse)(fixture("okx"))).not.toThrow()
    expect(() => Schema.decodeUnknownSync(Exchanges.BybitTickersResponse)(fixture("bybit"))).not.toThrow()
    expect(() => Schema.decodeUnknownSync(Exchanges.BitstampTicker)(fixture("bitstamp"))).not.toThrow()
  })

  it("Binance (array form, BNBBTC)", () => {
    expect(quoteOf(Exchanges.binance, fixture("binance"), "BNBBTC")).toEqual({
      symbol: "BNBBTC",
      price: 4.000002,
      bid: 4,
      ask: 4.000002,
      volume: 8913.3,
      quotedAt: 1499869899040
    })
  })

  it("Binance (single-object form)", () => {
    const [single] = fixture("binance") as ReadonlyArray<unknown>
    expect(quoteOf(Exchanges.binance, single, "BNBBTC").price).toBe(4.000002)
  })

  it("Coinbase (one product, ISO time)", () => {
    expect(quoteOf(Exchanges.coinbase, fixture("coinbase"), "BTCUSD")).toEqual({
      symbol: "BTCUSD",
      price: 6268.48,
      bid: 6265.15,
      ask: 6267.71,
      volume: 53602.03940154,
      quotedAt: Date.parse("2020-03-20T00:22:57.833Z")
    })
  })

  it("Kraken (legacy key XXBTZUSD answers BTCUSD; no timestamp, so receivedAt)", () => {
    expect(quoteOf(Exchanges.kraken, fixture("kraken"), "BTCUSD")).toEqual({
      symbol: "BTCUSD",
      price: 30303.2,
      bid: 30300,
      ask: 30300.1,
      volume: 4412.73601799,
      quotedAt: receivedAt
    })
  })

  it("OKX (the documented swap example, through okxSwap; volume from volCcy24h)", () => {
    expect(quoteOf(Exchanges.okxSwap, fixture("okx"), "BTCUSD")).toEqual({
      symbol: "BTCUSD",
      price: 56956.1,
      bid: 56959,
      ask: 56959.1,
      volume: 81137.755,
      quotedAt: 1620289117764
    })
  })

  it("OKX spot reads the same shape, with vol24h as the base volume", () => {
    const body = fixture("okx") as { data: Array<Record<string, string>> }
    const spot = { ...body, data: body.data.map((t) => ({ ...t, instType: "SPOT", instId: "BTC-USDT" })) }
    expect(quoteOf(Exchanges.okx, spot, "BTCUSDT")).toMatchObject({ price: 56956.1, volume: 46258703 })
    // the spot adapter does not take a swap for a spot instrument
    expect(decodeOne(Exchanges.okx, fixture("okx"), "BTCUSD")).toEqual({ _tag: "Missing", symbol: "BTCUSD" })
  })

  it("Bybit (response time as the quote time)", () => {
    expect(quoteOf(Exchanges.bybit, fixture("bybit"), "BTCUSDT")).toEqual({
      symbol: "BTCUSDT",
      price: 20533.13,
      bid: 20517.96,
      ask: 20527.77,
      volume: 11801.27771,
      quotedAt: 1673859087947
    })
  })

  it("Bitstamp (epoch seconds)", () => {
    expect(quoteOf(Exchanges.bitstamp, fixture("bitstamp"), "BTCUSD")).toEqual({
      symbol: "BTCUSD",
      price: 2211,
      bid: 2188.97,
      ask: 2211,
      volume: 213.268011,
      quotedAt: 1643640186000
    })
  })
})

describe("symbol mapping", () => {
  const cases: ReadonlyArray<readonly [Exchanges.Adapter, string, string]> = [
    [Exchanges.binance, "BTCUSDT", "BTCUSDT"],
    [Exchanges.coinbase, "BTCUSDT", "BTC-USDT"],
    [Exchanges.coinbase, "ETHUSD", "ETH-USD"],
    [Exchanges.kraken, "BTCUSDT", "XBTUSDT"],
    [Exchanges.kraken, "ETHUSDT", "ETHUSDT"],
    [Exchanges.kraken, "DOGEUSD", "XDGUSD"],
    [Exchanges.kraken, "ETHBTC", "ETHXBT"],
    [Exchanges.okx, "SOLUSDT", "SOL-USDT"],
    [Exchanges.okxSwap, "BTCUSD", "BTC-USD-SWAP"],
    [Exchanges.bybit, "ETHUSDT", "ETHUSDT"],
    [Exchanges.bitstamp, "BTCUSDT", "btcusdt"]
  ]

  it("canonical → venue → canonical", () => {
    for (const [adapter, canonical, venue] of cases) {
      expect(adapter.venueSymbol(canonical), `${adapter.id} ${canonical}`).toBe(venue)
      expect(adapter.canonicalSymbol(venue), `${adapter.id} ${venue}`).toBe(canonical)
    }
  })

  it("Kraken's legacy result keys map back to canonical symbols", () => {
    expect(Exchanges.krakenCanonical("XXBTZUSD")).toBe("BTCUSD")
    expect(Exchanges.krakenCanonical("XETHZUSD")).toBe("ETHUSD")
    expect(Exchanges.krakenCanonical("XETHXXBT")).toBe("ETHBTC")
    expect(Exchanges.krakenCanonical("XXDGZUSD")).toBe("DOGEUSD")
    expect(Exchanges.krakenCanonical("XBTUSDT")).toBe("BTCUSDT")
    expect(Exchanges.krakenCanonical("SOLUSD")).toBe("SOLUSD")
    expect(Exchanges.krakenCanonical("???")).toBeUndefined()
  })

  it("a symbol with no known quote asset cannot be spelled where the venue separates base and quote", () => {
    expect(Exchanges.coinbase.venueSymbol("ABCXYZ")).toBeUndefined()
    expect(Exchanges.okx.venueSymbol("ABCXYZ")).toBeUndefined()
    expect(Exchanges.kraken.venueSymbol("ABCXYZ")).toBeUndefined()
    expect(Exchanges.binance.venueSymbol("btc-usdt")).toBeUndefined()
    expect(Exchanges.okx.canonicalSymbol("BTC-USDT-SWAP")).toBeUndefined()
  })

  it("every adapter round-trips the demo symbols", () => {
    for (const adapter of [...Exchanges.all, Exchanges.okxSwap]) {
      for (const symbol of ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSD", "ETHBTC"]) {
        const venue = adapter.venueSymbol(symbol)
        expect(venue, `${adapter.id} ${symbol}`).toBeDefined()
        expect(adapter.canonicalSymbol(venue ?? ""), `${adapter.id} ${venue}`).toBe(symbol)
      }
    }
  })
})

describe("request planning", () => {
  const three = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
  const many = (n: number) => Array.from({ length: n }, (_, i) => `C${i}USDT`)

  it("Binance batches up to 20 symbols per request at weight 2", () => {
    expect(Exchanges.binance.requests(three)).toEqual([{
      path: `/api/v3/ticker/24hr?symbols=${encodeURIComponent("[\"BTCUSDT\",\"ETHUSDT\",\"SOLUSDT\"]")}`,
      symbols: three,
      weight: 2
    }])
    const plans = Exchanges.binance.requests(many(50))
    expect(plans.map((p) => [p.symbols.length, p.weight])).toEqual([[20, 2], [20, 2], [10, 2]])
    expect([1, 20, 21, 100, 101].map(Exchanges.binanceTicker24hrWeight)).toEqual([2, 2, 40, 40, 80])
  })

  it("Coinbase and Bitstamp ask one product per request", () => {
    expect(Exchanges.coinbase.requests(three).map((p) => p.path)).toEqual([
      "/products/BTC-USDT/ticker",
      "/products/ETH-USDT/ticker",
      "/products/SOL-USDT/ticker"
    ])
    expect(Exchanges.bitstamp.requests(["BTCUSDT"])).toEqual([
      { path: "/api/v2/ticker/btcusdt/", symbols: ["BTCUSDT"], weight: 1 }
    ])
  })

  it("Kraken asks up to 50 pairs in one request", () => {
    expect(Exchanges.kraken.requests(three)).toEqual([
      { path: "/0/public/Ticker?pair=XBTUSDT,ETHUSDT,SOLUSDT", symbols: three, weight: 1 }
    ])
    expect(Exchanges.kraken.requests(many(120)).map((p) => p.symbols.length)).toEqual([50, 50, 20])
  })

  it("OKX and Bybit go per instrument for a few symbols, all-tickers for more", () => {
    expect(Exchanges.okx.requests(three).map((p) => p.path)).toEqual([
      "/api/v5/market/ticker?instId=BTC-USDT",
      "/api/v5/market/ticker?instId=ETH-USDT",
      "/api/v5/market/ticker?instId=SOL-USDT"
    ])
    const okxMany = many(Exchanges.okxPerInstrumentMax + 1)
    expect(Exchanges.okx.requests(okxMany)).toEqual([
      { path: "/api/v5/market/tickers?instType=SPOT", symbols: okxMany, weight: 1 }
    ])
    expect(Exchanges.okxSwap.requests(okxMany)[0]?.path).toBe("/api/v5/market/tickers?instType=SWAP")
    expect(Exchanges.bybit.requests(["BTCUSDT"])[0]?.path).toBe("/v5/market/tickers?category=spot&symbol=BTCUSDT")
    const bybitMany = many(Exchanges.bybitPerSymbolMax + 1)
    expect(Exchanges.bybit.requests(bybitMany)).toEqual([
      { path: "/v5/market/tickers?category=spot", symbols: bybitMany, weight: 1 }
    ])
  })

  it("leaves out symbols the venue cannot spell, and duplicates", () => {
    expect(Exchanges.coinbase.requests(["BTCUSDT", "ABCXYZ", "BTCUSDT"]).map((p) => p.symbols)).toEqual([["BTCUSDT"]])
    expect(Exchanges.kraken.requests(["ABCXYZ"])).toEqual([])
  })
})

describe("decoding a multi-symbol response", () => {
  it("one result per requested symbol, in order; a symbol not in the payload is Missing", () => {
    const body = fixture("bybit") as { result: { list: Array<Record<string, string>> } }
    const [btc] = body.result.list
    const payload = { ...body, result: { ...body.result, list: [{ ...btc, symbol: "ETHUSDT", lastPrice: "3500.5" }, btc] } }
    const decoded = Exchanges.bybit.decode(payload, ["BTCUSDT", "SOLUSDT", "ETHUSDT"], receivedAt)
    expect(Either.getOrThrow(decoded).map((r) => r._tag === "Quote" ? r.quote.price : r._tag)).toEqual([
      20533.13,
      "Missing",
      3500.5
    ])
  })

  it("Kraken result keys are matched whatever spelling they come back in", () => {
    const { result } = fixture("kraken") as { result: Record<string, unknown> }
    const ticker = result["XXBTZUSD"]
    const body = { error: [], result: { XBTUSDT: ticker, XETHZUSD: ticker } }
    const decoded = Either.getOrThrow(Exchanges.kraken.decode(body, ["BTCUSDT", "ETHUSD"], receivedAt))
    expect(decoded.map((r) => r._tag)).toEqual(["Quote", "Quote"])
  })
})

describe("invalid values", () => {
  const binanceWith = (fields: Record<string, unknown>) => {
    const [ticker] = fixture("binance") as Array<Record<string, unknown>>
    return [{ ...ticker, ...fields }]
  }

  it("a price of zero, a non-number or a missing price fails the symbol with the path", () => {
    for (const lastPrice of ["0.00000000", "-1", "abc", "Infinity", null]) {
      const result = decodeOne(Exchanges.binance, binanceWith({ lastPrice }), "BNBBTC")
      expect(result._tag, String(lastPrice)).toBe("Invalid")
      expect(result._tag === "Invalid" ? result.message : "").toMatch(/\[0\]\.lastPrice/)
    }
    const zero = decodeOne(Exchanges.binance, binanceWith({ lastPrice: "0" }), "BNBBTC")
    expect(zero._tag === "Invalid" ? zero.message : "").toContain("greater than zero")
  })

  it("an empty or zero bid/ask is no bid/ask, not a failure", () => {
    expect(quoteOf(Exchanges.binance, binanceWith({ bidPrice: "0.00000000", askPrice: null }), "BNBBTC"))
      .toMatchObject({ bid: null, ask: null })
    const okx = fixture("okx") as { data: Array<Record<string, string>> }
    const emptyBook = { ...okx, data: okx.data.map((t) => ({ ...t, bidPx: "", askPx: "" })) }
    expect(quoteOf(Exchanges.okxSwap, emptyBook, "BTCUSD")).toMatchObject({ bid: null, ask: null })
  })

  it("fields the venue may leave out are optional (Binance MINI has no bid/ask)", () => {
    const mini = [{
      symbol: "BNBBTC",
      openPrice: "99.00000000",
      highPrice: "100.00000000",
      lowPrice: "0.10000000",
      lastPrice: "4.00000200",
      volume: "8913.30000000",
      quoteVolume: "15.30000000",
      openTime: 1499783499040,
      closeTime: 1499869899040,
      firstId: 28385,
      lastId: 28460,
      count: 76
    }]
    expect(quoteOf(Exchanges.binance, mini, "BNBBTC")).toMatchObject({ price: 4.000002, bid: null, ask: null })
  })

  it("a payload of the wrong shape fails the whole response, naming the path", () => {
    const failure = failureOf(Exchanges.kraken, { error: [], result: [1, 2] }, ["BTCUSD"])
    expect(failure.kind).toBe("error")
    expect(failure.message).toMatch(/^kraken: .*result/)
    expect(failureOf(Exchanges.binance, "nope", ["BTCUSDT"]).kind).toBe("error")
    expect(failureOf(Exchanges.okx, { data: [] }, ["BTCUSDT"]).message).toMatch(/code/)
  })
})

describe("error payloads", () => {
  it("Kraken: a non-empty error array fails with Kraken's message", () => {
    const unknown = failureOf(Exchanges.kraken, { error: ["EQuery:Unknown asset pair"] }, ["BTCUSDT", "FOOUSD"])
    expect(unknown.kind).toBe("unsupported")
    expect(unknown.message).toBe("kraken: EQuery:Unknown asset pair")
    expect(failureOf(Exchanges.kraken, { error: ["EAPI:Rate limit exceeded"] }, ["BTCUSD"]).kind).toBe("rate_limited")
    expect(failureOf(Exchanges.kraken, { error: ["EGeneral:Invalid arguments"] }, ["BTCUSD"])).toMatchObject({
      kind: "error",
      reason: "EGeneral:Invalid arguments"
    })
  })

  it("Kraken: warnings alone do not fail the response", () => {
    const body = { ...(fixture("kraken") as object), error: ["WGeneral:Something to note"] }
    expect(decodeOne(Exchanges.kraken, body, "BTCUSD")._tag).toBe("Quote")
  })

  it("OKX: a code other than \"0\" fails with OKX's message", () => {
    const missing = failureOf(
      Exchanges.okx,
      { code: "51001", msg: "Instrument ID doesn't exist.", data: [] },
      ["FOOUSDT"]
    )
    expect(missing).toMatchObject({ kind: "unsupported", reason: "code 51001: Instrument ID doesn't exist." })
    expect(failureOf(Exchanges.okx, { code: "50011", msg: "Too Many Requests", data: [] }, ["BTCUSDT"]).kind)
      .toBe("rate_limited")
    expect(failureOf(Exchanges.okx, { code: "50026", msg: "System error", data: [] }, ["BTCUSDT"])).toMatchObject({
      kind: "error",
      reason: "code 50026: System error"
    })
  })

  it("Bybit: a retCode other than 0 fails with Bybit's retMsg", () => {
    const base = { result: {}, retExtInfo: {}, time: 1 }
    expect(failureOf(Exchanges.bybit, { ...base, retCode: 10001, retMsg: "Not supported symbols" }, ["FOOUSDT"]).kind)
      .toBe("unsupported")
    expect(failureOf(Exchanges.bybit, { ...base, retCode: 10006, retMsg: "Too many visits!" }, ["BTCUSDT"]).kind)
      .toBe("rate_limited")
    expect(failureOf(Exchanges.bybit, { ...base, retCode: 10016, retMsg: "Server error" }, ["BTCUSDT"]).message)
      .toBe("bybit: retCode 10016: Server error")
  })

  it("error statuses read the venue's way", () => {
    expect(Exchanges.binance.statusFailure(400, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}")).toEqual({
      kind: "unsupported",
      reason: "code -1121: Invalid symbol."
    })
    expect(Exchanges.binance.statusFailure(429, "{\"code\":-1003,\"msg\":\"Too many requests.\"}")?.kind)
      .toBe("rate_limited")
    expect(Exchanges.coinbase.statusFailure(404, "{\"message\":\"NotFound\"}")?.kind).toBe("unsupported")
    expect(Exchanges.bitstamp.statusFailure(404, "<html>")?.kind).toBe("unsupported")
    expect(Exchanges.bybit.statusFailure(403, "access too frequent")?.kind).toBe("rate_limited")
    expect(Exchanges.okx.statusFailure(400, "{\"code\":\"51001\",\"msg\":\"Instrument ID doesn't exist.\"}")?.kind)
      .toBe("unsupported")
    expect(Exchanges.coinbase.statusFailure(503, "")).toBeUndefined()
    expect(Exchanges.kraken.statusFailure(500, "<html>")).toBeUndefined()
  })
})

describe("registry", () => {
  it("six spot adapters with live https URLs and positive documented rates", () => {
    expect(Exchanges.all.map((a) => a.id)).toEqual(["binance", "coinbase", "kraken", "okx", "bybit", "bitstamp"])
    for (const adapter of Exchanges.all) {
      expect(adapter.liveBaseUrl).toMatch(/^https:\/\/[^/]+$/)
      expect(adapter.rate.perSecond).toBeGreaterThan(0)
      expect(adapter.rate.burst).toBeGreaterThanOrEqual(1)
      expect(adapter.id).toMatch(/^[a-z0-9][a-z0-9_-]*$/)
    }
    expect(Exchanges.byId("okx-swap")).toBe(Exchanges.okxSwap)
    expect(Exchanges.byId("nope")).toBeUndefined()
  })
})
