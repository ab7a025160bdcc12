/**
 * The simulated market behind the demo exchanges: one seeded random walk per
 * symbol (the "true" price every exchange shares), and each exchange's view
 * of it — a constant small offset, per-step noise, its own spread, volume
 * and trade counters — so that aggregating several exchanges gives a real
 * dispersion and a median close to the walk.
 *
 * Everything is a pure function of (seed, exchange, symbol, step), where the
 * step is `floor((time - startedAt) / stepMs)`: the same seed gives the same
 * prices however often and in whatever order they are asked for, and a quote
 * "as of" an earlier time (a stale quote) is simply the quote at that time.
 *
 * @internal
 */
import { splitSymbol } from "../Model.js"
import { gaussian, hash, hashString, unit } from "./demoRandom.js"

/** Reference prices in USD of the base assets the demo knows; others get a seeded one. */
const usdReference: Readonly<Record<string, number>> = {
  BTC: 67_000,
  ETH: 3_500,
  SOL: 150,
  BNB: 580,
  XRP: 0.52,
  ADA: 0.45,
  DOGE: 0.12,
  AVAX: 35,
  DOT: 7,
  LINK: 14,
  LTC: 80,
  BCH: 450,
  TRX: 0.12,
  TON: 6.5,
  ATOM: 8.5,
  UNI: 7.5,
  XLM: 0.1,
  ETC: 25,
  FIL: 5.5,
  NEAR: 5.5,
  APT: 8.5,
  ARB: 1,
  OP: 2.2,
  SUI: 1.1,
  SHIB: 0.000018,
  PEPE: 0.000011
}

/** Units of the quote asset per US dollar. */
const quotePerUsd = (quote: string): number | undefined => {
  switch (quote) {
    case "USDT":
    case "USDC":
    case "USD":
    case "FDUSD":
    case "TUSD":
    case "BUSD":
    case "DAI":
      return 1
    case "EUR":
      return 0.92
    case "GBP":
      return 0.79
    case "JPY":
      return 155
    case "BTC":
      return 1 / 67_000
    case "ETH":
      return 1 / 3_500
    default:
      return undefined
  }
}

/** 24 h traded value in USD across the market, by base asset; others get a seeded one. */
const usdVolume: Readonly<Record<string, number>> = {
  BTC: 1.5e9,
  ETH: 8e8,
  SOL: 3e8
}

/** Each exchange's share of the market volume (roughly their real ranking). */
const venueShare: Readonly<Record<string, number>> = {
  binance: 1,
  okx: 0.45,
  bybit: 0.4,
  coinbase: 0.3,
  kraken: 0.12,
  bitstamp: 0.05
}

/**
 * The reference price of a canonical symbol (`BTCUSDT` → 67 000), or
 * `undefined` when its quote asset is not one the demo knows.
 */
export const referencePrice = (symbol: string): number | undefined => {
  const split = splitSymbol(symbol)
  if (split === undefined) return undefined
  const [base, quote] = split
  const perUsd = quotePerUsd(quote)
  if (perUsd === undefined) return undefined
  // Unknown bases get a log-uniform price between 0.01 and 500 USD, stable per name.
  const usd = usdReference[base] ?? Math.exp(Math.log(0.01) + unit(hashString(base)) * Math.log(50_000))
  return usd * perUsd
}

/** Price decimals for a symbol: 2 for prices ≥ 100, more for cheaper assets, at most 8. */
export const decimalsOf = (reference: number): number =>
  Math.min(8, Math.max(2, 4 - Math.floor(Math.log10(reference))))

/** Rounds `value` to `decimals` places (as a number). */
export const roundTo = (value: number, decimals: number): number => {
  const factor = 10 ** decimals
  return Math.round(value * factor) / factor
}

/** Steps between two stored walk values, so that any past step is at most this far from one. */
const CHECKPOINT = 1024
/** Pull of the walk back to its reference, per step: weak enough to look free, strong enough to stay bounded. */
const REVERSION = 1e-5

/** The shared random walk of one symbol, in log price, with checkpoints for random access. */
class Walk {
  private readonly logReference: number
  private readonly checkpoints: Array<number>
  private lastStep = 0
  private lastLog: number

  constructor(
    private readonly seed: number,
    private readonly key: number,
    private readonly reference: number,
    private readonly volatility: number
  ) {
    this.logReference = Math.log(reference)
    this.checkpoints = [this.logReference]
    this.lastLog = this.logReference
  }

