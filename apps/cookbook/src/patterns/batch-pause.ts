/**
 * Batch processing with a pause between batches — the polite bulk job:
 *
 *     for i in range(0, len(items), 5):
 *         await asyncio.gather(*(send(x) for x in items[i:i + 5]))
 *         await asyncio.sleep(0.3)
 *
 * `Concurrent.inChunks(items, { size, pause }, f)` is that loop: each batch
 * runs concurrently, the next starts `pause` after the whole batch is done,
 * results come back in input order, and the first failure interrupts the
 * rest of its batch (wrap `f` in `Effect.either` to keep going). The pause
 * is an `Effect.sleep` on the `Clock`, so a test checks the rhythm on
 * `TestClock`. For a steady rate instead of bursts, see rate-limit.
 */
import { Concurrent, Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.post("/notify/*", Faults.latency(30, Faults.ok("sent")))]

/** Sends one notification per user, 5 at a time, 300 ms apart. */
export const notifyAll = (users: ReadonlyArray<string>) =>
  Concurrent.inChunks(users, { size: 5, pause: "300 millis" }, (user) =>
    Effect.map(Http.request({ method: "POST", url: `/notify/${user}` }), (response) => `${user}: ${response.text}`))

/** The cookbook entry (`npm run cookbook -- batch-pause`). */
export const pattern = Pattern.make({
  name: "batch-pause",
  title: "Batch processing with a pause between batches",
  asyncio: "for i in range(0, len(items), 5):\n    await asyncio.gather(*(send(x) for x in items[i:i + 5]))\n    await asyncio.sleep(0.3)",
  primitive: "Concurrent.inChunks(items, { size, pause }, f)",
  summary: "Batches, pause, ordered results and fail-fast per batch in one call, on a clock tests can drive.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const users = Array.from({ length: 12 }, (_, i) => `user-${i + 1}`)
    const results = yield* notifyAll(users).pipe(Effect.provideService(Http.Http, http))
    const log = yield* server.requests
    const first = log[0]?.arrivedAt ?? 0
    yield* Console.log(`${results.length} notifications in batches of 5, 300 ms apart; arrivals at the server:`)
    for (let i = 0; i < log.length; i += 5) {
      const batch = log.slice(i, i + 5)
      yield* Console.log(`  ${batch.map((r) => Pattern.formatMs(r.arrivedAt - first)).join(", ")}`)
    }
    yield* Console.log(`results in input order: ${results.slice(0, 2).join("; ")}; …`)
  }))
})
