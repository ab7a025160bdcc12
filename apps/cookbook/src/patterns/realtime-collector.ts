/**
 * A real-time collector feeding a processor through a queue: the processor
 * loops on `await asyncio.wait_for(queue.get(), timeout=1.0)` so it can
 * flush a partial batch when readings slow down, and a sentinel or a
 * `cancel()` stops the loop.
 *
 * A bounded `Mailbox` is the queue (the collector waits when it is full),
 * and `Stream.groupedWithin(10, "1 second")` is the whole timeout loop: a
 * batch goes out when it has 10 readings or when the one-second tick comes,
 * whichever is first. `mailbox.end` is the sentinel done right: the
 * processor drains what is queued, flushes the last partial batch and
 * finishes — nothing is dropped, unlike shutting down a `Queue`, which
 * discards what it holds. (`Stream.buffer` packs collector + queue into one
 * line when they need not be separate.)
 */
import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Mailbox from "effect/Mailbox"
import * as Stream from "effect/Stream"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/reading/*", (req) => Faults.ok(req.pathname.slice("/reading/".length)))
]

/** How batches are cut and how far the collector may run ahead. */
export interface Options {
  /** Flush when a batch has this many readings. */
  readonly size: number
  /** … or when this much time has passed, whichever is first. */
  readonly every: Duration.DurationInput
  /** Readings the mailbox holds before the collector has to wait. */
  readonly capacity: number
}

/**
 * Runs `readings` into a bounded mailbox in a collector fiber and flushes
 * batches from it; completes once the readings end and the last batch is
 * flushed. A collector failure fails the whole.
 */
export const collectAndProcess = <A, E, R, E2, R2>(
  readings: Stream.Stream<A, E, R>,
  flush: (batch: ReadonlyArray<A>) => Effect.Effect<void, E2, R2>,
  options: Options
): Effect.Effect<void, E | E2, R | R2> =>
  Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<A>(options.capacity)
    const collector = yield* readings.pipe(
      Stream.runForEach((reading) => mailbox.offer(reading)),
      Effect.ensuring(mailbox.end),
      Effect.fork
    )
    yield* Mailbox.toStream(mailbox).pipe(
      Stream.groupedWithin(options.size, options.every),
      Stream.runForEach((batch) => flush(Chunk.toReadonlyArray(batch)))
    )
    yield* Fiber.join(collector)
  })

/** A burst of 25 readings, then 3 more at 600 ms intervals, fetched from the server. */
export const sensor = Stream.range(1, 28).pipe(
  Stream.mapEffect((i) => Effect.zipRight(i > 25 ? Effect.sleep("600 millis") : Effect.void, Http.text(`/reading/${i}`)))
)

/** The cookbook entry (`npm run cookbook -- realtime-collector`). */
export const pattern = Pattern.make({
  name: "realtime-collector",
  title: "Real-time collector/processor with queue timeouts",
  asyncio: "item = await asyncio.wait_for(queue.get(), timeout=1.0)  # flush a partial batch on timeout",
  primitive: "Mailbox (bounded, end) + Stream.groupedWithin",
  summary: "Batches by size or time in one operator; ending the mailbox drains and flushes, nothing is dropped.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const start = yield* Clock.currentTimeMillis
    const flush = (batch: ReadonlyArray<string>) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Console.log(
            `  ${Pattern.formatMs(now - start).padStart(7)}: flushed ${batch.length} [${batch[0]}..${batch.at(-1)}]`
          )
      )
    yield* Console.log("25 readings in a burst, then 3 slow ones; batches of 10 or every second:")
    yield* collectAndProcess(sensor, flush, { size: 10, every: "1 second", capacity: 16 }).pipe(
      Effect.provideService(Http.Http, http)
    )
    yield* Console.log("the readings ended: the last partial batch was flushed and the processor finished")
  }))
})
