/**
 * `await asyncio.wait_for(fetch(url), timeout=0.2)` and
 * `async with asyncio.timeout(0.2): ...` — give up after a deadline.
 *
 * `Effect.timeout` races the work against the clock; when time is up the
 * work is interrupted (its request aborted, its finalizers run) and the
 * effect fails with a `TimeoutException` that appears in the error type, so
 * the caller cannot forget that it may happen. It wraps any effect, a
 * whole block included. The clock is a service: tests drive it with
 * `TestClock` instead of waiting. For `asyncio.timeout_at(when)` — one
 * deadline shared by several steps, however the time splits between them —
 * `Concurrent.withDeadline(deadline)` takes a point in time instead of a
 * duration. (`Http` also has per-phase timeouts that are always on; these
 * are the general tools.)
 */
import { Concurrent, Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/quick", Faults.latency(20, Faults.ok("in time"))),
  Faults.get("/hanging", Faults.stallBeforeHeaders)
]

/**
 * Runs `work` with a time limit: `Right(value)` in time, `Left(TimeoutException)` when the limit passed
 * (and `work` was interrupted).
 */
export const within = <A, E, R>(
  work: Effect.Effect<A, E, R>,
  limit: Duration.DurationInput
): Effect.Effect<Either.Either<A, E | Cause.TimeoutException>, never, R> =>
  Effect.either(Effect.timeout(work, limit))

/** Several sequential steps under one absolute deadline, `budgetMs` from now. */
export const stepsWithin = <A, E, R>(steps: ReadonlyArray<Effect.Effect<A, E, R>>, budgetMs: number) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + budgetMs
    return yield* Effect.forEach(steps, (step) => Concurrent.withDeadline(step, deadline))
  })

/** The cookbook entry (`npm run cookbook -- wait-for`). */
export const pattern = Pattern.make({
  name: "wait-for",
  title: "wait_for / asyncio.timeout",
  asyncio: "await asyncio.wait_for(fetch(url), timeout=0.2)  # or: async with asyncio.timeout(0.2)",
  primitive: "Effect.timeout, Concurrent.withDeadline",
  summary: "The timeout is in the error type, the work is interrupted (request aborted), and TestClock can drive it.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    for (const path of ["/quick", "/hanging"]) {
      const [elapsed, result] = yield* within(Http.text(path), "200 millis").pipe(
        Effect.provideService(Http.Http, http),
        Effect.timed
      )
      const shown = Either.match(result, {
        onRight: (text) => `"${text}"`,
        onLeft: (error) => `${error._tag}: ${error.message}`
      })
      yield* Console.log(`${path.padEnd(9)} after ${Pattern.formatMs(Duration.toMillis(elapsed))}: ${shown}`)
    }
    const [elapsed, steps] = yield* stepsWithin([Http.get("/quick"), Http.get("/quick"), Http.get("/hanging")], 200).pipe(
      Effect.provideService(Http.Http, http),
      Effect.either,
      Effect.timed
    )
    yield* Console.log(
      `3 steps under one 200 ms deadline: ${Either.isLeft(steps) ? steps.left._tag : "done"} after ` +
        Pattern.formatDuration(elapsed)
    )
    yield* server.awaitSettled(2, "/hanging")
    const hanging = yield* server.requestsTo("/hanging")
    yield* Console.log(
      `the server saw /hanging ${hanging.map((r) => r.outcome).join(", ")}: timed-out requests are aborted, not left open`
    )
  }))
})
