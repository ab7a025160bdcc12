/**
 * Pitfall: blocking the event loop. A synchronous call inside a coroutine
 * (`time.sleep`, `requests.get`, a big `json.loads`, a hashing loop) stops
 * every other task, timer and socket until it returns; asyncio's debug mode
 * can tell you afterwards ("Executing <Task…> took 0.3 seconds").
 *
 * JavaScript has the same single loop, and no type can stop a synchronous
 * loop inside `Effect.sync`. What fiberkit gives is the monitor:
 * `EventLoopLag.monitor()` (or `EventLoopLag.layer`) samples the loop with a
 * timer and logs a warning saying how long it was blocked, as it happens,
 * in production. The cures: do the work in slices and let the loop breathe
 * between them (`Effect.sleep(0)` gives timers and sockets their turn; a
 * microtask-only yield would not), or move it to a `WorkerPool`
 * (see process-pool).
 */
import { EventLoopLag, Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/quote/*", Faults.latency(20, Faults.ok("quote")))]

/** Keeps the thread busy for `ms`: a stand-in for parsing, hashing, compressing. */
const busy = (ms: number): void => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // nothing else can run on this thread meanwhile
  }
}

/** The work in one synchronous block. */
export const blocking = (ms: number): Effect.Effect<void> => Effect.sync(() => busy(ms))

/** The same amount of work in 5 ms slices, giving the event loop a turn between slices. */
export const sliced = (ms: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let done = 0; done < ms; done += 5) {
      busy(Math.min(5, ms - done))
      yield* Effect.sleep(0)
    }
  })

/** What the monitor and the requests saw while the work ran. */
export interface Observed {
  /** Blocks the monitor warned about, in ms of lag. */
  readonly warnings: ReadonlyArray<number>
  /** When the last of the requests started with the work finished, in ms from the start. */
  readonly slowestRequestMs: number
  readonly workMs: number
}

/**
 * Runs `work` while five 20 ms requests are started, under a lag monitor
 * (threshold 100 ms, sampled every 20 ms) whose warnings are collected.
 */
export const observe = (work: Effect.Effect<void>): Effect.Effect<Observed, HttpError.HttpError, Http.Http> =>
  Effect.suspend(() => {
    const warnings: Array<number> = []
    const collect = Logger.make(({ annotations, logLevel }) => {
      const lag = HashMap.get(annotations, "eventLoopLagMs")
      if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning) && Option.isSome(lag)) warnings.push(Number(lag.value))
    })
    const program = Effect.gen(function*() {
      yield* EventLoopLag.monitor({ thresholdMs: 100, intervalMs: 20, warnEveryMs: 0 })
      const start = yield* Clock.currentTimeMillis
      const requests = yield* Effect.forEach(
        [1, 2, 3, 4, 5],
        (i) => Effect.fork(Effect.zipRight(Http.get(`/quote/${i}`), Clock.currentTimeMillis)),
        { concurrency: "unbounded" }
      )
      yield* work
      const workMs = (yield* Clock.currentTimeMillis) - start
      const finished = yield* Fiber.joinAll(requests)
      // One more sample after the work, so a block right at the end is measured.
      yield* Effect.sleep("40 millis")
      return { workMs, slowestRequestMs: Math.max(...finished) - start }
    }).pipe(Effect.scoped)
    return program.pipe(
      Effect.provide(Layer.mergeAll(
        Logger.remove(Logger.defaultLogger),
        Logger.remove(Logger.prettyLoggerDefault),
        Logger.add(collect)
      )),
      Effect.map((r) => ({ ...r, warnings }))
    )
  })

/** The cookbook entry (`npm run cookbook -- pitfall-blocking`). */
export const pattern = Pattern.make({
  name: "pitfall-blocking",
  title: "Pitfall: blocking the event loop",
  asyncio: "async def handler():\n    data = expensive_sync_parse(blob)   # every other task waits",
  primitive: "EventLoopLag.monitor / EventLoopLag.layer (+ slicing, WorkerPool)",
  summary: "The lag monitor reports blocks as they happen, with how long; slicing or a WorkerPool keeps the loop free.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const provide = Effect.provideService(Http.Http, http)
    yield* provide(observe(Effect.void)) // warm up connections and JIT
    for (const [label, work] of [["one 300 ms block", blocking(300)], ["300 ms in 5 ms slices", sliced(300)]] as const) {
      const seen = yield* provide(observe(work))
      yield* Console.log(`${label}: work took ${Pattern.formatMs(seen.workMs)}`)
      yield* Console.log(`  five 20 ms requests started with it: the slowest took ${Pattern.formatMs(seen.slowestRequestMs)}`)
      yield* Console.log(
        `  lag monitor: ${seen.warnings.length === 0 ? "no warning" : `warned of blocks of ${seen.warnings.map(Pattern.formatMs).join(", ")}`}`
      )
    }
  }))
})
