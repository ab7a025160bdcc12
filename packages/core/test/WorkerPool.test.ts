import { describe, expect, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { execFile } from "node:child_process"
import { fileURLToPath, pathToFileURL } from "node:url"
import { threadId as mainThreadId } from "node:worker_threads"
import * as internal from "../src/internal/workerPool.js"
import * as WorkerPool from "../src/WorkerPool.js"
import {
  Boom,
  Crash,
  Die,
  Fail,
  hash,
  Hash,
  Interrupted,
  MainProtocol,
  Meet,
  NotServed,
  Protocol,
  Sleep,
  Spin,
  Whoami
} from "./fixtures/workerProtocol.js"

const serveModule = new URL("./fixtures/workerServe.ts", import.meta.url)

/** Served by `fixtures/workerPlain.mjs`: says how the thread loaded its module. */
class Loader extends Schema.TaggedRequest<Loader>()("Loader", {
  failure: Schema.Never,
  success: Schema.String,
  payload: {}
}) {}

type Request = typeof MainProtocol.Type

class TestPool extends Context.Tag("test/WorkerPool/TestPool")<TestPool, WorkerPool.WorkerPool<Request>>() {}

/** One pool of two threads shared by the tests below: thread startup through tsx costs about a second. */
const TestPoolLive = WorkerPool.layer(TestPool, { protocol: MainProtocol, worker: serveModule, size: 2 })

/**
 * The ids of the pool's threads: `size` requests that can only all finish if
 * they run at the same time, on different threads (a rendezvous on shared
 * memory). A pool that ran them one by one would answer `met: false`.
 */
const threadsOf = (pool: WorkerPool.WorkerPool<Request>) =>
  Effect.gen(function*() {
    const cell = new SharedArrayBuffer(4)
    const answers = yield* Effect.all(
      Array.from({ length: pool.size }, () => pool.execute(new Meet({ cell, parties: pool.size, timeoutMs: 20_000 }))),
      { concurrency: "unbounded" }
    )
    expect(answers.map((a) => a.met)).toEqual(answers.map(() => true))
    return answers.map((a) => a.threadId).sort((a, b) => a - b)
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

layer(TestPoolLive, { excludeTestServices: true, timeout: "60 seconds" })("WorkerPool (shared pool of 2)", (it) => {
  it.effect("round trip: requests run on worker threads and results decode", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const inputs = Array.from({ length: 8 }, (_, i) => `input-${i}`)
      const digests = yield* Effect.forEach(inputs, (data) => pool.execute(new Hash({ data, rounds: 2_000 })), {
        concurrency: "unbounded"
      })
      expect(digests).toEqual(inputs.map((data) => hash(data, 2_000)))
      const workerThread = yield* pool.execute(new Whoami())
      expect(workerThread).not.toBe(mainThreadId)
    }))

  it.effect("runs requests on all threads at once", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      expect(pool.size).toBe(2)
      const threads = yield* threadsOf(pool)
      expect(new Set(threads).size).toBe(2)
      expect(threads).not.toContain(mainThreadId)
    }))

  it.effect("a failure declared in the protocol comes back typed, and the thread stays", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const before = yield* threadsOf(pool)
      const exit = yield* Effect.exit(pool.execute(new Fail({ message: "nope" })))
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(Boom)
      expect(error).toMatchObject({ _tag: "Boom", message: "nope" })
      expect(yield* threadsOf(pool)).toEqual(before)
    }))

  it.effect("a handler defect is a defect, not a crash: the thread stays", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const before = yield* threadsOf(pool)
      const exit = yield* Effect.exit(pool.execute(new Die({ message: "handler bug" })))
      expect(failureOf(exit)).toBeUndefined()
      expect(messageOf(defectOf(exit))).toBe("handler bug")
      expect(yield* threadsOf(pool)).toEqual(before)
    }))

  it.effect("a request the worker does not serve fails with WorkerProtocolError", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const error = failureOf(yield* Effect.exit(pool.execute(new NotServed())))
      expect(error).toBeInstanceOf(WorkerPool.WorkerProtocolError)
      expect(error).toMatchObject({ _tag: "WorkerProtocolError", request: "NotServed", reason: "decode" })
      expect(yield* pool.execute(new Hash({ data: "still fine", rounds: 1 }))).toBe(hash("still fine", 1))
    }))

  it.effect("process.exit in the worker: WorkerCrashed for the request, the thread is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const before = yield* threadsOf(pool)
      const error = failureOf(yield* Effect.exit(pool.execute(new Crash({ how: "exit" }))))
      expect(error).toBeInstanceOf(WorkerPool.WorkerCrashed)
      if (!(error instanceof WorkerPool.WorkerCrashed)) return
      expect(error.request).toBe("Crash")
      expect(before).toContain(error.threadId)
      expect(messageOf(error.cause)).toContain("exited with code 3")
      expect(error.message).toContain(`Worker #${error.workerId}`)
      // the crashed thread was replaced, the other one kept
      const after = yield* threadsOf(pool)
      expect(after).not.toContain(error.threadId)
      expect(after.filter((id) => before.includes(id))).toHaveLength(1)
      const digests = yield* Effect.forEach([1, 2, 3, 4], (i) => pool.execute(new Hash({ data: `${i}`, rounds: 10 })), {
        concurrency: "unbounded"
      })
      expect(digests).toEqual([1, 2, 3, 4].map((i) => hash(`${i}`, 10)))
    }))

  it.effect("an uncaught exception in the worker: WorkerCrashed with the thrown error, the thread is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const before = yield* threadsOf(pool)
      const error = failureOf(yield* Effect.exit(pool.execute(new Crash({ how: "throw" }))))
      expect(error).toBeInstanceOf(WorkerPool.WorkerCrashed)
      if (!(error instanceof WorkerPool.WorkerCrashed)) return
      expect(messageOf(error.cause)).toBe("boom outside any effect")
      const after = yield* threadsOf(pool)
      expect(after).not.toContain(error.threadId)
      expect(after.filter((id) => before.includes(id))).toHaveLength(1)
      expect(yield* pool.execute(new Hash({ data: "after", rounds: 3 }))).toBe(hash("after", 3))
    }))

  it.effect("interrupting a busy request terminates its thread at once and replaces it", () =>
    Effect.gen(function*() {
      const pool = yield* TestPool
      const before = yield* threadsOf(pool)
      const started = performance.now()
      // The handler spins for 60 s without yielding: only terminating the
      // thread ends it. Without that, the interruption would wait for it.
      const exit = yield* Effect.exit(pool.execute(new Spin({ ms: 60_000 })).pipe(Effect.timeout("200 millis")))
      const elapsed = performance.now() - started
      expect(failureOf(exit)).toMatchObject({ _tag: "TimeoutException" })
      expect(elapsed).toBeLessThan(10_000)
      const after = yield* threadsOf(pool)
      expect(after.filter((id) => before.includes(id))).toHaveLength(1)
      expect(yield* pool.execute(new Spin({ ms: 1 }))).toBe(1)
    }))
})

