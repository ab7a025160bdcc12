/**
 * 100,000 tiny async tasks (each resolves on the next `setImmediate`) through
 * KeyedSemaphore and WorkQueue, against p-limit and p-queue in the same run:
 * `npx tsx bench/concurrency/index.ts` (or `npm run bench -- concurrency`).
 *
 * Each case runs in its own child process, so one case's heap cannot inflate
 * another's memory figures, and rounds interleave the cases so background
 * load hits them alike. In a child: a first, cold run of the task set gives
 * the memory figures (peak heap used and peak RSS above the idle process,
 * sampled every 2 ms and at the end); a second, warm run gives the time. Reported: the median over rounds of each figure, and ratios to the
 * group's baseline (the npm peer).
 *
 *   ROUNDS=5 npx tsx bench/concurrency/index.ts    # more rounds (default 3)
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import * as V8 from "node:v8"
import { runInNewContext } from "node:vm"
import { pLimit, PQueue } from "@fiberkit/bench-peers"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Stream from "effect/Stream"
import * as KeyedSemaphore from "../../packages/core/src/KeyedSemaphore.js"
import * as WorkQueue from "../../packages/core/src/WorkQueue.js"

const TASKS = 100_000
const KEYS = 1_000
const PER_KEY = 2
const TOTAL = 64
const WORKERS = 64
const CAPACITY = 1_024
const ROUNDS = Number(process.env.ROUNDS ?? 3)

// ---------------------------------------------------------------------------
// The task, in both worlds
// ---------------------------------------------------------------------------

const promiseTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const effectTask: Effect.Effect<void> = Effect.async<void>((resume) => {
  setImmediate(resume, Effect.void)
})

const keys = Array.from({ length: KEYS }, (_, i) => `host-${i}.example`)
const keyOf = (i: number): string => keys[i % KEYS] ?? "host-0.example"
const items = Array.from({ length: TASKS }, (_, i) => i)

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

interface Case {
  readonly group: string
  readonly name: string
  /** Whether this case is its group's baseline. */
  readonly baseline?: boolean
  /** Runs all TASKS tasks once and resolves when every one has finished. */
  readonly run: () => Promise<void>
}

const keyedGroup = `${TASKS.toLocaleString("en-US")} tasks over ${KEYS} keys, ${PER_KEY} at once per key`
const queueGroup = `${TASKS.toLocaleString("en-US")} tasks through a queue, ${WORKERS} at once`

/**
 * The Effect rows of the keyed group run the tasks on FIBERS fibers, each
 * taking the next task index until none is left: 10 tasks want each key at a
 * time and 2 may run, so the per-key queues are exercised. Not
 * `Effect.forEach`: it keeps every child fiber until the whole call ends and
 * then joins their FiberRefs one by one, which here costs more time and
 * memory than the semaphore under test (with `concurrency: "unbounded"`,
 * ~80 µs per element for a no-op body). The FiberSet row submits every task
 * as its own fiber at once, as p-limit does with promises.
 */
const FIBERS = 10_000

const onFibers = (fibers: number, task: (i: number) => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    let next = 0
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      next < TASKS ? Effect.flatMap(task(next++), () => loop) : Effect.void
    )
    const set = yield* FiberSet.make()
    for (let k = 0; k < fibers; k++) yield* FiberSet.run(set, loop)
    yield* FiberSet.awaitEmpty(set)
  }))

const keyedOver = (task: (i: number) => Effect.Effect<void>) => onFibers(FIBERS, task)

