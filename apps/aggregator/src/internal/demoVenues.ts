/**
 * The wire formats of the six simulated exchanges: their public ticker
 * paths, symbol spellings, JSON payload shapes (numbers as strings where the
 * real API sends strings) and error bodies, as documented by each exchange:
 *
 * - Binance Spot `GET /api/v3/ticker/24hr` (`symbol=` or `symbols=["A","B"]`,
 *   `type=FULL|MINI`), `/api/v3/ticker/bookTicker`, `/api/v3/ticker/price`;
 *   errors `{"code":-1121,"msg":"Invalid symbol."}` with HTTP 400.
 * - Coinbase Exchange `GET /products/BTC-USDT/ticker`; unknown product: 404
 *   `{"message":"NotFound"}`.
 * - Kraken `GET /0/public/Ticker?pair=XBTUSDT,ETHUSDT`: `{"error":[],"result":{KEY:{a,b,c,v,p,t,l,h,o}}}`
 *   keyed by the pair's name (`XXBTZUSD` for legacy pairs, `XBTUSDT` for
 *   newer ones); unknown pair: HTTP 200 `{"error":["EQuery:Unknown asset pair"]}`.
 * - OKX `GET /api/v5/market/tickers?instType=SPOT` and `/api/v5/market/ticker?instId=BTC-USDT`:
 *   `{"code":"0","msg":"","data":[…]}`; unknown instrument: HTTP 200 `code "51001"`.
 * - Bybit `GET /v5/market/tickers?category=spot[&symbol=BTCUSDT]`:
 *   `{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[…]},"retExtInfo":{},"time":…}`;
 *   unknown symbol: HTTP 200 `retCode 10001 "Not supported symbols"`.
 * - Bitstamp `GET /api/v2/ticker/btcusdt/` (and `/api/v2/ticker/` for all
 *   pairs); unknown pair: Django's HTML 404 page.
 *
 * Faults (5xx, 429) use each exchange's own error envelope.
 *
 * @internal
 */
import type * as Route from "@fiberkit/testkit/Route"
import type { Tick } from "./demoMarket.js"

/** The exchanges the demo simulates. */
export type VenueId = "binance" | "coinbase" | "kraken" | "okx" | "bybit" | "bitstamp"

/** What a venue needs to answer one request. */
export interface VenueContext {
  /** Canonical symbols this venue lists, in listing order. */
  readonly listed: ReadonlyArray<string>
  /** The canonical symbol a venue spelling stands for, when listed. */
  readonly lookup: (venueSymbol: string) => string | undefined
  /** The ticker of a listed canonical symbol for this request (stale and outlier faults applied). */
  readonly tick: (symbol: string) => Tick | undefined
  /** Server time of this response, epoch ms. */
  readonly now: number
  /** The time quotes in this response are as of (older than `now` when stale), epoch ms. */
  readonly quotedAt: number
}

/** One simulated exchange's wire format. */
export interface Venue {
  readonly id: VenueId
  readonly name: string
  /** The URL the real public API lives at, for reference and logs. */
  readonly liveBaseUrl: string
  /** Every spelling the venue accepts for a canonical symbol; the first is the one its payloads use. */
  readonly spellings: (symbol: string, base: string, quote: string) => ReadonlyArray<string>
  readonly handle: (request: Route.IncomingRequest, context: VenueContext) => Route.Reply
  readonly serverError: (status: number, now: number) => Route.Reply
  readonly rateLimited: (retryAfterSeconds: number, now: number) => Route.Reply
}

// ---------------------------------------------------------------------------
// formatting
// ---------------------------------------------------------------------------

const fixed = (value: number, decimals: number): string => value.toFixed(decimals)

/** Decimal text without trailing zeros (`"67000.1"`), never in exponent notation. */
const trimmed = (value: number, decimals: number): string => {
  const text = value.toFixed(decimals)
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text
}

