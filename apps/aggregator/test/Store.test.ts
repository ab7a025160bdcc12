/**
 * `Store` on SQLite and Postgres: round trips of quotes and aggregates
 * (contributions and exclusions included, epoch ms back as numbers), upsert
 * by (symbol, tick), latest, symbols, OHLC history against an independent
 * computation over random series, quote ranges, retention.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { Aggregate, Candle, Quote } from "../src/Model.js"
import * as Store from "../src/Store.js"
import { count, eventually, forEachDialect, openStore, prng } from "./storeHarness.js"

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const T0 = 1_717_000_000_000 // mid-2024: well past 2^31, so bigint handling is exercised

const quote = (over: Partial<Quote> = {}): Quote => ({
  source: "binance",
  symbol: "BTCUSDT",
  price: 67_012.35,
  bid: 67_012.3,
  ask: 67_012.4,
  volume: 12_345.678,
  quotedAt: T0 - 120,
  receivedAt: T0,
  latencyMs: 42.5,
  ...over
})

const aggregate = (over: Partial<Aggregate> = {}): Aggregate => ({
  symbol: "BTCUSDT",
  tick: T0,
  status: "ok",
  price: 67_010,
  mean: 67_011.5,
  vwap: 67_010.75,
  min: 67_000,
  max: 67_025.5,
  spread: 25.5,
  dispersion: 0.00012,
  quorum: 3,
  contributions: [
    { source: "binance", price: 67_010, volume: 1_000.5, ageMs: 120, deviation: 0 },
    { source: "kraken", price: 67_025.5, volume: null, ageMs: 300, deviation: 0.000231 },
    { source: "okx", price: 67_000, volume: 20, ageMs: 0, deviation: -0.000149 }
  ],
  exclusions: [
    { source: "coinbase", reason: "timeout", detail: "GET /products/BTC-USDT/ticker timed out after 2 s", price: null },
    { source: "bybit", reason: "outlier", detail: "5.2 MADs from the median", price: 68_500 }
  ],
  ...over
})

const noQuorum = (tick: number, symbol = "BTCUSDT"): Aggregate =>
  aggregate({
    symbol,
    tick,
    status: "no_quorum",
    price: null,
    mean: null,
    vwap: null,
    min: null,
    max: null,
    spread: null,
    dispersion: null,
    contributions: [],
    exclusions: [{ source: "binance", reason: "error", detail: "HTTP 503 from https://…", price: null }]
  })

const orDie = <A, E extends { readonly message: string }>(effect: Effect.Effect<A, E>): Effect.Effect<A> =>
  Effect.orDieWith(effect, (e) => new Error(e.message))

/** OHLC computed in plain TypeScript from the aggregates as written, for comparison. */
const expectedCandles = (
  aggregates: ReadonlyArray<Aggregate>,
  symbol: string,
  q: Store.HistoryQuery
): Array<Candle> => {
  const latestBySymbolTick = new Map<number, Aggregate>()
  for (const a of aggregates) if (a.symbol === symbol) latestBySymbolTick.set(a.tick, a)
  const ok = [...latestBySymbolTick.values()]
    .filter((a) => a.status === "ok" && a.price !== null && a.tick >= q.from && a.tick < q.to)
    .sort((a, b) => a.tick - b.tick)
  const buckets = new Map<number, Candle>()
  for (const a of ok) {
    const price = a.price as number
    const time = Math.floor(a.tick / q.intervalMs) * q.intervalMs
    const c = buckets.get(time)
    buckets.set(
      time,
      c === undefined
        ? { time, open: price, high: price, low: price, close: price, count: 1 }
        : { time, open: c.open, high: Math.max(c.high, price), low: Math.min(c.low, price), close: price, count: c.count + 1 }
    )
  }
  return [...buckets.values()].sort((a, b) => a.time - b.time)
}

