/**
 * Adapters for the public ticker endpoints of six exchanges: Binance,
 * Coinbase (Exchange API), Kraken, OKX, Bybit and Bitstamp.
 *
 * An {@link Adapter} is pure data and functions, no IO: its live base URL,
 * its documented rate limit, the mapping between canonical symbols
 * (`BTCUSDT`) and the venue's spelling (`BTC-USDT`, `XBTUSDT`, `btcusdt`, …),
 * the plan of HTTP requests for a set of symbols (multi-symbol endpoints
 * where the venue has one), and the decoding of a response body with a
 * `Schema` of the documented payload. `Source.exchange` turns an adapter into
 * a running source.
 *
 * Every payload schema follows the venue's documentation: numbers that arrive
 * as strings are decoded with `NumberFromString`; the last price must be
 * finite and above zero (else the symbol fails with `error`); fields the
 * documentation marks optional, or that venues leave empty or `null`, are
 * optional and nullable. Wrapped responses (Kraken's `error` array, OKX's
 * `code`, Bybit's `retCode`) fail with the exchange's own message.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import {
  decodeWith,
  nonNegativeOrNull,
  OptionalDecimal,
  positiveOrNull,
  Price,
  toEpochMillis
} from "./internal/sourceValues.js"
import { type FailureKind, splitSymbol } from "./Model.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A token-bucket rate: `perSecond` on average, `burst` back to back. Over any
 * window of `T` seconds a source starts at most `burst + T × perSecond` units
 * (requests, or request weight where the venue weighs requests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Rate {
  readonly perSecond: number
  readonly burst: number
}

/**
 * One HTTP request of a tick: its path and query (relative to the base URL),
 * the canonical symbols it answers, and its weight in the venue's rate-limit
 * units (1 where the venue does not weigh requests).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestPlan {
  readonly path: string
  readonly symbols: ReadonlyArray<string>
  readonly weight: number
}

/**
 * The quote fields an adapter reads from a payload. `quotedAt` is the venue's
 * timestamp when the payload has one, else the time the response arrived.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedQuote {
  readonly symbol: string
  readonly price: number
  readonly bid: number | null
  readonly ask: number | null
  /** Rolling 24 h volume in the base asset, `null` when not published. */
  readonly volume: number | null
  readonly quotedAt: number
}

/**
 * What a decoded response says about one requested symbol: a quote, not
 * listed (`Missing`, the venue does not quote it), or listed with a value
 * that does not decode (`Invalid`, e.g. a price of zero), with the path.
 *
 * @since 0.1.0
 * @category models
 */
export type SymbolResult =
  | { readonly _tag: "Quote"; readonly quote: DecodedQuote }
  | { readonly _tag: "Missing"; readonly symbol: string }
  | { readonly _tag: "Invalid"; readonly symbol: string; readonly message: string }

/**
 * A whole response could not be used: the payload does not match the
 * documented shape (`kind: "error"`, the reason names the path), or the
 * venue answered with an error of its own (Kraken's `error` array, OKX
 * `code`, Bybit `retCode`): `unsupported` for an unknown symbol,
 * `rate_limited` for a rate-limit answer, `error` otherwise.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeFailure extends Data.TaggedError("ExchangeDecodeFailure")<{
  readonly exchange: string
  readonly kind: "error" | "unsupported" | "rate_limited"
  readonly reason: string
}> {
  override get message(): string {
    return `${this.exchange}: ${this.reason}`
  }
}

/**
 * How a venue's error status reads: the failure kind and a reason.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusFailure {
  readonly kind: FailureKind
  readonly reason: string
}

/**
 * An exchange's public ticker API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Adapter {
  /** Source id, `/^[a-z0-9][a-z0-9_-]*$/`. */
  readonly id: string
  readonly name: string
  /** The production API origin, without a trailing slash. */
  readonly liveBaseUrl: string
  /** The documentation of the endpoint used. */
  readonly docsUrl: string
  /** The documented limit this adapter keeps to, in requests or weight per second. */
  readonly rate: Rate
  /** Where {@link rate} comes from, in one sentence. */
  readonly rateNote: string
  /** Canonical → venue spelling (`BTCUSDT` → `BTC-USDT`); `undefined` when it cannot be spelled. */
  readonly venueSymbol: (symbol: string) => string | undefined
  /** Venue spelling (or response key) → canonical; `undefined` when not recognised. */
  readonly canonicalSymbol: (venueSymbol: string) => string | undefined
  /**
   * Plans the HTTP requests for these canonical symbols, using the venue's
   * multi-symbol endpoint where it has one. Symbols without a venue spelling
   * are left out (the caller reports them `unsupported`).
   */
  readonly requests: (symbols: ReadonlyArray<string>) => ReadonlyArray<RequestPlan>
  /**
   * Decodes one JSON response body for the symbols of its request: one
   * {@link SymbolResult} per symbol, in order, or a {@link DecodeFailure}
   * for the whole response.
   */
  readonly decode: (
    body: unknown,
    symbols: ReadonlyArray<string>,
    receivedAt: number
  ) => Either.Either<ReadonlyArray<SymbolResult>, DecodeFailure>
  /**
   * Reads a non-2xx answer the venue's way (Binance `-1121 Invalid symbol`
   * → `unsupported`, Bybit 403 → `rate_limited`, …); `undefined` leaves it to
   * the generic mapping (429/418 → `rate_limited`, anything else → `error`).
   */
  readonly statusFailure: (status: number, body: string) => StatusFailure | undefined
}

