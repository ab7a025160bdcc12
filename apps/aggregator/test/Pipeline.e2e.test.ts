/**
 * The pipeline end to end against the simulated exchanges on loopback:
 * ticks aggregate all six sources; a stalled source never pushes a tick past
 * its deadline and is excluded as `timeout`; a failing source is excluded
 * with its reason; 429 + Retry-After is respected (server timestamps); the
 * circuit opens, stops the requests, probes after its cool-down and closes;
 * aggregates reach the database through the writer; `first` returns the
 * first valid quote and cancels the others.
 */
import { expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BufferedWriter from "../src/BufferedWriter.js"
import * as DemoExchanges from "../src/DemoExchanges.js"
import * as Exchanges from "../src/Exchanges.js"
import * as Live from "../src/Live.js"
import type { Aggregate } from "../src/Model.js"
import * as Pipeline from "../src/Pipeline.js"
import * as Source from "../src/Source.js"
import * as SourceHealth from "../src/SourceHealth.js"
import * as Store from "../src/Store.js"

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"] as const

const tempDb = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agg-pipeline-"))
  return Path.join(dir, "agg.db")
}

const services = (filename: string, breaker: { failureThreshold: number; coolDown: number }) =>
  Layer.mergeAll(
    BufferedWriter.layer({ linger: "20 millis" }),
    SourceHealth.layer({ breaker: { ...breaker, backoffFactor: 1 } }),
    Live.layer
  ).pipe(Layer.provideMerge(Store.layer), Layer.provideMerge(Db.layerWith({ app: "aggregator", filename })))

/** The six simulated exchanges (no random faults, 10-30 ms latency) and a source per exchange. */
const setup = (options: { readonly timeoutMs?: number; readonly retries?: number } = {}) =>
  Effect.gen(function*() {
    const demo = yield* DemoExchanges.make({ symbols: SYMBOLS, faults: DemoExchanges.noFaults, latencyMs: { min: 10, max: 30 } })
    const sources = yield* Effect.forEach(demo.exchanges, (exchange) => {
      const adapter = Exchanges.byId(exchange.id)
      if (adapter === undefined) return Effect.die(`no adapter for ${exchange.id}`)
      return Source.exchange(adapter, {
        baseUrl: exchange.baseUrl,
        timeout: options.timeoutMs ?? 2000,
        retries: options.retries ?? 2,
        // The simulated exchanges don't limit; keep the tests fast.
        rate: { perSecond: 1000, burst: 1000 }
      })
    })
    return { demo, sources }
  })

const byId = (demo: DemoExchanges.Service, id: DemoExchanges.ExchangeId) =>
  Effect.orDie(demo.get(id))

const excluded = (aggregates: ReadonlyArray<Aggregate>, source: string) =>
  aggregates.map((a) => a.exclusions.find((e) => e.source === source)?.reason ?? "contributed")

const waitTicks = (running: Pipeline.Running, n: number) =>
  Effect.gen(function*() {
    let last: ReadonlyArray<Aggregate> = []
    for (let i = 0; i < n; i++) last = yield* running.nextTick
    return last
  })

const withPipeline = <A, E, R>(
  breaker: { failureThreshold: number; coolDown: number },
  body: (db: string) => Effect.Effect<A, E, R>
) => {
  const db = tempDb()
  return body(db).pipe(Effect.provide(services(db, breaker)))
}

it.scopedLive("every tick aggregates all six sources, and the aggregates reach the database", () =>
  withPipeline({ failureThreshold: 3, coolDown: 60_000 }, () =>
    Effect.gen(function*() {
      const { demo, sources } = yield* setup()
      const running = yield* Pipeline.run({ symbols: SYMBOLS, sources: sources.map((source) => ({ source })), intervalMs: 200 })
      const aggregates = yield* waitTicks(running, 3)
      expect(aggregates.map((a) => a.symbol)).toEqual([...SYMBOLS])
      for (const a of aggregates) {
        expect(a.status).toBe("ok")
        expect(a.contributions.map((c) => c.source).sort()).toEqual([...demo.exchanges.map((e) => e.id)].sort())
        const truth = yield* demo.truth(a.symbol)
        // The simulated venues stay within 0.2 % of the shared price; the median lands inside that.
        expect(Math.abs((a.price ?? 0) - (truth ?? 0)) / (truth ?? 1)).toBeLessThan(0.002)
      }
      const writer = yield* BufferedWriter.BufferedWriter
      yield* writer.flush
      const store = yield* Store.Store
      const latest = yield* store.latest("BTCUSDT")
      expect(Option.isSome(latest)).toBe(true)
      const stats = yield* running.stats
      expect(stats.ticks).toBeGreaterThanOrEqual(3)
      expect(stats.quotes).toBeGreaterThanOrEqual(6 * 3)
    })), { timeout: 30_000 })

it.scopedLive("a stalled source never pushes a tick past its deadline; it is excluded as timeout", () =>
  withPipeline({ failureThreshold: 100, coolDown: 60_000 }, () =>
    Effect.gen(function*() {
      const { demo, sources } = yield* setup({ timeoutMs: 5000, retries: 0 })
      yield* (yield* byId(demo, "kraken")).force("stall")
      const running = yield* Pipeline.run({
        symbols: SYMBOLS,
        sources: sources.map((source) => ({ source })),
        intervalMs: 400,
        deadlineMs: 250
      })
      const aggregates = yield* waitTicks(running, 3)
      expect(excluded(aggregates, "kraken")).toEqual(["timeout", "timeout", "timeout"])
      expect(aggregates.every((a) => a.status === "ok" && a.contributions.length === 5)).toBe(true)
      const stats = yield* running.stats
      // Cut at the deadline (timer slack allowed), far below the source's own 5 s timeout.
      expect(stats.lastTickDurationMs).toBeGreaterThanOrEqual(240)
      expect(stats.lastTickDurationMs).toBeLessThan(400)
      const reason = aggregates[0]?.exclusions.find((e) => e.source === "kraken")?.detail
      expect(reason).toContain("deadline")
    })), { timeout: 30_000 })

