/**
 * The module each worker thread of the process-pool pattern runs.
 */
import { WorkerPool } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import { threadId } from "node:worker_threads"
import { hashRounds, Protocol } from "./protocol.js"

WorkerPool.serve(Protocol, {
  Hash: ({ data, rounds }) => Effect.sync(() => ({ digest: hashRounds(data, rounds), threadId }))
})