// ---------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------

/** Optional and nullable: the field may be left out or sent as `null`. */
const opt = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.optional(Schema.NullOr(schema))

interface Entry {
  /** The venue's key for the ticker (instrument id, symbol, result key). */
  readonly key: string
  /** Where the ticker sits in the body, for error messages. */
  readonly path: ReadonlyArray<PropertyKey>
  readonly item: unknown
}

interface Envelope {
  readonly entries: ReadonlyArray<Entry>
  /** A response-level timestamp (Bybit `time`), epoch ms. */
  readonly time: number | undefined
}

interface Fields {
  readonly price: number
  readonly bid: number | null
  readonly ask: number | null
  readonly volume: number | null
  readonly quotedAt: number | undefined
}

interface Spec<A, I> {
  readonly id: string
  readonly name: string
  readonly liveBaseUrl: string
  readonly docsUrl: string
  readonly rate: Rate
  readonly rateNote: string
  readonly venueSymbol: (symbol: string) => string | undefined
  readonly canonicalSymbol: (venueSymbol: string) => string | undefined
  readonly requests: (symbols: ReadonlyArray<string>, venue: (symbol: string) => string) => ReadonlyArray<RequestPlan>
  readonly envelope: (
    body: unknown,
    symbols: ReadonlyArray<string>,
    fail: (kind: DecodeFailure["kind"], reason: string) => DecodeFailure
  ) => Either.Either<Envelope, DecodeFailure>
  readonly ticker: Schema.Schema<A, I, never>
  readonly fields: (ticker: A, envelope: Envelope) => Fields
  readonly statusFailure?: (status: number, body: string) => StatusFailure | undefined
}

const make = <A, I>(spec: Spec<A, I>): Adapter => {
  const fail = (kind: DecodeFailure["kind"], reason: string) => new DecodeFailure({ exchange: spec.id, kind, reason })
  const mappable = (symbols: ReadonlyArray<string>) =>
    symbols.filter((symbol) => spec.venueSymbol(symbol) !== undefined)
  const venue = (symbol: string): string => spec.venueSymbol(symbol) ?? symbol
  return {
    id: spec.id,
    name: spec.name,
    liveBaseUrl: spec.liveBaseUrl,
    docsUrl: spec.docsUrl,
    rate: spec.rate,
    rateNote: spec.rateNote,
    venueSymbol: spec.venueSymbol,
    canonicalSymbol: spec.canonicalSymbol,
    requests: (symbols) => {
      const list = mappable(unique(symbols))
      return list.length === 0 ? [] : spec.requests(list, venue)
    },
    statusFailure: (status, body) => spec.statusFailure?.(status, body),
    decode: (body, symbols, receivedAt) =>
      Either.map(spec.envelope(body, symbols, fail), (envelope) => {
        // Index by the venue key and by its canonical form: Kraken answers
        // `XBTUSDT` with the key `XBTUSDT` but `XBTUSD` with `XXBTZUSD`.
        const byKey = new Map<string, Entry>()
        for (const entry of envelope.entries) {
          if (!byKey.has(entry.key)) byKey.set(entry.key, entry)
          const canonical = spec.canonicalSymbol(entry.key)
          if (canonical !== undefined && !byKey.has(`=${canonical}`)) byKey.set(`=${canonical}`, entry)
        }
        return symbols.map((symbol): SymbolResult => {
          const venueKey = spec.venueSymbol(symbol)
          const entry = (venueKey === undefined ? undefined : byKey.get(venueKey)) ?? byKey.get(`=${symbol}`)
          if (entry === undefined) return { _tag: "Missing", symbol }
          const decoded = decodeWith(spec.ticker, entry.item, entry.path)
          if (Either.isLeft(decoded)) {
            return { _tag: "Invalid", symbol, message: `${spec.id}: ${symbol}: ${decoded.left}` }
          }
          const fields = spec.fields(decoded.right, envelope)
          return {
            _tag: "Quote",
            quote: {
              symbol,
              price: fields.price,
              bid: fields.bid,
              ask: fields.ask,
              volume: fields.volume,
              quotedAt: fields.quotedAt ?? receivedAt
            }
          }
        })
      })
  }
}

const unique = (symbols: ReadonlyArray<string>): Array<string> => Array.from(new Set(symbols))

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const canonicalPattern = /^[A-Z0-9]{2,24}$/

const asCanonical = (symbol: string): string | undefined => (canonicalPattern.test(symbol) ? symbol : undefined)

/** `BTCUSDT` → `BTC-USDT`. */
const dashed = (symbol: string): string | undefined => {
  const parts = splitSymbol(symbol)
  return parts === undefined ? undefined : `${parts[0]}-${parts[1]}`
}