const cases: ReadonlyArray<Case> = [
  {
    group: keyedGroup,
    name: "p-limit, one limiter per key",
    baseline: true,
    run: async () => {
      const limits = new Map<string, <A>(fn: () => Promise<A>) => Promise<A>>()
      for (const key of keys) limits.set(key, pLimit(PER_KEY))
      await Promise.all(items.map((i) => {
        const limit = limits.get(keyOf(i))
        if (limit === undefined) throw new Error("missing limiter")
        return limit(promiseTask)
      }))
    }
  },
  {
    group: keyedGroup,
    name: `(floor) no limiter, ${FIBERS.toLocaleString("en-US")} fibers`,
    run: () => Effect.runPromise(keyedOver(() => effectTask))
  },
  {
    group: keyedGroup,
    name: `KeyedSemaphore, ${FIBERS.toLocaleString("en-US")} fibers`,
    run: () =>
      Effect.runPromise(Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: PER_KEY })
        yield* keyedOver((i) => sem.withPermit(keyOf(i))(effectTask))
      }))
  },
  {
    group: keyedGroup,
    name: `Effect.makeSemaphore per key, ${FIBERS.toLocaleString("en-US")} fibers`,
    run: () =>
      Effect.runPromise(Effect.gen(function*() {
        const sems = new Map<string, Effect.Semaphore>()
        for (const key of keys) sems.set(key, yield* Effect.makeSemaphore(PER_KEY))
        yield* keyedOver((i) => {
          const sem = sems.get(keyOf(i))
          return sem === undefined ? Effect.dieMessage("missing semaphore") : sem.withPermits(1)(effectTask)
        })
      }))
  },
  {
    group: keyedGroup,
    name: "KeyedSemaphore, a fiber per task (FiberSet)",
    run: () =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: PER_KEY })
        const set = yield* FiberSet.make()
        for (const i of items) yield* FiberSet.run(set, sem.withPermit(keyOf(i))(effectTask))
        yield* FiberSet.awaitEmpty(set)
      })))
  },
  {
    group: keyedGroup,
    name: `p-limit per key + global p-limit(${TOTAL})`,
    run: async () => {
      const global = pLimit(TOTAL)
      const limits = new Map<string, <A>(fn: () => Promise<A>) => Promise<A>>()
      for (const key of keys) limits.set(key, pLimit(PER_KEY))
      // Per key first, then the global slot: holding a global slot while queued per key would waste it.
      const inGlobal = () => global(promiseTask)
      await Promise.all(items.map((i) => {
        const limit = limits.get(keyOf(i))
        if (limit === undefined) throw new Error("missing limiter")
        return limit(inGlobal)
      }))
    }
  },
  {
    group: keyedGroup,
    name: `KeyedSemaphore + total ${TOTAL} (round-robin), ${FIBERS.toLocaleString("en-US")} fibers`,
    run: () =>
      Effect.runPromise(Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: PER_KEY, total: TOTAL })
        yield* keyedOver((i) => sem.withPermit(keyOf(i))(effectTask))
      }))
  },
  {
    group: queueGroup,
    name: "p-queue, all added up front",
    baseline: true,
    run: async () => {
      const queue = new PQueue({ concurrency: WORKERS })
      for (let i = 0; i < TASKS; i++) void queue.add(promiseTask)
      await queue.onIdle()
    }
  },
  {
    group: queueGroup,
    name: `p-queue, producer bounded to ${CAPACITY} queued`,
    run: async () => {
      const queue = new PQueue({ concurrency: WORKERS })
      for (let i = 0; i < TASKS; i++) {
        if (queue.size >= CAPACITY) await queue.onSizeLessThan(CAPACITY)
        void queue.add(promiseTask)
      }
      await queue.onIdle()
    }
  },
  {
    group: queueGroup,
    name: `Effect.forEach, concurrency ${WORKERS}`,
    run: () => Effect.runPromise(Effect.forEach(items, () => effectTask, { concurrency: WORKERS, discard: true }))
  },
  {
    group: queueGroup,
    name: `WorkQueue, capacity ${CAPACITY}, per-item outcomes`,
    run: () =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        let done = 0
        const queue = yield* WorkQueue.make({
          capacity: CAPACITY,
          workers: WORKERS,
          process: (_: number) => effectTask,
          onOutcome: () => Effect.sync(() => done++)
        })
        yield* queue.offerAll(items)
        yield* queue.drain
        if (done !== TASKS) return yield* Effect.dieMessage(`only ${done} outcomes`)
      })))
  },
  {
    group: queueGroup,
    name: `WorkQueue.stage (Stream), capacity ${CAPACITY}`,
    run: () =>
      Effect.runPromise(
        Stream.fromIterable(items).pipe(
          WorkQueue.stage((_: number) => effectTask, { workers: WORKERS, capacity: CAPACITY }),
          Stream.runDrain
        )
      )
  }
]

// ---------------------------------------------------------------------------
// Child: one case
// ---------------------------------------------------------------------------

interface Measured {
  readonly ms: number
  readonly heapMB: number
  readonly rssMB: number
}

const MB = 1024 * 1024

const gc = (): void => {
  V8.setFlagsFromString("--expose-gc")
  const collect: unknown = runInNewContext("gc")
  if (typeof collect === "function") collect()
}