const json = (value: unknown, status: number = 200, headers?: Record<string, string>): Route.Reply => ({
  status,
  body: { json: value },
  ...(headers === undefined ? {} : { headers })
})

const html = (status: number, body: string): Route.Reply => ({
  status,
  headers: { "content-type": "text/html; charset=utf-8" },
  body
})

const retryAfter = (seconds: number): Record<string, string> => ({ "retry-after": String(seconds) })

const ticks = (symbols: ReadonlyArray<string>, context: VenueContext): ReadonlyArray<Tick> => {
  const out: Array<Tick> = []
  for (const symbol of symbols) {
    const tick = context.tick(symbol)
    if (tick !== undefined) out.push(tick)
  }
  return out
}

const percent = (from: number, to: number): number => (from === 0 ? 0 : ((to - from) / from) * 100)

// ---------------------------------------------------------------------------
// Binance
// ---------------------------------------------------------------------------

const binanceError = (status: number, code: number, msg: string, headers?: Record<string, string>) =>
  json({ code, msg }, status, headers)

const binanceInvalidSymbol = () => binanceError(400, -1121, "Invalid symbol.")

/** Reads `symbol` / `symbols`: the requested canonical symbols, all listed ones when neither is given, or an error reply. */
const binanceSelection = (
  query: URLSearchParams,
  context: VenueContext
): { readonly symbols: ReadonlyArray<string>; readonly single: boolean } | Route.Reply => {
  const symbol = query.get("symbol")
  const symbols = query.get("symbols")
  if (symbol !== null && symbols !== null) {
    return binanceError(400, -1128, "Combination of optional parameters invalid.")
  }
  if (symbol !== null) {
    const canonical = context.lookup(symbol)
    return canonical === undefined ? binanceInvalidSymbol() : { symbols: [canonical], single: true }
  }
  if (symbols !== null) {
    let parsed: unknown
    try {
      parsed = JSON.parse(symbols)
    } catch {
      parsed = undefined
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((s): s is string => typeof s === "string")) {
      return binanceError(
        400,
        -1100,
        "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'."
      )
    }
    const out: Array<string> = []
    for (const s of parsed) {
      const canonical = context.lookup(s)
      if (canonical === undefined) return binanceInvalidSymbol()
      out.push(canonical)
    }
    return { symbols: out, single: false }
  }
  return { symbols: context.listed, single: false }
}

const binance24hrFull = (t: Tick) => ({
  symbol: t.symbol,
  priceChange: fixed(t.last - t.open24h, 8),
  priceChangePercent: fixed(percent(t.open24h, t.last), 3),
  weightedAvgPrice: fixed(t.vwap24h, 8),
  prevClosePrice: fixed(t.open24h, 8),
  lastPrice: fixed(t.last, 8),
  lastQty: fixed(t.lastSize, 8),
  bidPrice: fixed(t.bid, 8),
  bidQty: fixed(t.bidSize, 8),
  askPrice: fixed(t.ask, 8),
  askQty: fixed(t.askSize, 8),
  openPrice: fixed(t.open24h, 8),
  highPrice: fixed(t.high24h, 8),
  lowPrice: fixed(t.low24h, 8),
  volume: fixed(t.volume24h, 8),
  quoteVolume: fixed(t.quoteVolume24h, 8),
  openTime: t.at - 86_400_000,
  closeTime: t.at,
  firstId: t.firstTradeId,
  lastId: t.lastTradeId,
  count: t.trades24h
})

const binance24hrMini = (t: Tick) => ({
  symbol: t.symbol,
  openPrice: fixed(t.open24h, 8),
  highPrice: fixed(t.high24h, 8),
  lowPrice: fixed(t.low24h, 8),
  lastPrice: fixed(t.last, 8),
  volume: fixed(t.volume24h, 8),
  quoteVolume: fixed(t.quoteVolume24h, 8),
  openTime: t.at - 86_400_000,
  closeTime: t.at,
  firstId: t.firstTradeId,
  lastId: t.lastTradeId,
  count: t.trades24h
})