/** `BTC-USDT` → `BTCUSDT`. */
const undashed = (venue: string): string | undefined => {
  const parts = venue.split("-")
  return parts.length === 2 ? asCanonical(venue.replace("-", "").toUpperCase()) : undefined
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The `code` and message of a JSON error body, when the body is one. */
const jsonError = (body: string): { readonly code: string; readonly message: string } | undefined => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (!isRecord(parsed)) return undefined
    const code = parsed["code"] ?? parsed["retCode"]
    const message = parsed["msg"] ?? parsed["retMsg"] ?? parsed["message"] ?? parsed["reason"]
    return code === undefined ? undefined : { code: String(code), message: typeof message === "string" ? message : "" }
  } catch {
    // An excerpt may be cut short or be HTML: then there is no code to read.
    return undefined
  }
}

/** The one ticker of a single-instrument response, for the one symbol its request asked. */
const singleEntry = (
  body: unknown,
  symbols: ReadonlyArray<string>,
  venueSymbol: (symbol: string) => string | undefined,
  fail: (kind: DecodeFailure["kind"], reason: string) => DecodeFailure
): Either.Either<Envelope, DecodeFailure> => {
  const first = symbols[0]
  if (first === undefined || symbols.length !== 1) {
    return Either.left(fail("error", `a single-ticker response cannot answer ${symbols.length} symbols`))
  }
  return Either.right({ entries: [{ key: venueSymbol(first) ?? first, path: [], item: body }], time: undefined })
}

// ---------------------------------------------------------------------------
// Binance
// ---------------------------------------------------------------------------

/**
 * One ticker of `GET /api/v3/ticker/24hr` (FULL; MINI leaves out the price
 * change, bid and ask fields, hence optional).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BinanceTicker = Schema.Struct({
  symbol: Schema.String,
  priceChange: opt(Schema.String),
  priceChangePercent: opt(Schema.String),
  weightedAvgPrice: opt(Schema.String),
  prevClosePrice: opt(Schema.String),
  lastPrice: Price,
  lastQty: opt(Schema.String),
  bidPrice: opt(OptionalDecimal),
  bidQty: opt(Schema.String),
  askPrice: opt(OptionalDecimal),
  askQty: opt(Schema.String),
  openPrice: opt(Schema.String),
  highPrice: opt(Schema.String),
  lowPrice: opt(Schema.String),
  /** Base-asset volume of the rolling 24 h window. */
  volume: opt(OptionalDecimal),
  quoteVolume: opt(Schema.String),
  openTime: opt(Schema.Number),
  /** End of the window, epoch ms: the quote's time. */
  closeTime: opt(Schema.Number),
  firstId: opt(Schema.Number),
  lastId: opt(Schema.Number),
  count: opt(Schema.Number)
}).annotations({ identifier: "BinanceTicker" })

/**
 * The response of `GET /api/v3/ticker/24hr`: one ticker for `symbol=`, an
 * array for `symbols=[...]`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BinanceTickerResponse = Schema.Union(BinanceTicker, Schema.Array(BinanceTicker))

/**
 * The documented request weight of `GET /api/v3/ticker/24hr` with `symbols`:
 * 2 for 1–20 symbols, 40 for 21–100, 80 for more.
 *
 * @since 0.1.0
 * @category binance
 */
export const binanceTicker24hrWeight = (symbols: number): number => symbols <= 20 ? 2 : symbols <= 100 ? 40 : 80

/**
 * Binance spot. Symbols are spelled canonically (`BTCUSDT`). Requests use
 * `symbols=[...]` in chunks of 20, the largest batch at the lowest weight (2),
 * so 50 symbols cost 3 requests of weight 2 (6) rather than one of 40. One
 * unknown symbol fails the whole batch with `-1121 Invalid symbol`
 * (`unsupported`); `Source.exchange` then asks symbol by symbol.
 *
 * @since 0.1.0
 * @category adapters
 */
export const binance: Adapter = make({
  id: "binance",
  name: "Binance",
  liveBaseUrl: "https://api.binance.com",
  docsUrl:
    "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#24hr-ticker-price-change-statistics",
  // REQUEST_WEIGHT is 6000 per minute per IP; 90/s with a burst of 200
  // stays under it over any minute (200 + 60 × 90 = 5600).
  rate: { perSecond: 90, burst: 200 },
  rateNote: "REQUEST_WEIGHT 6000 per minute per IP; ticker/24hr weighs 2 for 1-20 symbols, 40 for 21-100, 80 above",
  venueSymbol: asCanonical,
  canonicalSymbol: (venue) => asCanonical(venue.toUpperCase()),
  requests: (symbols) =>
    chunks(symbols, 20).map((chunk) => ({
      path: `/api/v3/ticker/24hr?symbols=${encodeURIComponent(JSON.stringify(chunk))}`,
      symbols: chunk,
      weight: binanceTicker24hrWeight(chunk.length)
    })),
  envelope: (body, _symbols, fail) => {
    const items = Array.isArray(body) ? body : isRecord(body) && typeof body["symbol"] === "string" ? [body] : undefined
    if (items === undefined) {
      if (isRecord(body) && body["code"] !== undefined) {
        return Either.left(binanceCodeFailure(String(body["code"]), String(body["msg"] ?? ""), fail))
      }
      return Either.left(fail("error", "expected a ticker or an array of tickers"))
    }
    const entries: Array<Entry> = []
    items.forEach((item: unknown, index) => {
      if (isRecord(item) && typeof item["symbol"] === "string") {
        entries.push({ key: item["symbol"], path: Array.isArray(body) ? [index] : [], item })
      }
    })
    return Either.right({ entries, time: undefined })
  },
  ticker: BinanceTicker,
  fields: (t) => ({
    price: t.lastPrice,
    bid: positiveOrNull(t.bidPrice),
    ask: positiveOrNull(t.askPrice),
    volume: nonNegativeOrNull(t.volume),
    quotedAt: toEpochMillis(t.closeTime)
  }),
  statusFailure: (_status, body) => {
    const error = jsonError(body)
    return error === undefined ? undefined : binanceCodeFailure(error.code, error.message, (kind, reason) => ({ kind, reason }))
  }
})

