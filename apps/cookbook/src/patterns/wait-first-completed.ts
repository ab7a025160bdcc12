/**
 * `done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)`
 * then `for t in pending: t.cancel()` — take the fastest answer.
 *
 * `Http.firstOf` (`Effect.validateFirst` over concurrent effects) returns
 * the first *success* and interrupts the rest at once: no `pending` set to
 * cancel by hand, no forgetting to. A fast failure does not win the race
 * (asyncio would hand it to you in `done`); the call fails only when every
 * candidate failed, with all their errors. Interrupting a loser aborts its
 * HTTP request, which the server sees. (For "first to finish, even with an
 * error", `Effect.raceFirst` does exactly that.)
 */
import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Four mirrors of the same price: one answers an error first, one is fast, two are slow. */
export const routes = [
  Faults.get("/mirror/broken", Faults.latency(5, Faults.status(500, "mirror down"))),
  Faults.get("/mirror/fast", Faults.latency(60, Faults.json({ mirror: "fast", price: 42 }))),
  Faults.get("/mirror/medium", Faults.latency(1_500, Faults.json({ mirror: "medium", price: 42 }))),
  Faults.get("/mirror/slow", Faults.latency(3_000, Faults.json({ mirror: "slow", price: 42 })))
]

/** The mirrors, asked all at once. */
export const mirrors = ["/mirror/slow", "/mirror/broken", "/mirror/medium", "/mirror/fast"]

/** Who won, and when. */
export interface Outcome {
  /** The URL path that answered first with a success. */
  readonly winner: string
  readonly elapsedMs: number
}

/** Asks every mirror at once and keeps the first good answer. */
export const fastest = (paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const winner = yield* Http.firstOf(paths.map((path) => Effect.as(Http.get(path), path)))
    const end = yield* Clock.currentTimeMillis
    return { winner, elapsedMs: end - start } satisfies Outcome
  })

/** The cookbook entry (`npm run cookbook -- wait-first-completed`). */
export const pattern = Pattern.make({
  name: "wait-first-completed",
  title: "wait(FIRST_COMPLETED) and cancel the pending",
  asyncio: "done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)",
  primitive: "Http.firstOf / Effect.raceAll",
  summary: "The first success wins and the losers are interrupted (requests aborted) by the combinator itself.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const outcome = yield* fastest(mirrors).pipe(Effect.provideService(Http.Http, http))
    yield* Console.log(`winner: ${outcome.winner} after ${Pattern.formatMs(outcome.elapsedMs)}`)
    yield* server.awaitSettled(mirrors.length)
    for (const record of yield* server.requests) {
      yield* Console.log(`  ${record.path.padEnd(15)} ${record.outcome}${record.status === undefined ? "" : ` (${record.status})`}`)
    }
  }))
})