const binanceBook = (t: Tick) => ({
  symbol: t.symbol,
  bidPrice: fixed(t.bid, 8),
  bidQty: fixed(t.bidSize, 8),
  askPrice: fixed(t.ask, 8),
  askQty: fixed(t.askSize, 8)
})

const binancePrice = (t: Tick) => ({ symbol: t.symbol, price: fixed(t.last, 8) })

const binanceTicker = (
  request: Route.IncomingRequest,
  context: VenueContext,
  render: (t: Tick) => unknown
): Route.Reply => {
  const selection = binanceSelection(request.query, context)
  if (!("symbols" in selection)) return selection
  const rendered = ticks(selection.symbols, context).map(render)
  return json(selection.single ? rendered[0] : rendered)
}

const binance: Venue = {
  id: "binance",
  name: "Binance",
  liveBaseUrl: "https://api.binance.com",
  spellings: (symbol) => [symbol],
  handle: (request, context) => {
    switch (request.pathname) {
      case "/api/v3/ticker/24hr": {
        const type = request.query.get("type") ?? "FULL"
        if (type !== "FULL" && type !== "MINI") {
          return binanceError(400, -1139, "Invalid ticker type.")
        }
        return binanceTicker(request, context, type === "MINI" ? binance24hrMini : binance24hrFull)
      }
      case "/api/v3/ticker/bookTicker":
        return binanceTicker(request, context, binanceBook)
      case "/api/v3/ticker/price":
        return binanceTicker(request, context, binancePrice)
      case "/api/v3/ping":
        return json({})
      case "/api/v3/time":
        return json({ serverTime: context.now })
      default:
        return html(404, "<html><body><h2>404 Not found</h2></body></html>")
    }
  },
  serverError: (status) =>
    binanceError(status, -1001, "Internal error; unable to process your request. Please try again."),
  rateLimited: (seconds) =>
    binanceError(
      429,
      -1003,
      "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
      retryAfter(seconds)
    )
}

// ---------------------------------------------------------------------------
// Coinbase Exchange
// ---------------------------------------------------------------------------

const coinbaseNotFound = () => json({ message: "NotFound" }, 404)

const coinbase: Venue = {
  id: "coinbase",
  name: "Coinbase Exchange",
  liveBaseUrl: "https://api.exchange.coinbase.com",
  spellings: (_symbol, base, quote) => [`${base}-${quote}`],
  handle: (request, context) => {
    const match = /^\/products\/([^/]+)\/ticker$/.exec(request.pathname)
    if (match === null) return coinbaseNotFound()
    const canonical = context.lookup(decodeURIComponent(match[1] ?? ""))
    const t = canonical === undefined ? undefined : context.tick(canonical)
    if (t === undefined) return coinbaseNotFound()
    return json({
      trade_id: t.lastTradeId,
      price: fixed(t.last, t.decimals),
      size: fixed(t.lastSize, 8),
      time: new Date(t.at).toISOString(),
      bid: fixed(t.bid, t.decimals),
      ask: fixed(t.ask, t.decimals),
      volume: fixed(t.volume24h, 8),
      rfq_volume: fixed(t.volume24h * 0.004, 6),
      conversions_volume: "0.00"
    })
  },
  serverError: (status) => json({ message: "Internal server error" }, status),
  rateLimited: (seconds) => json({ message: "Public rate limit exceeded" }, 429, retryAfter(seconds))
}

// ---------------------------------------------------------------------------
// Kraken
// ---------------------------------------------------------------------------