const binanceCodeFailure = <R>(
  code: string,
  message: string,
  build: (kind: "error" | "unsupported" | "rate_limited", reason: string) => R
): R =>
  code === "-1121"
    ? build("unsupported", `code -1121: ${message || "Invalid symbol."}`)
    : code === "-1003"
    ? build("rate_limited", `code -1003: ${message || "Too many requests."}`)
    : build("error", `code ${code}: ${message}`)

// ---------------------------------------------------------------------------
// Coinbase Exchange
// ---------------------------------------------------------------------------

/**
 * The response of Coinbase Exchange `GET /products/{product_id}/ticker`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CoinbaseTicker = Schema.Struct({
  trade_id: opt(Schema.Number),
  price: Price,
  size: opt(Schema.String),
  /** ISO 8601 time of the last trade. */
  time: opt(Schema.String),
  bid: opt(OptionalDecimal),
  ask: opt(OptionalDecimal),
  /** 24 h volume in the base currency. */
  volume: opt(OptionalDecimal),
  rfq_volume: opt(Schema.String),
  conversions_volume: opt(Schema.String)
}).annotations({ identifier: "CoinbaseTicker" })

/**
 * Coinbase Exchange (`api.exchange.coinbase.com`). Products are spelled
 * `BTC-USDT`; the ticker endpoint takes one product, so one request per
 * symbol. An unknown product is a 404 (`unsupported`).
 *
 * @since 0.1.0
 * @category adapters
 */
export const coinbase: Adapter = make({
  id: "coinbase",
  name: "Coinbase Exchange",
  liveBaseUrl: "https://api.exchange.coinbase.com",
  docsUrl: "https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproductticker",
  rate: { perSecond: 10, burst: 15 },
  rateNote: "public endpoints: 10 requests per second per IP, bursts up to 15 (a token bucket, as here)",
  venueSymbol: dashed,
  canonicalSymbol: undashed,
  requests: (symbols, venue) =>
    symbols.map((symbol) => ({
      path: `/products/${encodeURIComponent(venue(symbol))}/ticker`,
      symbols: [symbol],
      weight: 1
    })),
  envelope: (body, symbols, fail) => {
    if (isRecord(body) && typeof body["message"] === "string" && body["price"] === undefined) {
      return Either.left(fail("error", body["message"]))
    }
    return singleEntry(body, symbols, dashed, fail)
  },
  ticker: CoinbaseTicker,
  fields: (t) => ({
    price: t.price,
    bid: positiveOrNull(t.bid),
    ask: positiveOrNull(t.ask),
    volume: nonNegativeOrNull(t.volume),
    quotedAt: toEpochMillis(t.time)
  }),
  statusFailure: (status, body) =>
    status === 404 ? { kind: "unsupported", reason: `product not found (${jsonError(body)?.message || "NotFound"})` } : undefined
})

// ---------------------------------------------------------------------------
// Kraken
// ---------------------------------------------------------------------------

/**
 * One pair of Kraken `GET /0/public/Ticker`: `a` ask `[price, whole lot
 * volume, lot volume]`, `b` bid, `c` last trade `[price, lot volume]`, `v`
 * volume `[today, last 24 h]`, `p` VWAP, `t` trade counts, `l`/`h` low/high,
 * `o` today's opening price.
 *
 * @since 0.1.0
 * @category schemas
 */
export const KrakenTicker = Schema.Struct({
  a: opt(Schema.Tuple([OptionalDecimal], Schema.Unknown)),
  b: opt(Schema.Tuple([OptionalDecimal], Schema.Unknown)),
  c: Schema.Tuple([Price], Schema.Unknown),
  v: opt(Schema.Tuple([Schema.Unknown, OptionalDecimal], Schema.Unknown)),
  p: opt(Schema.Array(Schema.String)),
  t: opt(Schema.Array(Schema.Number)),
  l: opt(Schema.Array(Schema.String)),
  h: opt(Schema.Array(Schema.String)),
  o: opt(Schema.String)
}).annotations({ identifier: "KrakenTicker" })

