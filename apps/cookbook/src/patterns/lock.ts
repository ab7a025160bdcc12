/**
 * `lock = asyncio.Lock()` … `async with lock: read, await, write` — keep a
 * read-modify-write with an `await` in the middle from interleaving.
 *
 * `Effect.makeSemaphore(1)` is the lock and `withPermits(1)` the `async
 * with`; the permit comes back on failure and interruption too. Often the
 * lock exists only to guard one value: `SynchronizedRef.updateEffect` is a
 * reference whose effectful update is serialised for you, so the lock
 * cannot be forgotten at one call site. (A plain `Ref.update` is already
 * atomic; the problem is only an update that waits on something.)
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Pattern from "../Pattern.js"

/** How the deposits are protected. */
export type Guard = "none" | "lock" | "synchronized-ref"

/** Stands for the `await` between reading and writing (a lookup, a request): other fibers run meanwhile. */
const somethingSlow = Effect.sleep("10 millis")

/** `count` concurrent deposits of 10 into a balance of 0, guarded as told; returns the final balance. */
export const deposits = (count: number, guard: Guard): Effect.Effect<number> =>
  Effect.gen(function*() {
    const all = Array.from({ length: count }, (_, i) => i)
    if (guard === "synchronized-ref") {
      const balance = yield* SynchronizedRef.make(0)
      const deposit = SynchronizedRef.updateEffect(balance, (current) => Effect.as(somethingSlow, current + 10))
      yield* Effect.forEach(all, () => deposit, { concurrency: "unbounded", discard: true })
      return yield* SynchronizedRef.get(balance)
    }
    const balance = yield* Ref.make(0)
    const lock = yield* Effect.makeSemaphore(1)
    const deposit = Effect.gen(function*() {
      const current = yield* Ref.get(balance)
      yield* somethingSlow
      yield* Ref.set(balance, current + 10)
    })
    const guarded = guard === "lock" ? lock.withPermits(1)(deposit) : deposit
    yield* Effect.forEach(all, () => guarded, { concurrency: "unbounded", discard: true })
    return yield* Ref.get(balance)
  })

/** The cookbook entry (`npm run cookbook -- lock`). */
export const pattern = Pattern.make({
  name: "lock",
  title: "Lock",
  asyncio: "async with lock:\n    balance = await read(); await write(balance + 10)",
  primitive: "Effect.makeSemaphore(1).withPermits(1), SynchronizedRef",
  summary: "The permit is released on failure and interruption; SynchronizedRef puts the lock inside the value it guards.",
  run: Effect.gen(function*() {
    for (const guard of ["none", "lock", "synchronized-ref"] as const) {
      const [elapsed, balance] = yield* Effect.timed(deposits(10, guard))
      yield* Console.log(
        `${guard.padEnd(16)}: 10 deposits of 10 → balance ${balance} (${Pattern.formatDuration(elapsed)})` +
          (balance === 100 ? "" : "  ← lost updates")
      )
    }
  })
})
