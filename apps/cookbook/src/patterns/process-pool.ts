/**
 * `loop.run_in_executor(ProcessPoolExecutor(), cpu_bound, data)` — CPU-bound
 * work off the event loop, so the loop keeps serving while it runs.
 *
 * `WorkerPool` is that executor on worker threads: the protocol is a set of
 * `Schema.TaggedRequest`s (typed arguments, result and failure, checked on
 * both sides instead of pickled), `pool.execute(request)` is an ordinary
 * effect (concurrency, timeouts and interruption apply; interrupting a busy
 * request terminates its thread), and the pool lives in a `Scope`, so its
 * threads stop with it. The ticker below is a fiber on the main thread that
 * wants to run every 10 ms: inline hashing starves it, the pool does not.
 */
import { WorkerPool } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import { threadId } from "node:worker_threads"
import * as Pattern from "../Pattern.js"
import { Hash, hashRounds, Protocol } from "./process-pool/protocol.js"

/** One unit of CPU-bound work. */
export interface Job {
  readonly data: string
  readonly rounds: number
}

/** A result with what the main thread managed meanwhile. */
export interface Measured<A> {
  readonly result: A
  readonly elapsedMs: number
  /** Ticks of a 10 ms ticker on the main thread while the work ran. */
  readonly ticksDuring: number
}

/** Runs `work` next to a fiber that ticks every 10 ms, and counts the ticks that happened meanwhile. */
export const withTicker = <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<Measured<A>, E, R> =>
  Effect.gen(function*() {
    const ticks = yield* Ref.make(0)
    const ticker = yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.sleep("10 millis"), Ref.update(ticks, (n) => n + 1)))
    )
    const start = yield* Clock.currentTimeMillis
    const before = yield* Ref.get(ticks)
    const result = yield* work
    const ticksDuring = (yield* Ref.get(ticks)) - before
    const elapsedMs = (yield* Clock.currentTimeMillis) - start
    yield* Fiber.interrupt(ticker)
    return { result, elapsedMs, ticksDuring }
  }).pipe(Effect.scoped)

/** The work on the main thread, in one synchronous block: nothing else runs until it is done. */
export const inline = (jobs: ReadonlyArray<Job>) =>
  Effect.sync(() => jobs.map((job) => ({ digest: hashRounds(job.data, job.rounds), threadId })))

/** The same work on the pool's threads, all jobs submitted at once. */
export const onPool = (pool: WorkerPool.WorkerPool<Hash>, jobs: ReadonlyArray<Job>) =>
  Effect.forEach(jobs, (job) => pool.execute(new Hash(job)), { concurrency: "unbounded" })

/** The worker module; `.ts` is loaded in the thread through tsx. */
export const workerModule = new URL("./process-pool/worker.ts", import.meta.url)

/** The cookbook entry (`npm run cookbook -- process-pool`). */
export const pattern = Pattern.make({
  name: "process-pool",
  title: "ProcessPoolExecutor (WorkerPool)",
  asyncio: "with ProcessPoolExecutor() as pool:\n    digest = await loop.run_in_executor(pool, cpu_bound, data)",
  primitive: "WorkerPool.make + pool.execute (Schema.TaggedRequest protocol)",
  summary: "CPU work on threads through a typed Schema protocol; the event loop keeps running, the pool closes with its scope.",
  run: Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ protocol: Protocol, worker: workerModule, size: 2 })
    const jobs = Array.from({ length: 4 }, (_, i) => ({ data: `block-${i}`, rounds: 60_000 }))
    const main = yield* withTicker(inline(jobs))
    const pooled = yield* withTicker(onPool(pool, jobs))
    const same = main.result.every((r, i) => r.digest === pooled.result[i]?.digest)
    const threads = [...new Set(pooled.result.map((r) => r.threadId))].join(", ")
    yield* Console.log(`4 jobs of 60,000 SHA-256 rounds:`)
    yield* Console.log(
      `  inline:  ${Pattern.formatMs(main.elapsedMs)}, the 10 ms ticker ticked ${main.ticksDuring} times (thread ${threadId})`
    )
    yield* Console.log(
      `  on pool: ${Pattern.formatMs(pooled.elapsedMs)}, the 10 ms ticker ticked ${pooled.ticksDuring} times (threads ${threads})`
    )
    yield* Console.log(`  same digests: ${same}`)
  }))
})