  /** The walk's price at `step` (steps before 0 are the reference). */
  at(step: number): number {
    // Step 0 is the reference itself, not exp(log(reference)) one ulp away.
    return step < 1 ? this.reference : Math.exp(this.logAt(Math.floor(step)))
  }

  /** The stored value at or before `step`: O(1), for figures that need no step precision (24 h open). */
  coarse(step: number): number {
    const index = Math.min(Math.floor(Math.max(0, step) / CHECKPOINT), this.checkpoints.length - 1)
    return Math.exp(this.checkpoints[index] ?? this.logReference)
  }

  private logAt(step: number): number {
    if (step === this.lastStep) return this.lastLog
    let from: number
    let value: number
    const checkpoint = Math.min(Math.floor(step / CHECKPOINT), this.checkpoints.length - 1)
    const checkpointStep = checkpoint * CHECKPOINT
    if (step > this.lastStep && this.lastStep >= checkpointStep) {
      from = this.lastStep
      value = this.lastLog
    } else {
      from = checkpointStep
      value = this.checkpoints[checkpoint] ?? this.logReference
    }
    for (let k = from + 1; k <= step; k++) {
      const z = gaussian(hash(this.seed, this.key, k, 1), hash(this.seed, this.key, k, 2))
      value = value + this.volatility * z - REVERSION * (value - this.logReference)
      if (k % CHECKPOINT === 0 && k / CHECKPOINT === this.checkpoints.length) this.checkpoints.push(value)
    }
    if (step >= this.lastStep) {
      this.lastStep = step
      this.lastLog = value
    }
    return value
  }
}

/** One exchange's ticker for one symbol at one moment, as numbers (prices on the symbol's tick). */
export interface Tick {
  readonly symbol: string
  readonly base: string
  readonly quote: string
  readonly decimals: number
  readonly last: number
  readonly bid: number
  readonly ask: number
  readonly bidSize: number
  readonly askSize: number
  readonly lastSize: number
  readonly open24h: number
  readonly openToday: number
  readonly high24h: number
  readonly low24h: number
  /** Base-asset volume over the last 24 h and since 00:00 UTC. */
  readonly volume24h: number
  readonly volumeToday: number
  readonly quoteVolume24h: number
  readonly vwap24h: number
  readonly vwapToday: number
  readonly trades24h: number
  readonly tradesToday: number
  readonly firstTradeId: number
  readonly lastTradeId: number
  /** Side of the last trade: 0 buy, 1 sell. */
  readonly side: 0 | 1
  /** When this ticker was true (epoch ms): the exchange's own timestamp for it. */
  readonly at: number
}

/** How the market moves. */
export interface MarketConfig {
  readonly seed: number
  /** Milliseconds per walk step. */
  readonly stepMs: number
  /** Standard deviation of one step's relative move. */
  readonly volatility: number
  /** Epoch ms of step 0. */
  readonly startedAt: number
}

const DAY_MS = 86_400_000

/** Standard deviation of an exchange's per-step noise around the walk, in basis points. */
const NOISE_BPS = 2.5
/** Largest constant offset of an exchange from the walk, in basis points. */
const OFFSET_BPS = 6

/** The simulated market: the shared walks and every exchange's view of them. */
export class Market {
  private readonly walks = new Map<string, Walk>()

  constructor(readonly config: MarketConfig) {}

  /** The step a time falls in (times before the start fall in step 0). */
  stepOf(at: number): number {
    return Math.max(0, Math.floor((at - this.config.startedAt) / this.config.stepMs))
  }

  /** The shared price of `symbol` at `at`, or `undefined` for a symbol the demo cannot price. */
  mid(symbol: string, at: number): number | undefined {
    return this.walk(symbol)?.at(this.stepOf(at))
  }

