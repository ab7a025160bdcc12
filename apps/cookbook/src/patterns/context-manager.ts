/**
 * `async with open_session() as session: ...` — an async context manager
 * whose `__aexit__` releases the resource however the block ends.
 *
 * `Effect.acquireRelease(acquire, release)` declares the resource; the
 * release runs when its `Scope` closes and receives the `Exit`, so it knows
 * whether the block succeeded, failed or was interrupted — and it runs in
 * every case, uninterruptibly. `Effect.scoped` is the `async with` block.
 * Several resources in one scope are released in reverse order, like
 * nested `async with` (or an `AsyncExitStack`) without the nesting.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import type * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/ok", Faults.ok("fine")),
  Faults.get("/broken", Faults.status(500, "boom")),
  Faults.get("/slow", Faults.latency(5_000, Faults.ok("late")))
]

/** How a block ended, as seen by the release. */
export type Ending = "success" | "failure" | "interruption"

const ending = (exit: Exit.Exit<unknown, unknown>): Ending =>
  Exit.isSuccess(exit) ? "success" : Exit.isInterrupted(exit) ? "interruption" : "failure"

/**
 * A session resource: opening logs `open <name>`, closing logs
 * `close <name> after <ending>`. Real code would open a connection or a file.
 */
export const session = (
  name: string,
  log: Ref.Ref<ReadonlyArray<string>>
): Effect.Effect<{ readonly name: string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.as(Ref.update(log, (lines) => [...lines, `open ${name}`]), { name }),
    (resource, exit) => Ref.update(log, (lines) => [...lines, `close ${resource.name} after ${ending(exit)}`])
  )

/** `async with session(name): GET path` — limited to `timeout` (which interrupts the block). */
export const useSession = (
  name: string,
  path: string,
  log: Ref.Ref<ReadonlyArray<string>>
): Effect.Effect<void, HttpError.HttpError | Cause.TimeoutException, Http.Http> =>
  Effect.scoped(Effect.gen(function*() {
    yield* session(name, log)
    yield* Http.get(path)
  })).pipe(Effect.timeout("200 millis"))

/** Runs the block three times — it succeeds, fails, is interrupted — and returns the resource log. */
export const threeEndings: Effect.Effect<ReadonlyArray<string>, never, Http.Http> = Effect.gen(function*() {
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  yield* Effect.either(useSession("a", "/ok", log))
  yield* Effect.either(useSession("b", "/broken", log))
  yield* Effect.either(useSession("c", "/slow", log))
  return yield* Ref.get(log)
})

/** The cookbook entry (`npm run cookbook -- context-manager`). */
export const pattern = Pattern.make({
  name: "context-manager",
  title: "Async context manager",
  asyncio: "async with open_session() as session:\n    await session.get(url)",
  primitive: "Effect.acquireRelease + Effect.scoped",
  summary: "The release always runs, sees how the block ended (success, failure, interruption), and cannot be interrupted.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const log = yield* threeEndings.pipe(Effect.provideService(Http.Http, http))
    yield* Console.log("a: GET /ok, b: GET /broken (500), c: GET /slow cut by a 200 ms timeout")
    for (const line of log) yield* Console.log(`  ${line}`)
  }))
})