describe("WorkerPool", () => {
  it.live("onInterrupt: \"cancel\" interrupts the handler inside the thread and keeps the thread", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ protocol: Protocol, worker: serveModule, size: 1, onInterrupt: "cancel" })
      const thread = yield* pool.execute(new Whoami())
      const exit = yield* Effect.exit(pool.execute(new Sleep({ ms: 60_000 })).pipe(Effect.timeout("100 millis")))
      expect(failureOf(exit)).toMatchObject({ _tag: "TimeoutException" })
      // The cancel message and the next request travel on the same port, in order.
      expect(yield* pool.execute(new Interrupted())).toBe(1)
      expect(yield* pool.execute(new Whoami())).toBe(thread)
    }).pipe(Effect.scoped), 60_000)

  it.live("a thread over its heap limit: WorkerCrashed (out of memory), the thread is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({
        protocol: Protocol,
        worker: serveModule,
        size: 1,
        resourceLimits: { maxOldGenerationSizeMb: 64 }
      })
      const thread = yield* pool.execute(new Whoami())
      const error = failureOf(yield* Effect.exit(pool.execute(new Crash({ how: "oom" }))))
      expect(error).toBeInstanceOf(WorkerPool.WorkerCrashed)
      expect(error).toMatchObject({ threadId: thread, cause: { code: "ERR_WORKER_OUT_OF_MEMORY" } })
      const replacement = yield* pool.execute(new Whoami())
      expect(replacement).not.toBe(thread)
    }).pipe(Effect.scoped), 60_000)

  it.live("a worker module that throws while loading fails make with WorkerSpawnError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        WorkerPool.make({ protocol: Protocol, worker: new URL("./fixtures/workerBroken.ts", import.meta.url), size: 2 })
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(WorkerPool.WorkerSpawnError)
      if (!(error instanceof WorkerPool.WorkerSpawnError)) return
      expect(messageOf(error.cause)).toBe("workerBroken refuses to load")
      expect(error.worker).toMatch(/workerBroken\.ts$/)
    }).pipe(Effect.scoped), 60_000)

  it.live("a missing worker module fails make with WorkerSpawnError", () =>
    Effect.gen(function*() {
      const missing = fileURLToPath(new URL("./fixtures/workerMissing.ts", import.meta.url))
      const error = failureOf(yield* Effect.exit(WorkerPool.make({ protocol: Protocol, worker: missing, size: 1 })))
      expect(error).toBeInstanceOf(WorkerPool.WorkerSpawnError)
      expect(error?.message).toContain("workerMissing.ts")
    }).pipe(Effect.scoped), 60_000)

  it.live("a worker too slow to start fails make after startupTimeout", () =>
    Effect.gen(function*() {
      const error = failureOf(
        yield* Effect.exit(
          WorkerPool.make({ protocol: Protocol, worker: serveModule, size: 1, startupTimeout: "1 millis" })
        )
      )
      expect(error).toBeInstanceOf(WorkerPool.WorkerSpawnError)
      expect(messageOf(error?.cause)).toContain("not ready after")
    }).pipe(Effect.scoped), 60_000)

  it.live("a JavaScript worker module is spawned directly, without the tsx shim", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({
        protocol: Loader,
        worker: new URL("./fixtures/workerPlain.mjs", import.meta.url),
        size: 1
      })
      expect(yield* pool.execute(new Loader())).toBe("direct")
    }).pipe(Effect.scoped), 60_000)

  it("works from a script run with `tsx` (the tsx CLI's loader and the shim together)", async () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url))
    const script = fileURLToPath(new URL("./fixtures/workerCli.ts", import.meta.url))
    const tsxCli = fileURLToPath(new URL("../../../node_modules/tsx/dist/cli.mjs", import.meta.url))
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [tsxCli, script], { cwd: root, timeout: 60_000 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)
      )
    )
    const result: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "")
    expect(result).toEqual({ digest: hash("from the CLI", 100), inWorkerThread: true })
  }, 60_000)
})