it.scopedLive("a failing source is excluded with its reason; 429 with Retry-After is respected", () =>
  withPipeline({ failureThreshold: 100, coolDown: 60_000 }, () =>
    Effect.gen(function*() {
      const { demo, sources } = yield* setup({ retries: 0 })
      yield* (yield* byId(demo, "bitstamp")).force(503)
      const coinbase = yield* byId(demo, "coinbase")
      yield* coinbase.force({ status: 429, retryAfter: 1 }, { times: 1 })
      const running = yield* Pipeline.run({
        symbols: SYMBOLS,
        sources: sources.map((source) => ({ source })),
        intervalMs: 300,
        deadlineMs: 250
      })
      const first = yield* running.nextTick
      expect(excluded(first, "bitstamp")).toEqual(["error", "error", "error"])
      expect(first[0]?.exclusions.find((e) => e.source === "bitstamp")?.detail).toContain("503")
      // Coinbase's first request was answered 429 with Retry-After: 1 and retries are off, so
      // the symbol of that request is rate_limited; no request follows it within the second.
      expect(excluded(first, "coinbase")).toContain("rate_limited")
      yield* waitTicks(running, 4)
      const log = yield* coinbase.requests
      const limited = log.find((r) => r.status === 429)
      expect(limited).toBeDefined()
      // Requests already on their way when the 429 was answered don't count; none may start after it within Retry-After.
      const after = log.filter((r) => r.arrivedAt > (limited?.completedAt ?? 0))
      expect(after.length).toBeGreaterThan(0)
      expect(Math.min(...after.map((r) => r.arrivedAt)) - (limited?.completedAt ?? 0)).toBeGreaterThanOrEqual(990)
    })), { timeout: 30_000 })

it.scopedLive("the circuit opens after repeated failures, stops the requests, probes after the cool-down and closes", () =>
  withPipeline({ failureThreshold: 3, coolDown: 1000 }, () =>
    Effect.gen(function*() {
      const { demo, sources } = yield* setup({ retries: 0 })
      const okx = yield* byId(demo, "okx")
      yield* okx.force(503)
      const running = yield* Pipeline.run({
        symbols: ["BTCUSDT"],
        sources: sources.map((source) => ({ source })),
        intervalMs: 150,
        deadlineMs: 120
      })
      const health = yield* SourceHealth.SourceHealth
      // Three failed fetches open it; the next ticks do not ask okx at all.
      const reasons: Array<string> = []
      for (let i = 0; i < 6; i++) reasons.push(...excluded(yield* running.nextTick, "okx"))
      expect(reasons.slice(0, 3)).toEqual(["error", "error", "error"])
      expect(reasons.slice(3)).toEqual(["circuit_open", "circuit_open", "circuit_open"])
      const status = (yield* health.snapshot).find((s) => s.source === "okx")
      expect(status?.circuit).toBe("open")
      const requestsWhileOpen = (yield* okx.requests).length
      // The exchange recovers; after the cool-down one probe succeeds and closes the circuit.
      yield* okx.clearFault
      let closed = false
      for (let i = 0; i < 20 && !closed; i++) {
        const aggregates = yield* running.nextTick
        closed = excluded(aggregates, "okx")[0] === "contributed"
      }
      expect(closed).toBe(true)
      expect((yield* health.snapshot).find((s) => s.source === "okx")?.circuit).toBe("closed")
      // Open for about the cool-down: at most one request (the probe) went out before it closed.
      expect((yield* okx.requests).length - requestsWhileOpen).toBeLessThanOrEqual(2)
    })), { timeout: 30_000 })

it.scopedLive("first: the first valid quote wins and the slower requests are cancelled", () =>
  Effect.gen(function*() {
    const { demo, sources } = yield* setup({ retries: 0 })
    // Everyone slow but bybit; one exchange failing.
    for (const e of demo.exchanges) {
      if (e.id !== "bybit") yield* e.setLatency({ min: 800, max: 800 })
    }
    yield* (yield* byId(demo, "binance")).force(503)
    const started = Date.now()
    const quote = yield* Pipeline.first(sources, "ETHUSDT", { timeoutMs: 3000 })
    const elapsed = Date.now() - started
    expect(quote.source).toBe("bybit")
    expect(elapsed).toBeLessThan(700)
    // The cancelled requests were aborted by the client: the slow servers saw them go away.
    yield* Effect.sleep("900 millis")
    const kraken = yield* (yield* byId(demo, "kraken")).requests
    expect(kraken.some((r) => r.outcome === "aborted")).toBe(true)
  }).pipe(Effect.provide(SourceHealth.layer())), { timeout: 30_000 })

it.scopedLive("first fails with every source's reason when none answers", () =>
  Effect.gen(function*() {
    const { demo, sources } = yield* setup({ retries: 0 })
    for (const e of demo.exchanges) yield* e.force(503)
    const error = yield* Effect.flip(Pipeline.first(sources, "BTCUSDT", { timeoutMs: 2000 }))
    expect(error._tag).toBe("NoAnswer")
    expect(error.failures.map((f) => f.source).sort()).toEqual([...demo.exchanges.map((e) => e.id)].sort())
    expect(error.message).toContain("no source quoted BTCUSDT")
  }), { timeout: 30_000 })

