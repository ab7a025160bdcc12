/**
 * `asyncio.gather(a(), b(), c())` — run together, fail on the first error.
 *
 * In asyncio the first exception propagates out of `gather`, but the other
 * tasks are NOT cancelled: they keep running, unobserved, holding sockets.
 * `Effect.all` with concurrency interrupts the siblings as soon as one fails,
 * and interruption aborts their HTTP requests (the server sees the
 * connections close).
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Two slow endpoints and one that fails quickly. */
export const routes = [
  Faults.get("/slow/*", Faults.latency(2_000, Faults.json({ ok: true }))),
  Faults.get("/broken", Faults.latency(50, Faults.status(500, "boom")))
]

/** How the gather ended and what it interrupted. */
export interface Outcome {
  /** The error `gather` failed with. */
  readonly error: HttpError.HttpError | undefined
  /** The requests that were interrupted because a sibling failed. */
  readonly interrupted: ReadonlyArray<string>
  readonly elapsedMs: number
}

/** Fetches every path concurrently; the first failure fails the whole and interrupts the rest. */
export const gather = (paths: ReadonlyArray<string>): Effect.Effect<Outcome, never, Http.Http> =>
  Effect.gen(function*() {
    const interrupted = yield* Ref.make<ReadonlyArray<string>>([])
    const [elapsed, result] = yield* Effect.all(
      paths.map((path) =>
        Http.get(path).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (done) => [...done, path])))
      ),
      { concurrency: "unbounded" }
    ).pipe(Effect.either, Effect.timed)
    return {
      error: Either.isLeft(result) ? result.left : undefined,
      interrupted: yield* Ref.get(interrupted),
      elapsedMs: Duration.toMillis(elapsed)
    }
  })

/** The cookbook entry (`npm run cookbook -- gather-fail-fast`). */
export const pattern = Pattern.make({
  name: "gather-fail-fast",
  title: "gather (fail-fast)",
  asyncio: "results = await asyncio.gather(fetch(a), fetch(b), fetch(c))",
  primitive: "Effect.all(effects, { concurrency })",
  summary: "The first failure interrupts the siblings (their requests are aborted) instead of leaving them running.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const paths = ["/slow/1", "/broken", "/slow/2"]
    yield* Console.log(`gather ${paths.join(", ")}: /broken answers 500 after 50 ms, the others would take 2 s`)
    const outcome = yield* gather(paths).pipe(Effect.provideService(Http.Http, http))
    yield* Console.log(`failed after ${Pattern.formatMs(outcome.elapsedMs)} with: ${outcome.error?.message}`)
    yield* Console.log(`interrupted siblings: ${outcome.interrupted.join(", ")}`)
    yield* server.awaitSettled(paths.length)
    const log = yield* server.requests
    for (const record of log) yield* Console.log(`  server saw ${record.path}: ${record.outcome}`)
  }))
})