/**
 * The response of Kraken `GET /0/public/Ticker`: `error` (strings starting
 * `E` are errors, `W` warnings) and `result` keyed by pair name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const KrakenTickerResponse = Schema.Struct({
  error: Schema.Array(Schema.String),
  result: Schema.optional(Schema.Record({ key: Schema.String, value: KrakenTicker }))
}).annotations({ identifier: "KrakenTickerResponse" })

const KrakenEnvelope = Schema.Struct({
  error: Schema.Array(Schema.String),
  result: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/** Canonical asset codes Kraken spells its own way. */
const krakenAssets: Readonly<Record<string, string>> = { BTC: "XBT", DOGE: "XDG" }
const krakenAssetsBack: Readonly<Record<string, string>> = { XBT: "BTC", XDG: "DOGE" }
const krakenQuotes = ["USDT", "USDC", "USD", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD", "DAI", "XBT", "ETH"]

/**
 * Kraken's spelling of a canonical symbol: `BTCUSDT` → `XBTUSDT`,
 * `DOGEUSD` → `XDGUSD`.
 *
 * @since 0.1.0
 * @category kraken
 */
export const krakenPair = (symbol: string): string | undefined => {
  const parts = splitSymbol(symbol)
  if (parts === undefined) return undefined
  const [base, quote] = parts
  return `${krakenAssets[base] ?? base}${krakenAssets[quote] ?? quote}`
}

/**
 * The canonical symbol of a Kraken pair name or result key, including the
 * legacy keys of the oldest pairs: `XXBTZUSD` → `BTCUSD`, `XETHXXBT` →
 * `ETHBTC`, `XBTUSDT` → `BTCUSDT`, `XDGUSD` → `DOGEUSD`.
 *
 * @since 0.1.0
 * @category kraken
 */
export const krakenCanonical = (key: string): string | undefined => {
  const upper = key.toUpperCase()
  let base: string | undefined
  let quote: string | undefined
  // Legacy four-letter asset codes: X for crypto, Z for fiat (XXBT, ZUSD).
  const legacy = /^[XZ]([A-Z0-9]{3})[XZ]([A-Z0-9]{3})$/.exec(upper)
  if (legacy !== null) {
    base = legacy[1]
    quote = legacy[2]
  } else {
    for (const q of krakenQuotes) {
      if (upper.length > q.length && upper.endsWith(q)) {
        base = upper.slice(0, upper.length - q.length)
        quote = q
        break
      }
    }
  }
  if (base === undefined || quote === undefined) return undefined
  return asCanonical(`${krakenAssetsBack[base] ?? base}${krakenAssetsBack[quote] ?? quote}`)
}

const krakenErrorKind = (errors: ReadonlyArray<string>): DecodeFailure["kind"] =>
  errors.some((e) => e.startsWith("EQuery:Unknown asset pair"))
    ? "unsupported"
    : errors.some((e) => /^EAPI:Rate limit exceeded|^EGeneral:Too many requests|^EService:Throttled/.test(e))
    ? "rate_limited"
    : "error"

/**
 * Kraken spot. Pairs are spelled with Kraken's asset codes (`XBTUSDT`); the
 * result is keyed by pair name, which for the oldest pairs is a legacy name
 * (`XBTUSD` comes back as `XXBTZUSD`), mapped back by {@link krakenCanonical}.
 * One request carries up to 50 pairs (`pair=XBTUSDT,ETHUSDT`). An unknown pair
 * fails the whole request with `EQuery:Unknown asset pair` (`unsupported`).
 *
 * @since 0.1.0
 * @category adapters
 */
export const kraken: Adapter = make({
  id: "kraken",
  name: "Kraken",
  liveBaseUrl: "https://api.kraken.com",
  docsUrl: "https://docs.kraken.com/api/docs/rest-api/get-ticker-information",
  // Kraken documents a per-key call counter for private calls and throttles
  // public calls per IP at about one per second.
  rate: { perSecond: 1, burst: 2 },
  rateNote: "public endpoints are throttled per IP at about 1 request per second (EGeneral:Too many requests beyond)",
  venueSymbol: krakenPair,
  canonicalSymbol: krakenCanonical,
  requests: (symbols, venue) =>
    chunks(symbols, 50).map((chunk) => ({
      path: `/0/public/Ticker?pair=${chunk.map((s) => encodeURIComponent(venue(s))).join(",")}`,
      symbols: chunk,
      weight: 1
    })),
  envelope: (body, _symbols, fail) => {
    const decoded = decodeWith(KrakenEnvelope, body)
    if (Either.isLeft(decoded)) return Either.left(fail("error", decoded.left))
    const errors = decoded.right.error.filter((e) => !e.startsWith("W"))
    if (errors.length > 0) return Either.left(fail(krakenErrorKind(errors), errors.join("; ")))
    const result = decoded.right.result ?? {}
    return Either.right({
      entries: Object.keys(result).map((key) => ({ key, path: ["result", key], item: result[key] })),
      time: undefined
    })
  },
  ticker: KrakenTicker,
  fields: (t) => ({
    price: t.c[0],
    bid: positiveOrNull(t.b?.[0]),
    ask: positiveOrNull(t.a?.[0]),
    volume: nonNegativeOrNull(t.v?.[1]),
    quotedAt: undefined
  })
})

// ---------------------------------------------------------------------------
// OKX
// ---------------------------------------------------------------------------

/**
 * One ticker of OKX `GET /api/v5/market/ticker` and `/tickers`. Empty
 * strings stand for "no value" (an empty book side).
 *
 * @since 0.1.0
 * @category schemas
 */
export const OkxTicker = Schema.Struct({
  instType: opt(Schema.String),
  instId: Schema.String,
  last: Price,
  lastSz: opt(Schema.String),
  askPx: opt(OptionalDecimal),
  askSz: opt(Schema.String),
  bidPx: opt(OptionalDecimal),
  bidSz: opt(Schema.String),
  open24h: opt(Schema.String),
  high24h: opt(Schema.String),
  low24h: opt(Schema.String),
  /** SPOT: quote-currency volume; derivatives: base-currency volume. */
  volCcy24h: opt(OptionalDecimal),
  /** SPOT: base-currency volume; derivatives: contracts. */
  vol24h: opt(OptionalDecimal),
  /** Epoch ms, as a string. */
  ts: opt(Schema.String),
  sodUtc0: opt(Schema.String),
  sodUtc8: opt(Schema.String)
}).annotations({ identifier: "OkxTicker" })

/**
 * The OKX v5 response envelope around tickers: `code` `"0"` is success.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OkxTickerResponse = Schema.Struct({
  code: Schema.String,
  msg: Schema.String,
  data: Schema.Array(OkxTicker)
}).annotations({ identifier: "OkxTickerResponse" })

const OkxEnvelope = Schema.Struct({
  code: Schema.String,
  msg: Schema.optional(Schema.String),
  data: Schema.optional(Schema.Array(Schema.Unknown))
})

const okxCodeKind = (code: string): DecodeFailure["kind"] =>
  code === "51001" ? "unsupported" : code === "50011" ? "rate_limited" : "error"

/**
 * Up to this many symbols, the OKX adapter asks per instrument
 * (`/api/v5/market/ticker?instId=`); above, it fetches every ticker of the
 * instrument type in one request (`/api/v5/market/tickers?instType=`, a few
 * hundred KB) and picks its symbols. Both endpoints share one limit of 20
 * requests per 2 s, so the break-even is about the rate, not the size.
 *
 * @since 0.1.0
 * @category okx
 */
export const okxPerInstrumentMax = 5

const makeOkx = (instType: "SPOT" | "SWAP"): Adapter => {
  const suffix = instType === "SWAP" ? "-SWAP" : ""
  const venueSymbol = (symbol: string): string | undefined => {
    const d = dashed(symbol)
    return d === undefined ? undefined : `${d}${suffix}`
  }
  const canonicalSymbol = (venue: string): string | undefined => {
    if (suffix.length === 0) return venue.endsWith("-SWAP") ? undefined : undashed(venue)
    return venue.endsWith(suffix) ? undashed(venue.slice(0, venue.length - suffix.length)) : undefined
  }
  return make({
    id: instType === "SPOT" ? "okx" : "okx-swap",
    name: instType === "SPOT" ? "OKX" : "OKX perpetual swaps",
    liveBaseUrl: "https://www.okx.com",
    docsUrl: "https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-ticker",
    // 20 requests per 2 s per IP: 9/s with a burst of 2 never exceeds 20 in
    // any 2 s window (2 + 2 × 9).
    rate: { perSecond: 9, burst: 2 },
    rateNote: "market/ticker and market/tickers: 20 requests per 2 seconds per IP",
    venueSymbol,
    canonicalSymbol,
    requests: (symbols, venue) =>
      symbols.length <= okxPerInstrumentMax
        ? symbols.map((symbol) => ({
          path: `/api/v5/market/ticker?instId=${encodeURIComponent(venue(symbol))}`,
          symbols: [symbol],
          weight: 1
        }))
        : [{ path: `/api/v5/market/tickers?instType=${instType}`, symbols, weight: 1 }],
    envelope: (body, _symbols, fail) => {
      const decoded = decodeWith(OkxEnvelope, body)
      if (Either.isLeft(decoded)) return Either.left(fail("error", decoded.left))
      const { code, data, msg } = decoded.right
      if (code !== "0") return Either.left(fail(okxCodeKind(code), `code ${code}: ${msg ?? ""}`))
      const entries: Array<Entry> = []
      ;(data ?? []).forEach((item, index) => {
        if (isRecord(item) && typeof item["instId"] === "string") {
          entries.push({ key: item["instId"], path: ["data", index], item })
        }
      })
      return Either.right({ entries, time: undefined })
    },
    ticker: OkxTicker,
    fields: (t) => ({
      price: t.last,
      bid: positiveOrNull(t.bidPx),
      ask: positiveOrNull(t.askPx),
      // vol24h is in base currency for spot but in contracts for
      // derivatives, whose base-currency volume is volCcy24h.
      volume: nonNegativeOrNull((t.instType ?? instType) === "SPOT" ? t.vol24h : t.volCcy24h),
      quotedAt: toEpochMillis(t.ts)
    }),
    statusFailure: (_status, body) => {
      const error = jsonError(body)
      return error === undefined || error.code === "0"
        ? undefined
        : { kind: okxCodeKind(error.code), reason: `code ${error.code}: ${error.message}` }
    }
  })
}

/**
 * OKX spot. Instruments are spelled `BTC-USDT`. Per instrument for up to
 * {@link okxPerInstrumentMax} symbols, otherwise one all-tickers request.
 * `code` other than `"0"` fails the response with OKX's message
 * (`51001` instrument does not exist → `unsupported`, `50011` → `rate_limited`).
 *
 * @since 0.1.0
 * @category adapters
 */
export const okx: Adapter = makeOkx("SPOT")

/**
 * OKX perpetual swaps (`BTC-USD-SWAP` for the canonical `BTCUSD`), the same
 * endpoints with `instType=SWAP`; volume is `volCcy24h` (base currency).
 * Not in {@link all}: a swap price is not a spot price.
 *
 * @since 0.1.0
 * @category adapters
 */
export const okxSwap: Adapter = makeOkx("SWAP")

// ---------------------------------------------------------------------------
// Bybit
// ---------------------------------------------------------------------------

/**
 * One spot ticker of Bybit v5 `GET /v5/market/tickers?category=spot`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BybitSpotTicker = Schema.Struct({
  symbol: Schema.String,
  bid1Price: opt(OptionalDecimal),
  bid1Size: opt(Schema.String),
  ask1Price: opt(OptionalDecimal),
  ask1Size: opt(Schema.String),
  lastPrice: Price,
  prevPrice24h: opt(Schema.String),
  price24hPcnt: opt(Schema.String),
  highPrice24h: opt(Schema.String),
  lowPrice24h: opt(Schema.String),
  turnover24h: opt(Schema.String),
  /** 24 h volume in the base coin. */
  volume24h: opt(OptionalDecimal),
  usdIndexPrice: opt(Schema.String)
}).annotations({ identifier: "BybitSpotTicker" })

