import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import type { CircuitState } from "../src/Model.js"

const failTimes = (breaker: CircuitBreaker.CircuitBreaker, n: number) =>
  Effect.repeatN(breaker.record(false), n - 1)

describe("CircuitBreaker", () => {
  it.effect("opens after failureThreshold consecutive failures, and a success resets the count", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 5 })
      expect(yield* breaker.allow).toBe(true)
      yield* failTimes(breaker, 4)
      yield* breaker.record(true)
      yield* failTimes(breaker, 4)
      expect((yield* breaker.state).state).toBe("closed")
      expect((yield* breaker.state).consecutiveFailures).toBe(4)
      expect(yield* breaker.allow).toBe(true)

      yield* TestClock.adjust("7 seconds")
      yield* breaker.record(false)
      const opened = yield* breaker.state
      expect(opened).toEqual({
        state: "open",
        openedAt: 7000,
        consecutiveFailures: 5,
        coolDownMs: 30_000,
        probeAt: 37_000
      })
      expect(yield* breaker.allow).toBe(false)
    }))

  it.effect("half-opens after the cool-down and allows one probe at a time", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 2, coolDown: "30 seconds" })
      yield* failTimes(breaker, 2)
      yield* TestClock.adjust("29999 millis")
      expect(yield* breaker.allow).toBe(false)
      expect((yield* breaker.state).state).toBe("open")
      yield* TestClock.adjust("1 millis")
      expect((yield* breaker.state).state).toBe("half_open")
      // many concurrent callers: exactly one gets the probe
      const answers = yield* Effect.all(Array.from({ length: 50 }, () => breaker.allow), { concurrency: 50 })
      expect(answers.filter(Boolean)).toHaveLength(1)
      expect(yield* breaker.allow).toBe(false)
    }))

  it.effect("a successful probe closes the circuit and resets the cool-down", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 1, coolDown: "10 seconds" })
      yield* breaker.record(false)
      yield* TestClock.adjust("10 seconds")
      expect(yield* breaker.allow).toBe(true)
      yield* breaker.record(false) // probe fails: cool-down doubles
      expect((yield* breaker.state).coolDownMs).toBe(20_000)
      yield* TestClock.adjust("20 seconds")
      expect(yield* breaker.allow).toBe(true)
      yield* breaker.record(true)
      expect(yield* breaker.state).toEqual({
        state: "closed",
        openedAt: 10_000,
        consecutiveFailures: 0,
        coolDownMs: 10_000,
        probeAt: null
      })
      expect(yield* breaker.allow).toBe(true)
      expect(yield* breaker.allow).toBe(true)
      // the next opening starts from the base cool-down again
      yield* breaker.record(false)
      expect((yield* breaker.state).probeAt).toBe(30_000 + 10_000)
    }))

  it.effect("a failed probe reopens with an exponentially longer cool-down, capped", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureThreshold: 3,
        coolDown: "30 seconds",
        maxCoolDown: "200 seconds"
      })
      yield* failTimes(breaker, 3)
      const coolDowns: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const { coolDownMs, openedAt, state } = yield* breaker.state
        expect(state).toBe("open")
        coolDowns.push(coolDownMs)
        yield* TestClock.adjust(coolDownMs - 1)
        expect(yield* breaker.allow).toBe(false)
        yield* TestClock.adjust(1)
        expect(yield* breaker.allow).toBe(true)
        yield* breaker.record(false)
        expect((yield* breaker.state).openedAt).toBe((openedAt ?? Number.NaN) + coolDownMs)
      }
      expect(coolDowns).toEqual([30_000, 60_000, 120_000, 200_000, 200_000])
      expect((yield* breaker.state).consecutiveFailures).toBe(8)
    }))

  it.effect("gives up a probe whose outcome is never recorded after probeTimeout", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 1, coolDown: "5 seconds", probeTimeout: "20 seconds" })
      yield* breaker.record(false)
      yield* TestClock.adjust("5 seconds")
      expect(yield* breaker.allow).toBe(true)
      yield* TestClock.adjust("19 seconds")
      expect(yield* breaker.allow).toBe(false)
      yield* TestClock.adjust("1 seconds")
      expect(yield* breaker.allow).toBe(true)
      expect(yield* breaker.allow).toBe(false)
    }))

  it.effect("ignores outcomes recorded while open or half-open without a probe out", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 1, coolDown: "5 seconds" })
      yield* breaker.record(false)
      yield* breaker.record(true)
      expect((yield* breaker.state).state).toBe("open")
      yield* TestClock.adjust("5 seconds")
      // a late outcome of a request from before the circuit opened
      yield* breaker.record(true)
      yield* breaker.record(false)
      expect((yield* breaker.state).state).toBe("half_open")
      expect((yield* breaker.state).openedAt).toBe(0)
      expect(yield* breaker.allow).toBe(true)
    }))

  it.effect("reports every transition to onTransition", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const breaker = yield* CircuitBreaker.make({
        failureThreshold: 2,
        coolDown: "1 second",
        onTransition: (from: CircuitState, to) => Ref.update(seen, (xs) => [...xs, `${from}->${to.state}`])
      })
      yield* failTimes(breaker, 2)
      yield* TestClock.adjust("1 second")
      yield* breaker.allow
      yield* breaker.record(false)
      yield* TestClock.adjust("2 seconds")
      yield* breaker.state
      yield* breaker.allow
      yield* breaker.record(true)
      yield* breaker.record(true)
      expect(yield* Ref.get(seen)).toEqual([
        "closed->open",
        "open->half_open",
        "half_open->open",
        "open->half_open",
        "half_open->closed"
      ])
    }))

  it.effect("counts a threshold below 1 as 1 and keeps maxCoolDown at least coolDown", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureThreshold: 0, coolDown: "10 seconds", maxCoolDown: "1 second" })
      yield* breaker.record(false)
      expect((yield* breaker.state).state).toBe("open")
      yield* TestClock.adjust("10 seconds")
      expect(yield* breaker.allow).toBe(true)
      yield* breaker.record(false)
      expect((yield* breaker.state).coolDownMs).toBe(10_000)
    }))
})
