/**
 * `cond = asyncio.Condition()`; a consumer `await cond.wait_for(predicate)`
 * while producers change the state and `cond.notify_all()`.
 *
 * A `SubscriptionRef` is the state and the condition in one: `ref.changes`
 * is a stream of its current value and every later one, so waiting for a
 * predicate is `changes → filter → first`. Producers just update the ref
 * (atomically); there is no lock to hold around the wait and no
 * `notify_all` to forget, and since the current value is checked first a
 * wake-up cannot be missed.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/reading/*", (req) => Faults.latency(60, Faults.ok(req.pathname.slice("/reading/".length))))
]

/** Waits until the value in `ref` satisfies `predicate`, and returns that value. */
export const waitFor = <A>(ref: SubscriptionRef.SubscriptionRef<A>, predicate: (a: A) => boolean): Effect.Effect<A> =>
  ref.changes.pipe(
    Stream.filter(predicate),
    Stream.runHead,
    // `changes` never ends, so there is always a head once the predicate holds.
    Effect.flatten,
    Effect.orDie
  )

/** A consumer waiting for `size` readings while a producer fetches them one by one. */
export const firstBatch = (size: number): Effect.Effect<ReadonlyArray<string>, HttpError.HttpError, Http.Http> =>
  Effect.gen(function*() {
    const buffer = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const consumer = yield* Effect.fork(waitFor(buffer, (items) => items.length >= size))
    for (let i = 1; i <= size + 2; i++) {
      const reading = yield* Http.text(`/reading/${i}`)
      yield* SubscriptionRef.update(buffer, (items) => [...items, reading])
    }
    return yield* Fiber.join(consumer)
  })

/** The cookbook entry (`npm run cookbook -- condition`). */
export const pattern = Pattern.make({
  name: "condition",
  title: "Condition",
  asyncio: "async with cond:\n    await cond.wait_for(lambda: len(buffer) >= 3)",
  primitive: "SubscriptionRef + ref.changes (filter, runHead)",
  summary: "State and condition are one value: updates wake waiters without a lock or notify_all, and no wake-up is lost.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const [elapsed, batch] = yield* firstBatch(3).pipe(Effect.provideService(Http.Http, http), Effect.timed)
    yield* Console.log(`the consumer woke with [${batch.join(", ")}]: the state when the predicate first held`)
    yield* Console.log(`the producer went on to 5 readings; total ${Pattern.formatDuration(elapsed)}`)
  }))
})