/** Kraken's own asset codes: BTC is XBT, DOGE is XDG. */
const krakenAsset = (asset: string): string => (asset === "BTC" ? "XBT" : asset === "DOGE" ? "XDG" : asset)
/** Assets whose pairs keep the legacy X/Z-prefixed names (`XXBTZUSD`, `XETHZEUR`, `XETHXXBT`). */
const krakenLegacyBase = new Set(["XBT", "ETH", "LTC", "XRP", "XLM", "XMR", "ETC", "ZEC", "MLN", "REP"])
const krakenFiat = new Set(["USD", "EUR", "GBP", "JPY", "CAD"])

const krakenPrice = (value: number, decimals: number): string => fixed(value, Math.max(5, decimals))

const kraken: Venue = {
  id: "kraken",
  name: "Kraken",
  liveBaseUrl: "https://api.kraken.com",
  spellings: (_symbol, base, quote) => {
    const b = krakenAsset(base)
    const q = krakenAsset(quote)
    const altname = `${b}${q}`
    const legacyQuote = krakenFiat.has(q) ? `Z${q}` : q === "XBT" ? "XXBT" : undefined
    return krakenLegacyBase.has(b) && legacyQuote !== undefined ? [`X${b}${legacyQuote}`, altname] : [altname]
  },
  handle: (request, context) => {
    if (request.pathname === "/0/public/Time") {
      const seconds = Math.floor(context.now / 1000)
      return json({ error: [], result: { unixtime: seconds, rfc1123: new Date(seconds * 1000).toUTCString() } })
    }
    if (request.pathname !== "/0/public/Ticker") return json({ error: ["EGeneral:Unknown method"] }, 404)
    const pair = request.query.get("pair")
    let symbols: ReadonlyArray<string> = context.listed
    if (pair !== null && pair !== "") {
      const out: Array<string> = []
      for (const name of pair.split(",")) {
        const canonical = context.lookup(name.trim())
        if (canonical === undefined) return json({ error: ["EQuery:Unknown asset pair"] })
        out.push(canonical)
      }
      symbols = out
    }
    const result: Record<string, unknown> = {}
    for (const t of ticks(symbols, context)) {
      const key = kraken.spellings(t.symbol, t.base, t.quote)[0] ?? t.symbol
      const p = (value: number) => krakenPrice(value, t.decimals)
      const lowToday = Math.max(t.low24h, Math.min(t.openToday, t.last))
      const highToday = Math.min(t.high24h, Math.max(t.openToday, t.last))
      result[key] = {
        a: [p(t.ask), String(Math.max(1, Math.round(t.askSize))), fixed(t.askSize, 3)],
        b: [p(t.bid), String(Math.max(1, Math.round(t.bidSize))), fixed(t.bidSize, 3)],
        c: [p(t.last), fixed(t.lastSize, 8)],
        v: [fixed(t.volumeToday, 8), fixed(t.volume24h, 8)],
        p: [p(t.vwapToday), p(t.vwap24h)],
        t: [t.tradesToday, t.trades24h],
        l: [p(lowToday), p(t.low24h)],
        h: [p(highToday), p(t.high24h)],
        o: p(t.openToday)
      }
    }
    return json({ error: [], result })
  },
  serverError: (status) => json({ error: ["EService:Unavailable"] }, status),
  rateLimited: (seconds) => json({ error: ["EGeneral:Too many requests"] }, 429, retryAfter(seconds))
}

// ---------------------------------------------------------------------------
// OKX
// ---------------------------------------------------------------------------

const okxEnvelope = (code: string, msg: string, data: ReadonlyArray<unknown>, status: number = 200) =>
  json({ code, msg, data }, status)

const okxTicker = (t: Tick) => ({
  instType: "SPOT",
  instId: `${t.base}-${t.quote}`,
  last: trimmed(t.last, t.decimals),
  lastSz: trimmed(t.lastSize, 8),
  askPx: trimmed(t.ask, t.decimals),
  askSz: trimmed(t.askSize, 8),
  bidPx: trimmed(t.bid, t.decimals),
  bidSz: trimmed(t.bidSize, 8),
  open24h: trimmed(t.open24h, t.decimals),
  high24h: trimmed(t.high24h, t.decimals),
  low24h: trimmed(t.low24h, t.decimals),
  volCcy24h: trimmed(t.quoteVolume24h, 4),
  vol24h: trimmed(t.volume24h, 8),
  ts: String(t.at),
  sodUtc0: trimmed(t.openToday, t.decimals),
  sodUtc8: trimmed(t.openToday, t.decimals)
})

