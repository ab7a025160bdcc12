/**
 * What the aggregator bench's processes share: the 50 symbols, the 5
 * sources, and synthetic aggregates made with the real `Aggregate.aggregate`
 * for the API server's `Store` and `Live`.
 */
import * as Aggregate from "@fiberkit/aggregator/Aggregate"
import type { Aggregate as AggregateRecord, Observation } from "@fiberkit/aggregator/Model"

/**
 * 50 real coins quoted in USDT. The demo exchanges price any base with a
 * known quote asset (a seeded reference for coins they have no reference
 * for), and every adapter can spell these (Kraken: BTC → XBT, DOGE → XDG).
 */
export const symbols: ReadonlyArray<string> = [
  "BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK",
  "LTC", "BCH", "TRX", "TON", "ATOM", "UNI", "XLM", "ETC", "FIL", "NEAR",
  "APT", "ARB", "OP", "SUI", "SHIB", "PEPE", "ICP", "HBAR", "VET", "ALGO",
  "AAVE", "MKR", "SAND", "MANA", "AXS", "EGLD", "THETA", "XTZ", "EOS", "FLOW",
  "CHZ", "GRT", "CRV", "SNX", "COMP", "LDO", "RUNE", "INJ", "SEI", "TIA"
].map((base) => `${base}USDT`)

/** Five of the six demo exchanges; Bitstamp is left out (the issue asks for five). */
export const sources: ReadonlyArray<"binance" | "coinbase" | "kraken" | "okx" | "bybit"> = [
  "binance",
  "coinbase",
  "kraken",
  "okx",
  "bybit"
]

/** A deterministic number in [0, 1) from integers (for prices that differ per source and tick). */
const unit = (...parts: ReadonlyArray<number>): number => {
  let h = 2166136261
  for (const p of parts) {
    h ^= p
    h = Math.imul(h, 16777619) >>> 0
  }
  return (h % 1_000_003) / 1_000_003
}

/** The aggregates of every symbol at `tick`: five sources around a per-symbol reference. */
export const aggregatesAt = (tick: number): ReadonlyArray<AggregateRecord> =>
  symbols.map((symbol, s) => {
    const reference = 60_000 / (s + 1) ** 2
    const observations: Array<Observation> = sources.map((source, i) => {
      // The last source is 3 % off on every other symbol (BTCUSDT included): an outlier exclusion in the body.
      const off = i === sources.length - 1 && s % 2 === 0 ? 1.03 : 1
      const price = reference * off * (1 + (unit(s, i, tick) - 0.5) * 0.001)
      return {
        _tag: "Quote",
        quote: {
          source,
          symbol,
          price,
          bid: price * 0.9999,
          ask: price * 1.0001,
          volume: 1000 + unit(i, s) * 5000,
          quotedAt: tick - 40,
          receivedAt: tick + 50,
          latencyMs: 50 + i
        }
      }
    })
    return Aggregate.aggregate(symbol, tick, observations)
  })
