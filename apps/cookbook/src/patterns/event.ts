/**
 * `ready = asyncio.Event()`; workers `await ready.wait()`; someone calls
 * `ready.set()` (and maybe `ready.clear()` later).
 *
 * `Effect.makeLatch(false)` is the event: `latch.await` waits, `latch.open`
 * releases every waiter, `latch.close` is `clear()`, and
 * `latch.whenOpen(effect)` runs an effect once it is open. Waiting is
 * interruptible, so a worker cancelled while waiting leaves nothing behind.
 * When the signal carries a value (the loaded config itself), use a
 * `Deferred` instead: `Deferred.await` returns it, typed.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/config", Faults.latency(150, Faults.json({ mode: "fast" }))),
  Faults.get("/work/*", Faults.latency(10, Faults.ok("done")))
]

/** Starts `workers` fibers that wait for the latch, loads `/config`, then opens it. */
export const warmUpThenWork = (workers: number): Effect.Effect<void, HttpError.HttpError, Http.Http> =>
  Effect.gen(function*() {
    const ready = yield* Effect.makeLatch(false)
    const fibers = yield* Effect.forEach(
      Array.from({ length: workers }, (_, i) => i + 1),
      (i) => Effect.fork(ready.whenOpen(Http.get(`/work/${i}`))),
      { concurrency: "unbounded" }
    )
    yield* Http.get("/config")
    yield* ready.open
    yield* Fiber.joinAll(fibers)
  })

/** The cookbook entry (`npm run cookbook -- event`). */
export const pattern = Pattern.make({
  name: "event",
  title: "Event",
  asyncio: "ready = asyncio.Event()\nawait ready.wait()  # workers\nready.set()         # when warmed up",
  primitive: "Effect.makeLatch (open / close / await / whenOpen), Deferred",
  summary: "A latch releases every waiter at once; waiting is interruptible, and a Deferred carries a typed value.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    yield* warmUpThenWork(3).pipe(Effect.provideService(Http.Http, http))
    const log = yield* server.requests
    const start = log[0]?.arrivedAt ?? 0
    for (const r of log) {
      yield* Console.log(
        `  ${r.path.padEnd(8)} arrived at ${Pattern.formatMs(r.arrivedAt - start).padStart(6)}, ` +
          `done at ${Pattern.formatMs((r.completedAt ?? r.arrivedAt) - start).padStart(6)}`
      )
    }
    yield* Console.log("the workers were forked first, yet none reached the server before /config was done")
  }))
})