  /**
   * `exchange`'s ticker for `symbol` as of `at`. `outlier` multiplies the
   * traded price (a glitching venue); `undefined` for an unpriceable symbol.
   */
  tick(exchange: string, symbol: string, at: number, outlier: number = 1): Tick | undefined {
    const walk = this.walk(symbol)
    const split = splitSymbol(symbol)
    const reference = referencePrice(symbol)
    if (walk === undefined || split === undefined || reference === undefined) return undefined
    const seed = this.config.seed
    const ex = hashString(exchange)
    const sym = hashString(symbol)
    const step = this.stepOf(at)
    const hour = Math.floor(at / 3_600_000)
    const decimals = decimalsOf(reference)
    const tickSize = 10 ** -decimals
    const mid = walk.at(step)

    const offsetBps = (unit(hash(seed, ex, sym, 11)) * 2 - 1) * OFFSET_BPS
    const noiseBps = gaussian(hash(seed, ex, sym, step, 12), hash(seed, ex, sym, step, 13)) * NOISE_BPS
    const last = Math.max(tickSize, roundTo(mid * (1 + (offsetBps + noiseBps) / 10_000) * outlier, decimals))
    const halfSpread = (0.3 + unit(hash(seed, ex, sym, 14)) * 1.5) / 10_000
    const bid = Math.max(tickSize, Math.floor((last * (1 - halfSpread)) / tickSize) * tickSize)
    let ask = Math.ceil((last * (1 + halfSpread)) / tickSize) * tickSize
    if (ask <= bid) ask = bid + tickSize

    const stepsPerDay = DAY_MS / this.config.stepMs
    const open24h = roundTo(walk.coarse(step - stepsPerDay), decimals)
    const dayStart = Math.floor(at / DAY_MS) * DAY_MS
    const openToday = roundTo(walk.coarse(this.stepOf(dayStart)), decimals)
    const swing = 0.002 + unit(hash(seed, ex, sym, hour, 15)) * 0.01
    const high24h = roundTo(Math.max(open24h, last) * (1 + swing), decimals)
    const low24h = roundTo(Math.min(open24h, last) * (1 - swing * (0.5 + unit(hash(seed, ex, sym, hour, 16)))), decimals)

    const [base, quote] = split
    const marketUsd = usdVolume[base] ?? 2e6 + unit(hashString(base) ^ 0x5bd1e995) * 5e7
    const share = venueShare[exchange] ?? 0.2
    const usdPerQuote = 1 / (quotePerUsd(quote) ?? 1)
    const quoteVolume24h = (marketUsd * share * (0.8 + 0.4 * unit(hash(seed, ex, sym, hour, 17)))) / usdPerQuote
    const volume24h = quoteVolume24h / mid
    const dayFraction = Math.max(0.02, (at - dayStart) / DAY_MS)
    const volumeToday = volume24h * dayFraction
    const vwap24h = roundTo((open24h + last) / 2, decimals)
    const vwapToday = roundTo((openToday + last) / 2, decimals)

    const tradeUsd = 400 + unit(hash(seed, ex, sym, 18)) * 1_600
    const trades24h = Math.max(1, Math.round((quoteVolume24h * usdPerQuote) / tradeUsd))
    const tradesToday = Math.max(1, Math.round(trades24h * dayFraction))
    const lastTradeId = 100_000_000 + (hash(seed, ex, sym, 19) % 50_000_000) + step * 17 +
      (hash(seed, ex, sym, step, 20) % 17)
    const firstTradeId = Math.max(1, lastTradeId - trades24h + 1)
    const sizeUsd = () => 50 + unit(hash(seed, ex, sym, step, 21)) * 20_000

    return {
      symbol,
      base,
      quote,
      decimals,
      last,
      bid: roundTo(bid, decimals),
      ask: roundTo(ask, decimals),
      bidSize: (sizeUsd() * 1.7) / usdPerQuote / mid,
      askSize: (sizeUsd() * 1.3) / usdPerQuote / mid,
      lastSize: sizeUsd() / usdPerQuote / mid,
      open24h,
      openToday,
      high24h,
      low24h,
      volume24h,
      volumeToday,
      quoteVolume24h,
      vwap24h,
      vwapToday,
      trades24h,
      tradesToday,
      firstTradeId,
      lastTradeId,
      side: (hash(seed, ex, sym, step, 22) & 1) === 0 ? 0 : 1,
      at
    }
  }

  private walk(symbol: string): Walk | undefined {
    let walk = this.walks.get(symbol)
    if (walk === undefined) {
      const reference = referencePrice(symbol)
      if (reference === undefined) return undefined
      walk = new Walk(this.config.seed, hashString(symbol), reference, this.config.volatility)
      this.walks.set(symbol, walk)
    }
    return walk
  }
}
