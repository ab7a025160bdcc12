/**
 * `async with asyncio.TaskGroup() as tg: tg.create_task(...)` — spawn tasks
 * as you go; leaving the block waits for all of them, and one failure
 * cancels the rest.
 *
 * A `FiberSet` is that group: `FiberSet.run` spawns into it, and the set
 * lives in a `Scope`, so leaving the scope interrupts whatever is still
 * running — on success, on failure, and when the caller itself is
 * interrupted. `FiberSet.join` fails with the first failure of any member;
 * `FiberSet.awaitEmpty` waits until all are done. Racing the two is
 * TaskGroup's "wait for all, stop at the first failure". (When the set of
 * tasks is known up front, `Effect.forEach(items, f, { concurrency })` is the
 * same thing in one line.)
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberSet from "effect/FiberSet"
import * as Ref from "effect/Ref"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/job/quick", Faults.latency(20, Faults.ok("done"))),
  Faults.get("/job/failing", Faults.latency(80, Faults.status(500, "job crashed"))),
  Faults.get("/job/slow/*", Faults.latency(2_000, Faults.ok("done")))
]

/** How the group ended: its error, the members that completed and those interrupted. */
export interface Outcome {
  readonly error: HttpError.HttpError | undefined
  readonly completed: ReadonlyArray<string>
  readonly interrupted: ReadonlyArray<string>
}

/** Waits until every member is done; fails with the first member that failed. */
export const awaitAll = <A, E>(group: FiberSet.FiberSet<A, E>): Effect.Effect<void, E> =>
  Effect.raceFirst(FiberSet.join(group), FiberSet.awaitEmpty(group))

/** Runs one task per path in a group and records which completed and which were interrupted. */
export const runGroup = (paths: ReadonlyArray<string>): Effect.Effect<Outcome, never, Http.Http> =>
  Effect.gen(function*() {
    const completed = yield* Ref.make<ReadonlyArray<string>>([])
    const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
    const result = yield* Effect.scoped(Effect.gen(function*() {
      const group = yield* FiberSet.make<void, HttpError.HttpError>()
      for (const path of paths) {
        yield* FiberSet.run(
          group,
          Http.get(path).pipe(
            Effect.zipRight(Ref.update(completed, (done) => [...done, path])),
            Effect.onInterrupt(() => Ref.update(interrupted, (done) => [...done, path]))
          )
        )
      }
      yield* awaitAll(group)
    })).pipe(Effect.either)
    return {
      error: Either.isLeft(result) ? result.left : undefined,
      completed: yield* Ref.get(completed),
      interrupted: yield* Ref.get(interrupted)
    }
  })

/** The cookbook entry (`npm run cookbook -- task-group`). */
export const pattern = Pattern.make({
  name: "task-group",
  title: "TaskGroup: a sibling failure cancels the rest",
  asyncio: "async with asyncio.TaskGroup() as tg: tg.create_task(fetch(url))",
  primitive: "FiberSet in a Scope (FiberSet.run, FiberSet.join)",
  summary: "Members are interrupted when the scope closes, whatever the reason; the first failure comes back typed.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const provide = Effect.provideService(Http.Http, http)
    const happy = yield* provide(runGroup(["/job/quick", "/job/quick"]))
    yield* Console.log(`all succeed: completed ${happy.completed.length}, error: ${happy.error?.message ?? "none"}`)
    const paths = ["/job/quick", "/job/failing", "/job/slow/1", "/job/slow/2"]
    const outcome = yield* provide(runGroup(paths))
    yield* Console.log(`one fails: ${outcome.error?.message}`)
    yield* Console.log(`  completed before the failure: ${outcome.completed.join(", ")}`)
    yield* Console.log(`  interrupted: ${outcome.interrupted.join(", ")}`)
    yield* server.awaitSettled(2, "/job/slow/*")
    const slow = yield* server.requestsTo("/job/slow/*")
    yield* Console.log(`  the server saw the slow jobs: ${slow.map((r) => r.outcome).join(", ")}`)
  }))
})
