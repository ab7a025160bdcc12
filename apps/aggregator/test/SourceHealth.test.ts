import { describe, expect, it } from "@effect/vitest"
import { Metrics } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as SourceHealth from "../src/SourceHealth.js"

// Metrics live in one process-wide registry: every test uses its own source ids.
let counter = 0
const uniqueId = (name: string): string => `${name}-${process.pid}-${++counter}`

const statusOf = (id: string) =>
  Effect.flatMap(SourceHealth.SourceHealth, (health) => health.snapshot).pipe(
    Effect.map((all) => {
      const found = all.find((s) => s.source === id)
      if (found === undefined) throw new Error(`no status for ${id}`)
      return found
    })
  )

const gauge = (id: string) =>
  Effect.map(Metric.value(Metric.tagged(SourceHealth.circuitState, "source", id)), (state) => state.value)

describe("SourceHealth", () => {
  it.effect("counts requests and errors, keeps the last success and error", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.SourceHealth
      const id = uniqueId("binance")
      yield* health.register(id, "exchange")
      expect(yield* statusOf(id)).toEqual({
        source: id,
        kind: "exchange",
        lastSuccessAt: null,
        lastErrorAt: null,
        lastError: null,
        requests: 0,
        errors: 0,
        errorRate: 0,
        latencyMs: { p50: null, p90: null, p99: null },
        circuit: "closed",
        circuitOpenedAt: null
      })
      yield* health.record(id, { ok: true, latencyMs: 10, at: 1000 })
      yield* health.record(id, { ok: false, latencyMs: 2000, error: "GET /api/v3/ticker timed out after 2s", at: 2000 })
      yield* health.record(id, { ok: true, latencyMs: 30, at: 3000 })
      yield* health.record(id, { ok: false, latencyMs: 5, at: 4000 })
      const status = yield* statusOf(id)
      expect(status.requests).toBe(4)
      expect(status.errors).toBe(2)
      expect(status.errorRate).toBe(0.5)
      expect(status.lastSuccessAt).toBe(3000)
      expect(status.lastErrorAt).toBe(4000)
      expect(status.lastError).toBe("the fetch brought no quote")
      expect(status.latencyMs).toEqual({ p50: 10, p90: 2000, p99: 2000 })
    }).pipe(Effect.provide(SourceHealth.layer())))

  it.effect("computes the error rate and percentiles over the last windowSize outcomes only", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.make({ windowSize: 10 })
      const id = uniqueId("kraken")
      yield* health.register(id, "exchange")
      // 20 failures at 1000 ms, then 10 successes with latencies 1..10: the window holds only the successes
      for (let i = 0; i < 20; i++) yield* health.record(id, { ok: false, latencyMs: 1000, error: "503", at: i })
      for (let i = 1; i <= 10; i++) yield* health.record(id, { ok: true, latencyMs: i, at: 100 + i })
      let status = (yield* health.snapshot)[0]
      expect(status?.requests).toBe(30)
      expect(status?.errors).toBe(20)
      expect(status?.errorRate).toBe(0)
      expect(status?.latencyMs).toEqual({ p50: 5, p90: 9, p99: 10 })
      expect(status?.lastError).toBe("503")
      // three more failures push three successes out of the window
      for (let i = 0; i < 3; i++) yield* health.record(id, { ok: false, latencyMs: 50, error: "timeout", at: 200 + i })
      status = (yield* health.snapshot)[0]
      expect(status?.errorRate).toBeCloseTo(0.3, 12)
      // window: 4..10 and 50, 50, 50
      expect(status?.latencyMs).toEqual({ p50: 8, p90: 50, p99: 50 })
    }))

  it.effect("feeds each source's breaker, and the snapshot shows the circuit", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.make({ breaker: { failureThreshold: 3, coolDown: "30 seconds" } })
      const down = uniqueId("okx")
      const up = uniqueId("bybit")
      const breaker = yield* health.register(down, "exchange")
      yield* health.register(up, "json")
      expect(yield* health.circuit(down)).toBe(breaker)
      yield* TestClock.adjust("5 seconds")
      for (let i = 0; i < 3; i++) yield* health.record(down, { ok: false, latencyMs: 1, error: "503", at: 5000 })
      yield* health.record(up, { ok: true, latencyMs: 1, at: 5000 })
      expect(yield* breaker.allow).toBe(false)
      const statuses = yield* health.snapshot
      expect(statuses.map((s) => [s.source, s.kind, s.circuit, s.circuitOpenedAt])).toEqual([
        [down, "exchange", "open", 5000],
        [up, "json", "closed", null]
      ])
      expect(yield* gauge(down)).toBe(2)
      expect(yield* gauge(up)).toBe(0)

      yield* TestClock.adjust("30 seconds")
      expect((yield* health.snapshot)[0]?.circuit).toBe("half_open")
      expect(yield* gauge(down)).toBe(1)
      expect(yield* breaker.allow).toBe(true)
      yield* health.record(down, { ok: true, latencyMs: 1, at: 35_000 })
      const recovered = (yield* health.snapshot)[0]
      expect(recovered?.circuit).toBe("closed")
      expect(recovered?.circuitOpenedAt).toBe(5000)
      expect(yield* gauge(down)).toBe(0)
    }))

  it.effect("registering again returns the same breaker and keeps the history", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.make()
      const id = uniqueId("prices-file")
      const first = yield* health.register(id, "json")
      yield* health.record(id, { ok: true, latencyMs: 3, at: 1 })
      const second = yield* health.register(id, "file")
      expect(second).toBe(first)
      const statuses = yield* health.snapshot
      expect(statuses).toHaveLength(1)
      expect(statuses[0]?.requests).toBe(1)
      expect(statuses[0]?.kind).toBe("file")
    }))

  it.effect("fails with UnknownSource for an id that was never registered", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.make()
      const exit = yield* Effect.exit(health.record("nope", { ok: true, latencyMs: 1, at: 1 }))
      expect(exit).toEqual(Exit.fail(new SourceHealth.UnknownSource({ source: "nope" })))
      const error = yield* Effect.flip(health.circuit("nope"))
      expect(error._tag).toBe("UnknownSource")
      expect(error.message).toContain(`source "nope" is not registered`)
      expect(error.message).toContain("call register")
    }))

  it.effect("publishes request counters, a latency histogram and the circuit gauge as Prometheus text", () =>
    Effect.gen(function*() {
      const health = yield* SourceHealth.make({ breaker: { failureThreshold: 2 } })
      const id = uniqueId("coinbase")
      yield* health.register(id, "exchange")
      yield* health.record(id, { ok: true, latencyMs: 3, at: 1 })
      yield* health.record(id, { ok: true, latencyMs: 5, at: 2 })
      yield* health.record(id, { ok: false, latencyMs: 3000, error: "boom", at: 3 })
      yield* health.record(id, { ok: false, latencyMs: 3000, error: "boom", at: 4 })
      const text = yield* Metrics.prometheus
      const lines = text.split("\n").filter((line) => line.includes(`source="${id}"`))
      expect(lines).toContain(`aggregator_source_requests_total{source="${id}",outcome="success"} 2`)
      expect(lines).toContain(`aggregator_source_requests_total{source="${id}",outcome="failure"} 2`)
      expect(lines).toContain(`aggregator_source_latency_ms_count{source="${id}"} 4`)
      expect(lines).toContain(`aggregator_source_latency_ms_sum{source="${id}"} 6008`)
      expect(lines).toContain(`aggregator_source_latency_ms_bucket{source="${id}",le="4"} 1`)
      expect(lines).toContain(`aggregator_source_circuit_state{source="${id}"} 2`)
      expect(text).toContain("# TYPE aggregator_source_requests_total counter")
      expect(text).toContain("# TYPE aggregator_source_latency_ms histogram")
      expect(text).toContain("# TYPE aggregator_source_circuit_state gauge")
    }))

  it("percentile is nearest-rank", () => {
    expect(SourceHealth.percentile([], 0.5)).toBeNull()
    expect(SourceHealth.percentile([7], 0.99)).toBe(7)
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(SourceHealth.percentile(hundred, 0.5)).toBe(50)
    expect(SourceHealth.percentile(hundred, 0.9)).toBe(90)
    expect(SourceHealth.percentile(hundred, 0.99)).toBe(99)
    expect(SourceHealth.percentile(hundred, 1)).toBe(100)
  })
})
