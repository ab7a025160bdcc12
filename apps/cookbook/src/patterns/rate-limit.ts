/**
 * A limiter of N starts per second — `aiolimiter.AsyncLimiter(5, 1)` or the
 * hand-written token bucket every asyncio guide includes.
 *
 * `RateLimiter.make({ limit, interval })` is a scoped token bucket: the
 * first `limit` tasks start at once, then one every `interval / limit`.
 * The limiter is a plain function wrapped around any effect, so it composes
 * with concurrency limits, timeouts and retries, and it runs on the `Clock`
 * service, so a test checks the spacing on `TestClock` without waiting.
 * It limits starts, not concurrency (pair it with `{ concurrency }` for
 * both). (`Http` has a per-host limit built in: `perHostPerSecond`.)
 */
import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as RateLimiter from "effect/RateLimiter"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/tick/*", Faults.ok("tick"))]

/** Runs every task concurrently, starting at most `perSecond` of them per second. */
export const rateLimited = <A, E, R>(
  tasks: ReadonlyArray<Effect.Effect<A, E, R>>,
  perSecond: number
): Effect.Effect<Array<A>, E, R> =>
  Effect.scoped(Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({ limit: perSecond, interval: "1 second" })
    return yield* Effect.forEach(tasks, (task) => limiter(task), { concurrency: "unbounded" })
  }))

/** The cookbook entry (`npm run cookbook -- rate-limit`). */
export const pattern = Pattern.make({
  name: "rate-limit",
  title: "Rate limit: N per second",
  asyncio: "limiter = AsyncLimiter(5, 1)\nasync with limiter: await fetch(url)",
  primitive: "RateLimiter.make({ limit, interval })",
  summary: "A scoped token bucket wrapped around any effect, on the Clock service so tests check spacing on TestClock.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const paths = Array.from({ length: 10 }, (_, i) => `/tick/${i}`)
    yield* rateLimited(paths.map((path) => Http.get(path)), 5).pipe(Effect.provideService(Http.Http, http))
    const log = yield* server.requests
    const first = log[0]?.arrivedAt ?? 0
    yield* Console.log("10 requests at 5 per second; arrivals as the server saw them:")
    yield* Console.log(`  ${log.map((r) => Pattern.formatMs(r.arrivedAt - first)).join(", ")}`)
    yield* Console.log("  (a burst of 5, then one every 200 ms)")
  }))
})