/** Runs `run` once, sampling memory; returns the peaks above the values measured just before. */
const withMemory = async (run: () => Promise<void>): Promise<{ readonly heap: number; readonly rss: number }> => {
  gc()
  const before = process.memoryUsage()
  let heap = before.heapUsed
  let rss = before.rss
  const sample = () => {
    const now = process.memoryUsage()
    if (now.heapUsed > heap) heap = now.heapUsed
    if (now.rss > rss) rss = now.rss
  }
  const timer = setInterval(sample, 2)
  try {
    await run()
  } finally {
    clearInterval(timer)
  }
  sample()
  return { heap: heap - before.heapUsed, rss: rss - before.rss }
}

const timed = async (run: () => Promise<void>): Promise<number> => {
  gc()
  const start = performance.now()
  await run()
  return performance.now() - start
}

const child = async (name: string): Promise<void> => {
  const c = cases.find((candidate) => candidate.name === name)
  if (c === undefined) throw new Error(`no case named ${name}`)
  const memory = await withMemory(c.run)
  const ms = await timed(c.run)
  const result: Measured = { ms, heapMB: memory.heap / MB, rssMB: memory.rss / MB }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

// ---------------------------------------------------------------------------
// Parent: rounds of children, then the table
// ---------------------------------------------------------------------------

const self = fileURLToPath(import.meta.url)

const runChild = (name: string): Measured => {
  const out = ChildProcess.spawnSync(process.execPath, [...process.execArgv, self, "--case", name], {
    encoding: "utf8",
    maxBuffer: 1024 * 1024
  })
  if (out.status !== 0) throw new Error(`case ${name} failed (${out.status ?? out.signal}):\n${out.stderr}`)
  const line = out.stdout.trim().split("\n").pop() ?? ""
  const parsed: unknown = JSON.parse(line)
  if (
    typeof parsed === "object" && parsed !== null && "ms" in parsed && "heapMB" in parsed && "rssMB" in parsed &&
    typeof parsed.ms === "number" && typeof parsed.heapMB === "number" && typeof parsed.rssMB === "number"
  ) return { ms: parsed.ms, heapMB: parsed.heapMB, rssMB: parsed.rssMB }
  throw new Error(`case ${name} printed ${line}`)
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}

const parent = (): void => {
  const results = new Map<Case, Array<Measured>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const list = results.get(c) ?? []
      list.push(runChild(c.name))
      results.set(c, list)
    }
  }
  const summary = new Map<Case, Measured>()
  for (const [c, list] of results) {
    summary.set(c, {
      ms: median(list.map((m) => m.ms)),
      heapMB: median(list.map((m) => m.heapMB)),
      rssMB: median(list.map((m) => m.rssMB))
    })
  }
  const width = Math.max(...cases.map((c) => c.name.length))
  const num = (n: number, digits = 0) =>
    n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "-")
  console.log(
    `node ${process.version}, ${ROUNDS} rounds, one process per case and round; ` +
      `time: a warm run; memory: peak above idle in the first (cold) run; medians over rounds`
  )
  let group = ""
  for (const c of cases) {
    if (c.group !== group) {
      group = c.group
      console.log(`\n${group}`)
      console.log(
        `  ${"case".padEnd(width)}  ${"tasks/s".padStart(10)}  ${"vs peer".padStart(7)}  ` +
          `${"heap MB".padStart(8)}  ${"vs peer".padStart(7)}  ${"RSS MB".padStart(7)}  ${"vs peer".padStart(7)}`
      )
    }
    const m = summary.get(c)
    const base = summary.get(cases.find((other) => other.group === c.group && other.baseline === true) ?? c)
    if (m === undefined || base === undefined) continue
    const tps = (TASKS / m.ms) * 1000
    const baseTps = (TASKS / base.ms) * 1000
    const mark = c.baseline === true
    console.log(
      `  ${c.name.padEnd(width)}  ${num(tps).padStart(10)}  ${(mark ? "base" : ratio(tps, baseTps)).padStart(7)}  ` +
        `${num(m.heapMB, 1).padStart(8)}  ${(mark ? "base" : ratio(m.heapMB, base.heapMB)).padStart(7)}  ` +
        `${num(m.rssMB, 1).padStart(7)}  ${(mark ? "base" : ratio(m.rssMB, base.rssMB)).padStart(7)}`
    )
  }
  console.log("\nthroughput ratio > 1: faster than the peer; memory ratio < 1: less memory than the peer.")
}

const caseIndex = process.argv.indexOf("--case")
const caseName = caseIndex >= 0 ? process.argv[caseIndex + 1] : undefined
if (caseName !== undefined) {
  child(caseName).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
} else {
  parent()
}