describe("WorkerPool internals", () => {
  it("resolves the worker module from a URL, a file: URL string or a path", () => {
    const url = new URL("file:///srv/app/worker.ts")
    expect(internal.resolveModule(url)).toBe(url)
    expect(internal.resolveModule("file:///srv/app/worker.ts").href).toBe("file:///srv/app/worker.ts")
    expect(internal.resolveModule("/srv/app/worker.js").href).toBe("file:///srv/app/worker.js")
    expect(internal.resolveModule("worker.ts").href).toBe(pathToFileURL(`${process.cwd()}/worker.ts`).href)
  })

  it("drops only tsx's loader flags from the inherited execArgv", () => {
    expect(
      internal.withoutTsxLoader([
        "--require",
        "/app/node_modules/tsx/dist/preflight.cjs",
        "--import",
        "file:///app/node_modules/tsx/dist/loader.mjs",
        "--enable-source-maps",
        "--import=tsx",
        "--import",
        "./telemetry.mjs",
        "-r",
        "dotenv/config"
      ])
    ).toEqual(["--enable-source-maps", "--import", "./telemetry.mjs", "-r", "dotenv/config"])
  })

  it("the default size leaves a core to the event loop", () => {
    expect(internal.defaultSize()).toBeGreaterThanOrEqual(1)
  })
})
