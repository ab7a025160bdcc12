/**
 * Durations come from the TestClock, so the histogram and the log line are
 * asserted to the millisecond. Each test uses its own name (the histogram
 * is global).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Timed from "../src/Timed.js"

interface Logged {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
  readonly cause: Cause.Cause<unknown>
}

/** A logger that keeps every entry. */
const recorder = () => {
  const logged: Array<Logged> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, logLevel, message }) => {
      logged.push({ level: logLevel.label, message, annotations: Object.fromEntries(HashMap.toEntries(annotations)), cause })
    })
  )
  return { logged, layer }
}

/** The `timed_duration_ms` series of `name` and `outcome`, if recorded. */
const series = (name: string, outcome: Timed.Outcome) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const pair = pairs.find((pair) =>
      pair.metricKey.name === "timed_duration_ms" &&
      pair.metricKey.tags.some((tag) => tag.key === "name" && tag.value === name) &&
      pair.metricKey.tags.some((tag) => tag.key === "outcome" && tag.value === outcome)
    )
    const state = pair?.metricState
    return MetricState.isHistogramState(state) ? state : undefined
  })

describe("Timed.timed", () => {
  it.effect("records the duration of a success in the histogram and logs it", () =>
    Effect.gen(function*() {
      const { layer, logged } = recorder()
      const fiber = yield* Effect.fork(
        Effect.sleep("1500 millis").pipe(Effect.as(42), Timed.timed("t1-job"), Effect.provide(layer))
      )
      yield* TestClock.adjust("1500 millis")
      expect(yield* Fiber.join(fiber)).toBe(42)

      const state = yield* series("t1-job", "success")
      expect(state?.count).toBe(1)
      expect(state?.sum).toBe(1500)
      // 1500 ms lands in the (1024, 2048] bucket
      expect(state?.buckets.find(([le]) => le === 1024)?.[1]).toBe(0)
      expect(state?.buckets.find(([le]) => le === 2048)?.[1]).toBe(1)

      expect(logged).toEqual([{
        level: "INFO",
        message: ["t1-job succeeded in 1.50s"],
        annotations: { timed: "t1-job", outcome: "success", durationMs: 1500 },
        cause: Cause.empty
      }])
    }))

  it.effect("logs a failure at the chosen level with its cause, and leaves the error as it was", () =>
    Effect.gen(function*() {
      const { layer, logged } = recorder()
      const fiber = yield* Effect.fork(
        Effect.sleep("250 millis").pipe(
          Effect.zipRight(Effect.fail("boom")),
          Timed.timed("t2-job", { logLevel: LogLevel.Warning }),
          Effect.provide(layer)
        )
      )
      yield* TestClock.adjust("250 millis")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail("boom"))

      expect((yield* series("t2-job", "failure"))?.sum).toBe(250)
      expect(yield* series("t2-job", "success")).toBeUndefined()
      expect(logged).toHaveLength(1)
      expect(logged[0]).toMatchObject({
        level: "WARN",
        message: ["t2-job failed after 250ms"],
        annotations: { timed: "t2-job", outcome: "failure", durationMs: 250 }
      })
      expect(Cause.failureOption(logged[0]?.cause ?? Cause.empty)).toEqual(Option.some("boom"))
    }))

  it.effect("counts an interrupted run as interrupted, not failed", () =>
    Effect.gen(function*() {
      const { layer, logged } = recorder()
      const fiber = yield* Effect.fork(Effect.never.pipe(Timed.timed("t3-job"), Effect.provide(layer)))
      yield* TestClock.adjust("30 millis")
      yield* Fiber.interrupt(fiber)

      expect((yield* series("t3-job", "interrupted"))?.sum).toBe(30)
      expect(yield* series("t3-job", "failure")).toBeUndefined()
      expect(logged.map((entry) => entry.message)).toEqual([["t3-job interrupted after 30ms"]])
    }))

  it.effect("runs the effect in a span named after it, with the given attributes", () =>
    Effect.gen(function*() {
      const span = yield* Effect.currentSpan.pipe(Timed.timed("t4-job", { attributes: { "t4.kind": "probe" } }))
      expect(span.name).toBe("t4-job")
      expect(span.attributes.get("t4.kind")).toBe("probe")
    }))

  it.effect("span: false and logLevel None leave only the metric", () =>
    Effect.gen(function*() {
      const { layer, logged } = recorder()
      const outer = yield* Effect.makeSpan("outer")
      const fiber = yield* Effect.fork(
        Effect.currentSpan.pipe(
          Effect.zipLeft(Effect.sleep("5 millis")),
          Timed.timed("t5-job", { span: false, logLevel: LogLevel.None }),
          Effect.withParentSpan(outer),
          Effect.provide(layer)
        )
      )
      yield* TestClock.adjust("5 millis")
      const span = yield* Fiber.join(fiber)
      expect(span.name).toBe("outer")
      expect(logged).toEqual([])
      expect((yield* series("t5-job", "success"))?.sum).toBe(5)
    }))

  it.effect("a log level below the minimum writes no line; lowering the minimum brings it back", () =>
    Effect.gen(function*() {
      const { layer, logged } = recorder()
      const job = Effect.void.pipe(Timed.timed("t6-job", { logLevel: LogLevel.Debug }))
      yield* job.pipe(Effect.provide(layer))
      expect(logged).toEqual([])
      yield* job.pipe(Logger.withMinimumLogLevel(LogLevel.Debug), Effect.provide(layer))
      expect(logged.map((entry) => [entry.level, entry.message])).toEqual([["DEBUG", ["t6-job succeeded in 0ms"]]])
      expect((yield* series("t6-job", "success"))?.count).toBe(2)
    }))
})