forEachDialect("Store", (h) => {
  it.scopedLive("migrates once: opening the store twice on one database is fine", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const first = yield* openStore(input)
      yield* orDie(first.store.write({ quotes: [quote()], aggregates: [aggregate()] }))
      const second = yield* openStore(input)
      expect(yield* count(second.db, "quotes")).toBe(1)
      expect(yield* count(second.db, "aggregates")).toBe(1)
      expect(yield* count(second.db, "aggregator_migrations")).toBe(1)
      yield* orDie(second.store.ping)
    }))

  it.scopedLive("quotes round-trip, nulls and fractions included, epoch ms as numbers; ranges are half-open", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore(yield* h.fresh)
      const quotes: Array<Quote> = [
        quote(),
        quote({ source: "kraken", bid: null, ask: null, volume: null, receivedAt: T0 + 1, quotedAt: T0 + 1, latencyMs: 0.25 }),
        quote({ source: "binance", receivedAt: T0 + 1_000, price: 67_100.000001 }),
        quote({ symbol: "ETHUSDT", price: 3_500.5 }),
        quote({ source: "okx", receivedAt: T0 + 2_000 })
      ]
      yield* orDie(store.writeQuotes(quotes))
      const all = yield* orDie(store.quotes("BTCUSDT", { from: T0, to: T0 + 2_001 }))
      expect(all).toEqual([quotes[0], quotes[1], quotes[2], quotes[4]])
      expect(typeof all[0]?.receivedAt).toBe("number")
      // `to` is exclusive, `from` inclusive
      expect(yield* orDie(store.quotes("BTCUSDT", { from: T0 + 1, to: T0 + 2_000 }))).toEqual([quotes[1], quotes[2]])
      expect(yield* orDie(store.quotes("BTCUSDT", { from: T0, to: T0 + 3_000, source: "binance" }))).toEqual([quotes[0], quotes[2]])
      expect(yield* orDie(store.quotes("BTCUSDT", { from: T0, to: T0 + 3_000, limit: 2 }))).toEqual([quotes[0], quotes[1]])
      expect(yield* orDie(store.quotes("SOLUSDT", { from: 0, to: T0 * 2 }))).toEqual([])
      // Fractional milliseconds (sources with second-resolution decimals) are rounded, not refused.
      yield* orDie(store.writeQuotes([quote({ symbol: "SOLUSDT", quotedAt: T0 + 0.6, receivedAt: T0 + 10.4 })]))
      const [sol] = yield* orDie(store.quotes("SOLUSDT", { from: 0, to: T0 * 2 }))
      expect(sol?.quotedAt).toBe(T0 + 1)
      expect(sol?.receivedAt).toBe(T0 + 10)
    }))

  it.scopedLive("aggregates round-trip with their contributions and exclusions; latest is the highest tick", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore(yield* h.fresh)
      expect(yield* orDie(store.latest("BTCUSDT"))).toEqual(Option.none())
      const a1 = aggregate({ tick: T0 + 2_000 })
      const a0 = aggregate({ tick: T0, price: 66_000 })
      const eth = aggregate({ symbol: "ETHUSDT", tick: T0 + 5_000, price: 3_500 })
      yield* orDie(store.writeAggregates([a1, a0, eth]))
      expect(yield* orDie(store.latest("BTCUSDT"))).toEqual(Option.some(a1))
      expect(yield* orDie(store.latest("ETHUSDT"))).toEqual(Option.some(eth))
      // A later tick without quorum is the latest: the API shows what happened.
      const nq = noQuorum(T0 + 3_000)
      yield* orDie(store.writeAggregates([nq]))
      const latest = yield* orDie(store.latest("BTCUSDT"))
      expect(latest).toEqual(Option.some(nq))
      expect(Option.getOrThrow(latest).contributions).toEqual([])
    }))

  it.scopedLive("a rewritten tick replaces the row (also twice within one batch); quotes and aggregates commit together", () =>
    Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      yield* orDie(store.write({ quotes: [quote()], aggregates: [aggregate()] }))
      const rewritten = aggregate({ price: 1, exclusions: [], contributions: [{ source: "x", price: 1, volume: null, ageMs: 0, deviation: 0 }] })
      yield* orDie(store.writeAggregates([rewritten]))
      expect(yield* count(db, "aggregates")).toBe(1)
      expect(yield* orDie(store.latest("BTCUSDT"))).toEqual(Option.some(rewritten))
      const last = aggregate({ price: 3 })
      yield* orDie(store.write({ quotes: [quote()], aggregates: [aggregate({ price: 2 }), last] }))
      expect(yield* count(db, "aggregates")).toBe(1)
      expect(yield* orDie(store.latest("BTCUSDT"))).toEqual(Option.some(last))
      expect(yield* count(db, "quotes")).toBe(2)

      // A batch that fails (here: a status the table refuses) writes none of its quotes either.
      const bad = { ...aggregate({ tick: T0 + 1 }), status: "bogus" } as unknown as Aggregate
      const exit = yield* Effect.exit(store.write({ quotes: [quote(), quote()], aggregates: [bad] }))
      expect(exit._tag).toBe("Failure")
      expect(yield* count(db, "quotes")).toBe(2)
      expect(yield* count(db, "aggregates")).toBe(1)
    }))

  it.scopedLive("symbols: every symbol with its latest tick and that tick's price", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore(yield* h.fresh)
      expect(yield* orDie(store.symbols)).toEqual([])
      const aggregates: Array<Aggregate> = []
      for (let i = 0; i < 50; i++) {
        aggregates.push(aggregate({ symbol: "BTCUSDT", tick: T0 + i * 1_000, price: 67_000 + i }))
        aggregates.push(aggregate({ symbol: "ETHUSDT", tick: T0 + i * 1_000, price: 3_500 + i }))
      }
      aggregates.push(aggregate({ symbol: "SOLUSDT", tick: T0 - 7, price: 150.25 }))
      aggregates.push(noQuorum(T0 + 60_000, "ETHUSDT"))
      yield* orDie(store.writeAggregates(aggregates))
      expect(yield* orDie(store.symbols)).toEqual([
        { symbol: "BTCUSDT", lastTick: T0 + 49_000, price: 67_049 },
        { symbol: "ETHUSDT", lastTick: T0 + 60_000, price: null },
        { symbol: "SOLUSDT", lastTick: T0 - 7, price: 150.25 }
      ])
    }))

  it.scopedLive("history: OHLC in SQL equals an independent computation over random series", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore(yield* h.fresh)
      const written: Array<Aggregate> = []
      const seeds = [1, 2, 3, 4, 5, 6]
      for (const seed of seeds) {
        const random = prng(seed)
        const symbol = `S${seed}USDT`
        let tick = T0 + Math.floor(random() * 100_000)
        let price = 100 + random() * 1_000
        const series: Array<Aggregate> = []
        const n = 150 + Math.floor(random() * 150)
        for (let i = 0; i < n; i++) {
          // uneven gaps (some buckets empty), a random walk, some ticks without quorum
          tick += 1 + Math.floor(random() * (random() < 0.1 ? 120_000 : 8_000))
          price = Math.max(0.01, price * (1 + (random() - 0.5) * 0.02))
          series.push(random() < 0.15 ? noQuorum(tick, symbol) : aggregate({ symbol, tick, price }))
        }
        // Rewrite a few ticks (upsert) so the comparison must see the final values.
        for (let k = 0; k < 10; k++) {
          const target = series[Math.floor(random() * series.length)]
          if (target !== undefined) series.push(aggregate({ symbol, tick: target.tick, price: price * (0.9 + random() * 0.2) }))
        }
        // Write in a shuffled order: the result must not depend on insertion order.
        const shuffled = [...series].sort(() => random() - 0.5)
        yield* orDie(store.writeAggregates(shuffled.slice(0, 100)))
        yield* orDie(store.writeAggregates(shuffled.slice(100)))
        // the order within one batch decides which rewrite wins: mirror it
        written.push(...shuffled)
        // a decoy symbol with overlapping ticks must not leak in
        yield* orDie(store.writeAggregates([aggregate({ symbol: `X${seed}USDT`, tick: series[0]?.tick ?? T0, price: 1e9 })]))

        const first = series[0]?.tick ?? T0
        const last = tick
        for (const intervalMs of [1_000, 7_000, 60_000, 3_600_000]) {
          const queries: Array<Store.HistoryQuery> = [
            { from: first, to: last + 1, intervalMs },
            { from: first + Math.floor(random() * (last - first)), to: last - Math.floor(random() * (last - first) / 2), intervalMs },
            { from: 0, to: first, intervalMs }
          ]
          for (const q of queries) {
            const got = yield* orDie(store.history(symbol, q))
            const want = expectedCandles(written, symbol, q)
            expect(got).toEqual(want)
            for (const c of got) expect(typeof c.time).toBe("number")
          }
        }
        const full = yield* orDie(store.history(symbol, { from: first, to: last + 1, intervalMs: 60_000 }))
        expect(full.reduce((s, c) => s + c.count, 0)).toBeGreaterThan(50)
      }
    }))

  it.scopedLive("history refuses an interval that is not a positive whole number of milliseconds", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore(yield* h.fresh)
      for (const intervalMs of [0, -60_000, 1.5, Number.NaN]) {
        const exit = yield* Effect.exit(store.history("BTCUSDT", { from: 0, to: T0, intervalMs }))
        expect(exit._tag).toBe("Failure")
        if (exit._tag === "Failure") expect(String(exit.cause)).toContain("intervalMs must be a positive whole number")
      }
    }))

  it.scopedLive("pruneQuotes deletes exactly the quotes received before the cut-off, in chunks", () =>
    Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      const quotes = Array.from({ length: 25_003 }, (_, i) =>
        quote({ source: `s${i % 5}`, symbol: i % 2 === 0 ? "BTCUSDT" : "ETHUSDT", receivedAt: T0 + i }))
      yield* orDie(store.writeQuotes(quotes))
      expect(yield* orDie(store.pruneQuotes(T0))).toBe(0)
      expect(yield* orDie(store.pruneQuotes(T0 + 22_222))).toBe(22_222)
      expect(yield* count(db, "quotes")).toBe(25_003 - 22_222)
      expect(yield* count(db, `quotes WHERE received_at < ${T0 + 22_222}`)).toBe(0)
      expect(yield* orDie(store.pruneQuotes(T0 + 22_222))).toBe(0)
      expect(yield* orDie(store.pruneQuotes(T0 * 2))).toBe(25_003 - 22_222)
      expect(yield* count(db, "quotes")).toBe(0)
    }))

  it.scoped("retention prunes quotes older than `keep` now, then every `every` (TestClock)", () =>
    Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      const hour = 3_600_000
      // one quote per hour over two days
      yield* orDie(store.writeQuotes(Array.from({ length: 48 }, (_, i) => quote({ receivedAt: i * hour }))))
      yield* TestClock.setTime(48 * hour)
      const fiber = yield* Effect.fork(
        Effect.provideService(Store.retention({ keep: "24 hours", every: "1 hour" }), Store.Store, store)
      )
      // first run immediately: quotes received before hour 24 go
      yield* eventually(count(db, "quotes"), (n) => n === 24)
      yield* TestClock.adjust("59 minutes")
      expect(yield* count(db, "quotes")).toBe(24)
      yield* TestClock.adjust("1 minute")
      yield* eventually(count(db, "quotes"), (n) => n === 23)
      for (const left of [22, 21, 20]) {
        yield* TestClock.adjust("1 hour")
        yield* eventually(count(db, "quotes"), (n) => n === left)
      }
      yield* Fiber.interrupt(fiber)
    }))
})
