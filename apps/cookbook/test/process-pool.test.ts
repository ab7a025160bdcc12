import { WorkerPool } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { threadId } from "node:worker_threads"
import { inline, onPool, withTicker, workerModule } from "../src/patterns/process-pool.js"
import { hashRounds, Protocol } from "../src/patterns/process-pool/protocol.js"

const jobs = Array.from({ length: 4 }, (_, i) => ({ data: `block-${i}`, rounds: 20_000 }))

describe("process-pool", () => {
  it.scopedLive("the same work on the pool gives the same digests, on other threads, and the main loop keeps running", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ protocol: Protocol, worker: workerModule, size: 2 })
      const pooled = yield* withTicker(onPool(pool, jobs))
      expect(pooled.result.map((r) => r.digest)).toEqual(jobs.map((job) => hashRounds(job.data, job.rounds)))
      const threads = new Set(pooled.result.map((r) => r.threadId))
      expect(threads.has(threadId)).toBe(false)
      // the 10 ms ticker on the main thread ran while the threads hashed
      expect(pooled.ticksDuring).toBeGreaterThan(0)
    }), 60_000)

  it.scopedLive("inline, the work holds the event loop: the ticker cannot tick once until it is done", () =>
    Effect.gen(function*() {
      const main = yield* withTicker(inline(jobs))
      expect(main.result.every((r) => r.threadId === threadId)).toBe(true)
      expect(main.elapsedMs).toBeGreaterThan(10)
      expect(main.ticksDuring).toBe(0)
    }))
})