const okxInstTypes = new Set(["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"])

const okx: Venue = {
  id: "okx",
  name: "OKX",
  liveBaseUrl: "https://www.okx.com",
  spellings: (_symbol, base, quote) => [`${base}-${quote}`],
  handle: (request, context) => {
    switch (request.pathname) {
      case "/api/v5/market/tickers": {
        const instType = request.query.get("instType")
        if (instType === null || instType === "") {
          return okxEnvelope("50014", "Parameter instType cannot be empty", [], 400)
        }
        if (!okxInstTypes.has(instType)) return okxEnvelope("51000", "Parameter instType error", [], 400)
        // Only spot is simulated: other instrument types list nothing.
        if (instType !== "SPOT") return okxEnvelope("0", "", [])
        return okxEnvelope("0", "", ticks(context.listed, context).map(okxTicker))
      }
      case "/api/v5/market/ticker": {
        const instId = request.query.get("instId")
        if (instId === null || instId === "") return okxEnvelope("50014", "Parameter instId cannot be empty", [], 400)
        const canonical = context.lookup(instId)
        const t = canonical === undefined ? undefined : context.tick(canonical)
        if (t === undefined) return okxEnvelope("51001", "Instrument ID does not exist", [])
        return okxEnvelope("0", "", [okxTicker(t)])
      }
      case "/api/v5/public/time":
        return okxEnvelope("0", "", [{ ts: String(context.now) }])
      default:
        return json({ msg: "Not Found", code: "404" }, 404)
    }
  },
  serverError: (status) => okxEnvelope("50001", "Service temporarily unavailable", [], status),
  rateLimited: (seconds) => json({ msg: "Too Many Requests", code: "50011" }, 429, retryAfter(seconds))
}

// ---------------------------------------------------------------------------
// Bybit
// ---------------------------------------------------------------------------

const bybitEnvelope = (retCode: number, retMsg: string, result: unknown, time: number, status: number = 200) =>
  json({ retCode, retMsg, result, retExtInfo: {}, time }, status)

const bybitCategories = new Set(["spot", "linear", "inverse", "option"])

const bybitTicker = (t: Tick) => ({
  symbol: t.symbol,
  bid1Price: fixed(t.bid, t.decimals),
  bid1Size: fixed(t.bidSize, 6),
  ask1Price: fixed(t.ask, t.decimals),
  ask1Size: fixed(t.askSize, 6),
  lastPrice: fixed(t.last, t.decimals),
  prevPrice24h: fixed(t.open24h, t.decimals),
  price24hPcnt: fixed(percent(t.open24h, t.last) / 100, 4),
  highPrice24h: fixed(t.high24h, t.decimals),
  lowPrice24h: fixed(t.low24h, t.decimals),
  turnover24h: fixed(t.quoteVolume24h, 8),
  volume24h: fixed(t.volume24h, 8),
  usdIndexPrice: t.quote === "USDT" || t.quote === "USDC" || t.quote === "USD" ? fixed(t.vwap24h, 8) : ""
})

