/**
 * `asyncio.Queue(maxsize=5)` with worker tasks that loop on `queue.get()`
 * and call `queue.task_done()`, the producer `await queue.put(x)`, then
 * `await queue.join()` and cancelling the workers — and remembering
 * `try/finally: task_done()`, or `join()` hangs forever after one failure.
 *
 * `WorkQueue.make({ capacity, workers, process, onOutcome })` is that whole
 * arrangement. `offer` waits while the queue is full (back-pressure on the
 * producer), every item ends in its own typed outcome (a failure does not
 * kill a worker or hang the join), and the two endings are explicit:
 * `drain` is `join()` + stopping the workers; `shutdown` (or leaving the
 * scope, or being interrupted) stops at once — in-flight items are
 * interrupted, their requests aborted, queued items dropped.
 */
import { Http, type HttpError, WorkQueue } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The newest matching route wins, so the general one comes first. */
export const routes = [
  Faults.get("/job/*", Faults.latency(20, Faults.ok("done"))),
  Faults.get("/job/bad", Faults.latency(10, Faults.status(500, "bad job"))),
  Faults.get("/job/slow/*", Faults.latency(5_000, Faults.ok("late")))
]

/** What a drained queue delivered. */
export interface Drained {
  readonly succeeded: number
  readonly failed: ReadonlyArray<string>
  /** What an offer made after `drain` got. */
  readonly lateOffer: string
}

/** Producer + 3 workers over a queue of 5; drains, then tries one more offer. */
export const produceAndDrain = (paths: ReadonlyArray<string>): Effect.Effect<Drained, WorkQueue.QueueClosed, Http.Http> =>
  Effect.scoped(Effect.gen(function*() {
    const succeeded = yield* Ref.make(0)
    const failed = yield* Ref.make<ReadonlyArray<string>>([])
    const queue = yield* WorkQueue.make({
      capacity: 5,
      workers: 3,
      process: (path: string) => Http.get(path),
      onOutcome: ({ exit, item }: WorkQueue.Outcome<string, Http.HttpResponse, HttpError.HttpError>) =>
        Exit.isSuccess(exit) ? Ref.update(succeeded, (n) => n + 1) : Ref.update(failed, (all) => [...all, item])
    })
    yield* queue.offerAll(paths)
    yield* queue.drain
    const late = yield* Effect.either(queue.offer("/job/late"))
    return {
      succeeded: yield* Ref.get(succeeded),
      failed: yield* Ref.get(failed),
      lateOffer: Either.match(late, { onRight: () => "accepted", onLeft: (e) => `${e._tag} (${e.reason})` })
    }
  }))

/** Offers `count` slow jobs to 3 workers, waits until the server has three of them, then shuts down. */
export const produceAndShutdown = (count: number, serverHasThree: Effect.Effect<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* WorkQueue.make({ capacity: 5, workers: 3, process: (path: string) => Http.get(path) })
    yield* queue.offerAll(Array.from({ length: count }, (_, i) => `/job/slow/${i}`))
    yield* serverHasThree
    const before = queue.stats()
    yield* queue.shutdown
    return { before, after: queue.stats() }
  }))

/** The cookbook entry (`npm run cookbook -- queue`). */
export const pattern = Pattern.make({
  name: "queue",
  title: "Queue producer/consumer with task_done/join and clean shutdown",
  asyncio:
    "q = asyncio.Queue(maxsize=5); workers = [create_task(worker(q)) for _ in range(3)]\nfor x in items: await q.put(x)\nawait q.join(); for w in workers: w.cancel()",
  primitive: "WorkQueue.make (offer, drain, shutdown)",
  summary: "Back-pressure, a typed outcome per item, and two explicit endings: drain (join) and shutdown (cancel).",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const provide = Effect.provideService(Http.Http, http)
    const paths = Array.from({ length: 20 }, (_, i) => (i === 7 ? "/job/bad" : `/job/${i}`))
    const drained = yield* provide(produceAndDrain(paths))
    const stats = yield* server.stats
    yield* Console.log(`drain: ${drained.succeeded} succeeded, failed: ${drained.failed.join(", ")}`)
    yield* Console.log(`  at most ${stats.maxInFlight} requests in flight; an offer after drain: ${drained.lateOffer}`)
    yield* server.reset
    const shut = yield* provide(produceAndShutdown(6, server.awaitRequests(3, "/job/slow/*")))
    yield* server.awaitSettled(3, "/job/slow/*")
    const slow = yield* server.requestsTo("/job/slow/*")
    yield* Console.log(
      `shutdown with ${shut.before.inFlight} in flight and ${shut.before.queued} queued: ` +
        `the server saw ${slow.map((r) => r.outcome).join(", ")}; the queued ones never left`
    )
  }))
})