/**
 * The Bybit v5 response envelope: `retCode` 0 is success; `time` is the
 * server time in epoch ms.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BybitTickersResponse = Schema.Struct({
  retCode: Schema.Number,
  retMsg: Schema.String,
  result: Schema.Struct({
    category: opt(Schema.String),
    list: opt(Schema.Array(BybitSpotTicker))
  }),
  retExtInfo: Schema.optional(Schema.Unknown),
  time: opt(Schema.Number)
}).annotations({ identifier: "BybitTickersResponse" })

const BybitEnvelope = Schema.Struct({
  retCode: Schema.Number,
  retMsg: Schema.optional(Schema.String),
  result: Schema.optional(Schema.NullOr(Schema.Struct({ list: Schema.optional(Schema.NullOr(Schema.Array(Schema.Unknown))) }))),
  time: Schema.optional(Schema.NullOr(Schema.Number))
})

/**
 * Up to this many symbols, the Bybit adapter asks per symbol
 * (`&symbol=BTCUSDT`); above, it fetches all spot tickers in one request.
 *
 * @since 0.1.0
 * @category bybit
 */
export const bybitPerSymbolMax = 10

const bybitCodeKind = (code: number, message: string): DecodeFailure["kind"] =>
  code === 10006 || code === 10018
    ? "rate_limited"
    : code === 10001 && /symbol/i.test(message)
    ? "unsupported"
    : "error"

