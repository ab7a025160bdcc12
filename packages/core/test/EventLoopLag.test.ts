import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as EventLoopLag from "../src/EventLoopLag.js"
import * as internal from "../src/internal/eventLoopLag.js"

interface Captured {
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps warnings (and nothing else) for the test to inspect. */
const captureWarnings = () => {
  const warnings: Array<Captured> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    if (!LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) return
    warnings.push({
      message: Array.isArray(message) ? message.join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { warnings, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Holds the thread (and so the event loop) for `ms`; returns how long it really held it. */
const blockFor = (ms: number): number => {
  const start = performance.now()
  while (performance.now() - start < ms) {
    // busy: nothing else can run
  }
  return performance.now() - start
}

/**
 * Polls `done` every few ms of real time (a live clock even under a
 * TestClock) and dies if it is still false after `timeoutMs`.
 */
const waitUntil = (done: Effect.Effect<boolean> | (() => boolean), timeoutMs: number, what: string) =>
  Effect.gen(function*() {
    const deadline = performance.now() + timeoutMs
    const check = Effect.isEffect(done) ? done : Effect.sync(done)
    while (!(yield* check)) {
      if (performance.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("5 millis")
    }
  }).pipe(Effect.withClock(Clock.make()))

/** Samples in the histogram above `boundary` ms (bucket counts are cumulative). */
const samplesAbove = (state: MetricState.MetricState.Histogram, boundary: number): number => {
  const bucket = state.buckets.find(([b]) => b === boundary)
  if (bucket === undefined) throw new Error(`no bucket at ${boundary}`)
  return state.count - bucket[1]
}

const blockedCount = Effect.map(Metric.value(EventLoopLag.blocked), (state) => state.count)

describe("EventLoopLag", () => {
  it.live("a synchronous block shows in the histogram, the counter and a warning saying how long", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const histogramBefore = yield* Metric.value(EventLoopLag.lagMs)
      const blockedBefore = yield* blockedCount
      const started = performance.now()
      yield* EventLoopLag.monitor({ thresholdMs: 100, intervalMs: 50 })
      const blockedFor = blockFor(400)
      yield* waitUntil(() => warnings.length > 0, 5_000, "a warning")
      const observedWithin = performance.now() - started

      const warning = warnings[0]
      expect(warnings).toHaveLength(1)
      const lag = Number(warning?.annotations["eventLoopLagMs"])
      // The block cannot be measured shorter than itself minus one interval,
      // nor longer than the time between starting the monitor and the warning.
      expect(lag).toBeGreaterThanOrEqual(blockedFor - 50)
      expect(lag).toBeLessThanOrEqual(observedWithin)
      expect(warning?.message).toContain(`Event loop blocked for at least ${lag} ms`)
      expect(warning?.annotations).toMatchObject({ thresholdMs: 100, suppressedBlocks: 0, module: "EventLoopLag" })

      const histogramAfter = yield* Metric.value(EventLoopLag.lagMs)
      expect(samplesAbove(histogramAfter, 250) - samplesAbove(histogramBefore, 250)).toBeGreaterThanOrEqual(1)
      expect(histogramAfter.max).toBeGreaterThanOrEqual(blockedFor - 50)
      expect((yield* blockedCount) - blockedBefore).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.live("nothing blocking: samples are taken and nothing is logged", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const before = yield* Metric.value(EventLoopLag.lagMs)
      yield* EventLoopLag.monitor({ thresholdMs: 100, intervalMs: 20 })
      yield* Effect.sleep("400 millis")
      const after = yield* Metric.value(EventLoopLag.lagMs)
      expect(after.count - before.count).toBeGreaterThanOrEqual(1)
      expect(samplesAbove(after, 100) - samplesAbove(before, 100)).toBe(0)
      expect(warnings).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.live("warnings are rate-limited: three blocks in a row log one warning and count three", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const blockedBefore = yield* blockedCount
      yield* EventLoopLag.monitor({ thresholdMs: 100, intervalMs: 20, warnEveryMs: 60_000 })
      for (let i = 1; i <= 3; i++) {
        blockFor(200)
        yield* waitUntil(
          Effect.map(blockedCount, (n) => n - blockedBefore >= i),
          5_000,
          `block ${i} to be counted`
        )
      }
      expect(warnings).toHaveLength(1)
      expect((yield* blockedCount) - blockedBefore).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("measures real time under a TestClock", () => {
    const { layer, warnings } = captureWarnings()
    return Effect.gen(function*() {
      yield* EventLoopLag.monitor({ thresholdMs: 100, intervalMs: 50 })
      const blockedFor = blockFor(300)
      yield* waitUntil(() => warnings.length > 0, 5_000, "a warning")
      expect(Number(warnings[0]?.annotations["eventLoopLagMs"])).toBeGreaterThanOrEqual(blockedFor - 50)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("an invalid setting is a defect naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(EventLoopLag.monitor({ intervalMs: 0 })))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isSuccess(exit)) return
      const defect = Option.getOrUndefined(Cause.dieOption(exit.cause))
      expect(defect).toBeInstanceOf(RangeError)
      expect(String(defect)).toContain("intervalMs must be a positive number")
    }))

  describe("Reporter (which blocks are logged)", () => {
    it("ignores samples at or under the threshold", () => {
      const reporter = new internal.Reporter(100, 1_000)
      expect(reporter.observe(0, 0)).toBeUndefined()
      expect(reporter.observe(100, 10)).toBeUndefined()
      expect(reporter.observe(100.5, 20)).toEqual({ lagMs: 100.5, suppressed: 0, worstSuppressedMs: 0 })
    })

    it("logs the first block, then at most one per period, reporting the blocks in between", () => {
      const reporter = new internal.Reporter(100, 1_000)
      expect(reporter.observe(300, 0)).toEqual({ lagMs: 300, suppressed: 0, worstSuppressedMs: 0 })
      expect(reporter.observe(150, 200)).toBeUndefined()
      expect(reporter.observe(20, 300)).toBeUndefined()
      expect(reporter.observe(700, 400)).toBeUndefined()
      expect(reporter.observe(120, 999)).toBeUndefined()
      expect(reporter.observe(130, 1_000)).toEqual({ lagMs: 130, suppressed: 3, worstSuppressedMs: 700 })
      expect(reporter.observe(140, 1_500)).toBeUndefined()
      expect(reporter.observe(110, 2_000)).toEqual({ lagMs: 110, suppressed: 1, worstSuppressedMs: 140 })
    })

    it("with a period of 0 logs every block", () => {
      const reporter = new internal.Reporter(100, 0)
      expect(reporter.observe(200, 0)).toBeDefined()
      expect(reporter.observe(200, 0)).toBeDefined()
    })
  })

  it("the warning says how long, the threshold, what was left out and what to do", () => {
    const message = internal.warningMessage(
      { lagMs: 312.345, suppressed: 2, worstSuppressedMs: 540 },
      { thresholdMs: 100, intervalMs: 50, warnEveryMs: 10_000 }
    )
    expect(message).toContain("blocked for at least 312.3 ms")
    expect(message).toContain("threshold 100 ms")
    expect(message).toContain("2 more block(s) since the last warning, the worst 540 ms")
    expect(message).toContain("WorkerPool")
  })
})
