/**
 * `sem = asyncio.Semaphore(3)` … `async with sem: await fetch(url)` — at
 * most three requests at once.
 *
 * `Effect.makeSemaphore(3)` and `sem.withPermits(1)(effect)` are the direct
 * translation; the permit is released even if the effect fails or is
 * interrupted. When the limit belongs to one batch, the `concurrency` option
 * says it in one place and never starts more than three fibers at a time
 * (`gather` over a semaphore creates every task up front). A semaphore
 * shared by several call sites is the reason to use one explicitly.
 * (`Http` itself caps requests per host, `perHostMaxInFlight`.)
 */
import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/item/*", Faults.latency(50, Faults.ok("item")))]

/** The direct translation: every task starts, and waits for one of `limit` permits. */
export const withSemaphore = (paths: ReadonlyArray<string>, limit: number) =>
  Effect.gen(function*() {
    const semaphore = yield* Effect.makeSemaphore(limit)
    return yield* Effect.forEach(paths, (path) => semaphore.withPermits(1)(Http.get(path)), {
      concurrency: "unbounded"
    })
  })

/** The idiomatic form: at most `limit` fibers exist at once. */
export const withConcurrency = (paths: ReadonlyArray<string>, limit: number) =>
  Effect.forEach(paths, (path) => Http.get(path), { concurrency: limit })

/** The cookbook entry (`npm run cookbook -- semaphore`). */
export const pattern = Pattern.make({
  name: "semaphore",
  title: "Semaphore-limited concurrency",
  asyncio: "sem = asyncio.Semaphore(3)\nasync with sem: await fetch(url)",
  primitive: "Effect.makeSemaphore + withPermits, or { concurrency: n }",
  summary: "Permits are released on failure and interruption too; { concurrency } bounds the fibers, not just the work.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const paths = Array.from({ length: 12 }, (_, i) => `/item/${i}`)
    const provide = Effect.provideService(Http.Http, http)
    // Warm up (connections, JIT) so the two timings compare the limits, not a cold start.
    yield* provide(withConcurrency(paths.slice(0, 3), 3))
    for (const [label, run] of [["semaphore", withSemaphore], ["concurrency", withConcurrency]] as const) {
      yield* server.reset
      const [elapsed, responses] = yield* provide(Effect.timed(run(paths, 3)))
      const stats = yield* server.stats
      yield* Console.log(
        `${label.padEnd(11)}: ${responses.length} requests × 50 ms in ${Pattern.formatDuration(elapsed)}, ` +
          `at most ${stats.maxInFlight} in flight on the server`
      )
    }
  }))
})