/**
 * Bybit spot (v5). Symbols are spelled canonically (`BTCUSDT`). Per symbol
 * for up to {@link bybitPerSymbolMax} symbols, otherwise one all-tickers
 * request. `retCode` other than 0 fails with Bybit's `retMsg` (10006 "Too
 * many visits" → `rate_limited`, 10001 about the symbol → `unsupported`); an
 * HTTP 403 is Bybit's IP ban for exceeding its rate (`rate_limited`).
 *
 * @since 0.1.0
 * @category adapters
 */
export const bybit: Adapter = make({
  id: "bybit",
  name: "Bybit",
  liveBaseUrl: "https://api.bybit.com",
  docsUrl: "https://bybit-exchange.github.io/docs/v5/market/tickers",
  // 600 requests per 5 s per IP, and exceeding it bans the IP for 10+
  // minutes: keep to half (50 + 5 × 50 = 300).
  rate: { perSecond: 50, burst: 50 },
  rateNote: "600 requests per 5-second window per IP (HTTP 403 and a ban beyond); half of it is used",
  venueSymbol: asCanonical,
  canonicalSymbol: (venue) => asCanonical(venue.toUpperCase()),
  requests: (symbols) =>
    symbols.length <= bybitPerSymbolMax
      ? symbols.map((symbol) => ({
        path: `/v5/market/tickers?category=spot&symbol=${encodeURIComponent(symbol)}`,
        symbols: [symbol],
        weight: 1
      }))
      : [{ path: "/v5/market/tickers?category=spot", symbols, weight: 1 }],
  envelope: (body, _symbols, fail) => {
    const decoded = decodeWith(BybitEnvelope, body)
    if (Either.isLeft(decoded)) return Either.left(fail("error", decoded.left))
    const { result, retCode, retMsg, time } = decoded.right
    if (retCode !== 0) return Either.left(fail(bybitCodeKind(retCode, retMsg ?? ""), `retCode ${retCode}: ${retMsg ?? ""}`))
    const entries: Array<Entry> = []
    ;(result?.list ?? []).forEach((item, index) => {
      if (isRecord(item) && typeof item["symbol"] === "string") {
        entries.push({ key: item["symbol"], path: ["result", "list", index], item })
      }
    })
    return Either.right({ entries, time: toEpochMillis(time) })
  },
  ticker: BybitSpotTicker,
  fields: (t, envelope) => ({
    price: t.lastPrice,
    bid: positiveOrNull(t.bid1Price),
    ask: positiveOrNull(t.ask1Price),
    volume: nonNegativeOrNull(t.volume24h),
    quotedAt: envelope.time
  }),
  statusFailure: (status, body) => {
    if (status === 403) {
      return { kind: "rate_limited", reason: "HTTP 403: Bybit bans an IP that exceeds 600 requests per 5 s; wait 10 minutes" }
    }
    const error = jsonError(body)
    return error === undefined || error.code === "0"
      ? undefined
      : { kind: bybitCodeKind(Number(error.code), error.message), reason: `retCode ${error.code}: ${error.message}` }
  }
})

