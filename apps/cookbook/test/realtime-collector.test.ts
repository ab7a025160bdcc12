import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { collectAndProcess, routes } from "../src/patterns/realtime-collector.js"
import * as Sandbox from "../src/Sandbox.js"

/** 25 readings at once, then one every 600 ms up to 28, then the sensor stops. */
const readings = Stream.range(1, 28).pipe(
  Stream.mapEffect((i) => Effect.as(i > 25 ? Effect.sleep("600 millis") : Effect.void, i))
)

describe("realtime-collector", () => {
  it.effect("flushes full batches at once, partial ones on the one-second tick, and the rest when readings end", () =>
    Effect.gen(function*() {
      const flushed = yield* Ref.make<ReadonlyArray<string>>([])
      const flush = (batch: ReadonlyArray<number>) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.update(flushed, (all) => [...all, `${now}: ${batch[0]}..${batch.at(-1)}`]))
      const fiber = yield* Effect.fork(collectAndProcess(readings, flush, { size: 10, every: "1 second", capacity: 16 }))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(flushed)).toEqual([
        "0: 1..10", // full
        "0: 11..20", // full
        "1000: 21..26", // the tick: 21–25 from the burst and 26 (at 600 ms)
        "1800: 27..28" // the readings ended (28 at 1800 ms): the last partial batch, nothing dropped
      ])
    }))

  it.scopedLive("with readings fetched from the server, every reading is flushed once, in batches of at most 10", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const batches = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
      // the demo's sensor without its pauses: the tick-driven flushes are the TestClock test's job
      const fetched = Stream.range(1, 28).pipe(Stream.mapEffect((i) => Http.text(`/reading/${i}`)))
      yield* collectAndProcess(fetched, (batch) => Ref.update(batches, (all) => [...all, batch]), {
        size: 10,
        every: "1 second",
        capacity: 16
      }).pipe(Effect.provideService(Http.Http, http))
      const all = yield* Ref.get(batches)
      expect(all.flat()).toEqual(Array.from({ length: 28 }, (_, i) => String(i + 1)))
      for (const batch of all) expect(batch.length).toBeLessThanOrEqual(10)
    }))
})
