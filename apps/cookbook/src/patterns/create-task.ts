/**
 * `task = asyncio.create_task(coro())` … `await task` — start work in the
 * background, do something else, then collect the result.
 *
 * `Effect.fork` starts a fiber and returns a handle; `Fiber.join` waits for
 * it and fails with its typed error if it failed. Unlike an asyncio task, a
 * forked fiber belongs to the fiber that forked it: if the parent ends
 * without joining, the child is interrupted (its request is aborted) rather
 * than left running unowned — or garbage-collected mid-flight, which is why
 * the asyncio docs tell you to keep a reference to every task. When work
 * must outlive its parent, say so: `Effect.forkScoped` or `Effect.forkDaemon`.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/report", Faults.latency(300, Faults.ok("quarterly report"))),
  Faults.get("/fast/*", Faults.latency(50, Faults.ok("fast"))),
  Faults.get("/orphan", Faults.latency(2_000, Faults.ok("never read")))
]

/** The joined result and how long the whole took. */
export interface Outcome {
  readonly report: string
  readonly elapsedMs: number
}

/** Fetches `/report` in a background fiber while making three quick requests, then joins it. */
export const backgroundReport: Effect.Effect<Outcome, HttpError.HttpError, Http.Http> = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const task = yield* Effect.fork(Http.text("/report"))
  for (const path of ["/fast/1", "/fast/2", "/fast/3"]) yield* Http.get(path)
  const report = yield* Fiber.join(task)
  const end = yield* Clock.currentTimeMillis
  return { report, elapsedMs: end - start }
})

/**
 * Forks a request, does some quick work of its own, and returns without
 * joining: when this fiber ends, the child is interrupted.
 */
export const forgetsItsTask: Effect.Effect<void, HttpError.HttpError, Http.Http> = Effect.gen(function*() {
  yield* Effect.fork(Http.get("/orphan"))
  yield* Http.get("/fast/own-work")
})

/** The cookbook entry (`npm run cookbook -- create-task`). */
export const pattern = Pattern.make({
  name: "create-task",
  title: "create_task: a background fiber, joined",
  asyncio: "task = asyncio.create_task(fetch(url)); ...; result = await task",
  primitive: "Effect.fork + Fiber.join",
  summary: "A forked fiber is owned by its parent: joined for its typed result, or interrupted when the parent ends.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const outcome = yield* backgroundReport.pipe(Effect.provideService(Http.Http, http))
    yield* Console.log(`joined "${outcome.report}" after ${Pattern.formatMs(outcome.elapsedMs)}`)
    yield* Console.log(`  (3 × 50 ms requests ran meanwhile: sequentially it would be ≥ 450 ms)`)
    // Run it as a task of its own, so that it ends (and its child with it) while we go on.
    yield* forgetsItsTask.pipe(Effect.provideService(Http.Http, http), Effect.fork, Effect.flatMap(Fiber.join))
    yield* server.awaitSettled(1, "/orphan")
    const [orphan] = yield* server.requestsTo("/orphan")
    yield* Console.log(`a task forked and never joined: the server saw its request ${orphan?.outcome ?? "never"}`)
  }))
})