// ---------------------------------------------------------------------------
// Bitstamp
// ---------------------------------------------------------------------------

/**
 * The response of Bitstamp `GET /api/v2/ticker/{market_symbol}/`. Newer
 * versions add `market_type` and, for perpetuals, mark/index prices and open
 * interest: all optional.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BitstampTicker = Schema.Struct({
  ask: opt(OptionalDecimal),
  bid: opt(OptionalDecimal),
  high: opt(Schema.String),
  last: Price,
  low: opt(Schema.String),
  open: opt(Schema.String),
  open_24: opt(Schema.String),
  percent_change_24: opt(Schema.String),
  side: opt(Schema.String),
  /** Epoch seconds, as a string. */
  timestamp: opt(Schema.String),
  /** Last 24 h volume in the base asset. */
  volume: opt(OptionalDecimal),
  vwap: opt(Schema.String),
  pair: opt(Schema.String),
  market_type: opt(Schema.String),
  mark_price: opt(Schema.String),
  index_price: opt(Schema.String),
  open_interest: opt(Schema.String),
  open_interest_value: opt(Schema.String)
}).annotations({ identifier: "BitstampTicker" })

/**
 * Bitstamp. Markets are spelled in lower case (`btcusdt`), one request per
 * symbol. An unknown market is a 404 (`unsupported`).
 *
 * @since 0.1.0
 * @category adapters
 */
export const bitstamp: Adapter = make({
  id: "bitstamp",
  name: "Bitstamp",
  liveBaseUrl: "https://www.bitstamp.net",
  docsUrl: "https://www.bitstamp.net/api/#tag/Tickers/operation/GetMarketTicker",
  // 400 requests per second, and 10,000 per 10 minutes by default:
  // 40 + 600 × 16 = 9,640.
  rate: { perSecond: 16, burst: 40 },
  rateNote: "400 requests per second and a default of 10,000 requests per 10 minutes per client",
  venueSymbol: (symbol) => asCanonical(symbol)?.toLowerCase(),
  canonicalSymbol: (venue) => asCanonical(venue.replace("/", "").toUpperCase()),
  requests: (symbols, venue) =>
    symbols.map((symbol) => ({
      path: `/api/v2/ticker/${encodeURIComponent(venue(symbol))}/`,
      symbols: [symbol],
      weight: 1
    })),
  envelope: (body, symbols, fail) => {
    if (isRecord(body) && body["status"] === "error") {
      return Either.left(fail("error", String(body["reason"] ?? body["code"] ?? "error")))
    }
    return singleEntry(body, symbols, (symbol) => asCanonical(symbol)?.toLowerCase(), fail)
  },
  ticker: BitstampTicker,
  fields: (t) => ({
    price: t.last,
    bid: positiveOrNull(t.bid),
    ask: positiveOrNull(t.ask),
    volume: nonNegativeOrNull(t.volume),
    quotedAt: toEpochMillis(t.timestamp)
  }),
  statusFailure: (status) => status === 404 ? { kind: "unsupported", reason: "market not found (HTTP 404)" } : undefined
})

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

/**
 * The six spot adapters.
 *
 * @since 0.1.0
 * @category adapters
 */
export const all: ReadonlyArray<Adapter> = [binance, coinbase, kraken, okx, bybit, bitstamp]

/**
 * An adapter by id (`okx-swap` included), or `undefined`.
 *
 * @since 0.1.0
 * @category adapters
 */
export const byId = (id: string): Adapter | undefined => [...all, okxSwap].find((adapter) => adapter.id === id)
