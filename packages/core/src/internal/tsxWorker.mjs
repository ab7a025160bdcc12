// The entry of worker threads whose module is TypeScript. Node cannot import
// `.ts` by itself, and a worker thread does not inherit module hooks that were
// registered in the spawning thread (vitest transforms files in its own
// loader; `tsx script.ts` only passes its hooks on through `execArgv`), so the
// thread registers tsx itself and then imports the real worker module, whose
// URL the pool passes in `workerData`.
import { workerData } from "node:worker_threads"

// Every module import made once tsx's hooks are registered crosses to the
// hooks thread, which makes loading Effect two to three times slower. What
// `WorkerPool.serve` needs from node_modules is loaded natively first; the
// worker module's imports of it then hit the module cache.
await Promise.all([
  import("effect/Effect"),
  import("effect/Layer"),
  import("effect/Schema"),
  import("effect/Pool"),
  import("@effect/platform/Worker"),
  import("@effect/platform/WorkerRunner"),
  import("@effect/platform-node/NodeRuntime"),
  import("@effect/platform-node/NodeWorker"),
  import("@effect/platform-node/NodeWorkerRunner")
])

const { register } = await import("tsx/esm/api")
register()
await import(workerData.fiberkitWorkerModule)
