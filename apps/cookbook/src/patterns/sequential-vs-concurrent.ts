/**
 * The first lesson of every asyncio guide: `for url in urls: await
 * fetch(url)` takes the sum of the latencies; `await asyncio.gather(*...)`
 * takes about the longest one.
 *
 * `Effect.forEach(paths, fetch)` is the loop, and the same call with
 * `{ concurrency: n }` is the gather — the only difference is one option,
 * and the bound is explicit (unbounded is a choice you write down, not the
 * default of the tool).
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Server latency of each request. */
export const LATENCY_MS = 50

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/page/*", Faults.latency(LATENCY_MS, Faults.ok("page")))]

/** Both timings, in ms. */
export interface Outcome {
  readonly sequentialMs: number
  readonly concurrentMs: number
}

/** Fetches the paths one after another, then all at once (at most `concurrency`), and times both. */
export const compare = (
  paths: ReadonlyArray<string>,
  concurrency: number
): Effect.Effect<Outcome, HttpError.HttpError, Http.Http> =>
  Effect.gen(function*() {
    const [sequential] = yield* Effect.timed(Effect.forEach(paths, (path) => Http.get(path)))
    const [concurrent] = yield* Effect.timed(Effect.forEach(paths, (path) => Http.get(path), { concurrency }))
    return { sequentialMs: Duration.toMillis(sequential), concurrentMs: Duration.toMillis(concurrent) }
  })

/** The cookbook entry (`npm run cookbook -- sequential-vs-concurrent`). */
export const pattern = Pattern.make({
  name: "sequential-vs-concurrent",
  title: "Sequential vs concurrent fetching",
  asyncio: "for url in urls: await fetch(url)   # vs   await asyncio.gather(*(fetch(u) for u in urls))",
  primitive: "Effect.forEach(items, f) vs Effect.forEach(items, f, { concurrency })",
  summary: "One option turns the loop into a bounded concurrent fetch; the bound is always written down.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const paths = Array.from({ length: 10 }, (_, i) => `/page/${i}`)
    const outcome = yield* compare(paths, 10).pipe(Effect.provideService(Http.Http, http))
    yield* Console.log(`10 requests, ${LATENCY_MS} ms each:`)
    yield* Console.log(`  sequential: ${Pattern.formatMs(outcome.sequentialMs)}`)
    yield* Console.log(`  concurrent: ${Pattern.formatMs(outcome.concurrentMs)}`)
    yield* Console.log(`  ${(outcome.sequentialMs / outcome.concurrentMs).toFixed(1)}× faster`)
  }))
})