const bybit: Venue = {
  id: "bybit",
  name: "Bybit",
  liveBaseUrl: "https://api.bybit.com",
  spellings: (symbol) => [symbol],
  handle: (request, context) => {
    if (request.pathname === "/v5/market/time") {
      return bybitEnvelope(0, "OK", {
        timeSecond: String(Math.floor(context.now / 1000)),
        timeNano: `${context.now}000000`
      }, context.now)
    }
    if (request.pathname !== "/v5/market/tickers") return html(404, "<html><body><h1>404 Not Found</h1></body></html>")
    const category = request.query.get("category")
    if (category === null || !bybitCategories.has(category)) {
      return bybitEnvelope(10001, "Illegal category", {}, context.now)
    }
    // The envelope's `time` is the only timestamp of this shape; a stale answer carries the old one.
    const time = context.quotedAt
    if (category !== "spot") return bybitEnvelope(0, "OK", { category, list: [] }, time)
    const symbol = request.query.get("symbol")
    let symbols: ReadonlyArray<string> = context.listed
    if (symbol !== null && symbol !== "") {
      const canonical = context.lookup(symbol)
      if (canonical === undefined) return bybitEnvelope(10001, "Not supported symbols", {}, context.now)
      symbols = [canonical]
    }
    return bybitEnvelope(0, "OK", { category: "spot", list: ticks(symbols, context).map(bybitTicker) }, time)
  },
  serverError: (status, now) => bybitEnvelope(10016, "Internal server error.", {}, now, status),
  rateLimited: (seconds, now) =>
    json({ retCode: 10006, retMsg: "Too many visits!", result: {}, retExtInfo: {}, time: now }, 429, retryAfter(seconds))
}

// ---------------------------------------------------------------------------
// Bitstamp
// ---------------------------------------------------------------------------

/** Bitstamp is a Django site: an unknown URL or pair gets Django's production 404 page. */
const bitstampNotFound = () =>
  html(
    404,
    "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"
  )

const bitstampTicker = (t: Tick) => ({
  timestamp: String(Math.floor(t.at / 1000)),
  open: fixed(t.openToday, t.decimals),
  high: fixed(t.high24h, t.decimals),
  low: fixed(t.low24h, t.decimals),
  last: fixed(t.last, t.decimals),
  volume: fixed(t.volume24h, 8),
  vwap: fixed(t.vwap24h, t.decimals),
  bid: fixed(t.bid, t.decimals),
  ask: fixed(t.ask, t.decimals),
  side: String(t.side),
  open_24: fixed(t.open24h, t.decimals),
  percent_change_24: fixed(percent(t.open24h, t.last), 2),
  market_type: "SPOT"
})

const bitstamp: Venue = {
  id: "bitstamp",
  name: "Bitstamp",
  liveBaseUrl: "https://www.bitstamp.net",
  spellings: (symbol) => [symbol.toLowerCase()],
  handle: (request, context) => {
    if (request.pathname === "/api/v2/ticker/" || request.pathname === "/api/v2/ticker") {
      return json(
        ticks(context.listed, context).map((t) => ({ ...bitstampTicker(t), pair: `${t.base}/${t.quote}` }))
      )
    }
    const match = /^\/api\/v2\/ticker\/([a-z0-9]+)\/?$/.exec(request.pathname)
    if (match === null) return bitstampNotFound()
    const canonical = context.lookup(match[1] ?? "")
    const t = canonical === undefined ? undefined : context.tick(canonical)
    return t === undefined ? bitstampNotFound() : json(bitstampTicker(t))
  },
  serverError: (status) =>
    html(status, `<!doctype html>\n<html lang="en">\n<head><title>Server Error (${status})</title></head>\n<body><h1>Server Error (${status})</h1><p></p></body>\n</html>\n`),
  rateLimited: (seconds) =>
    json({
      status: "error",
      reason: "Rate limit exceeded",
      response_code: "400.002",
      response_explanation: "Request rejected due to exceeded rate limit."
    }, 429, retryAfter(seconds))
}

/** Every venue, in the order the demo starts them. */
export const venues: ReadonlyArray<Venue> = [binance, coinbase, kraken, okx, bybit, bitstamp]

/** The venue with this id, or `undefined`. */
export const venue = (id: string): Venue | undefined => venues.find((v) => v.id === id)
