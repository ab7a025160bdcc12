/**
 * Micro-benchmark of KeyedSemaphore and KeyedRateLimiter against Effect's own
 * semaphore, in one process and one run: `npx tsx bench/keyed.ts`.
 *
 * Each case runs `ops` operations. After a warm-up pass, rounds run every
 * case once in turn (so background load hits all cases alike) and the best
 * round of each case is reported. Ratios are against the group's baseline,
 * always `Effect.makeSemaphore(...).withPermits(1)`.
 */
import * as Effect from "effect/Effect"
import * as KeyedRateLimiter from "../packages/core/src/KeyedRateLimiter.js"
import * as KeyedSemaphore from "../packages/core/src/KeyedSemaphore.js"

interface Case {
  readonly group: string
  readonly name: string
  readonly ops: number
  /** The case this group is compared against; defaults to the group's first case. */
  readonly baseline?: string
  /** Builds a fresh program performing `ops` operations. */
  readonly program: () => Effect.Effect<void>
}

const SEQUENTIAL = 200_000
const FIBERS = 32
const PER_FIBER = 5_000
const ROUNDS = 7

/** `ops` sequential runs of `op(i)` in one fiber. */
const sequential = (ops: number, op: (i: number) => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < ops; i++) yield* op(i)
  })

/** `FIBERS` fibers each running `op` `PER_FIBER` times; the work inside yields so fibers interleave. */
const contended = (op: (self: Effect.Effect<void>) => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.all(
    Array.from({ length: FIBERS }, () => sequential(PER_FIBER, () => op(Effect.yieldNow()))),
    { concurrency: "unbounded", discard: true }
  )

const cases: Array<Case> = [
  {
    group: "uncontended permit",
    name: "Effect.makeSemaphore(1).withPermits(1)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(Effect.makeSemaphore(1), (sem) => sequential(SEQUENTIAL, () => sem.withPermits(1)(Effect.void)))
  },
  {
    group: "uncontended permit",
    name: "KeyedSemaphore.withPermit(same key)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedSemaphore.make<string>({ permits: 4 }),
        (sem) => sequential(SEQUENTIAL, () => sem.withPermit("example.com")(Effect.void))
      )
  },
  {
    group: "uncontended permit",
    name: "KeyedSemaphore.withPermit(new key each op)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedSemaphore.make<string>({ permits: 4 }),
        (sem) => sequential(SEQUENTIAL, (i) => sem.withPermit(`host-${i}`)(Effect.void))
      )
  },
  {
    group: "uncontended permit",
    name: "KeyedSemaphore.withPermit(permits: Infinity)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedSemaphore.make<string>({ permits: Infinity }),
        (sem) => sequential(SEQUENTIAL, () => sem.withPermit("example.com")(Effect.void))
      )
  },
  {
    group: "contended: 32 fibers, 4 permits",
    name: "Effect.makeSemaphore(4).withPermits(1)",
    ops: FIBERS * PER_FIBER,
    program: () => Effect.flatMap(Effect.makeSemaphore(4), (sem) => contended(sem.withPermits(1)))
  },
  {
    group: "contended: 32 fibers, 4 permits",
    name: "KeyedSemaphore.withPermit(one key)",
    ops: FIBERS * PER_FIBER,
    program: () =>
      Effect.flatMap(KeyedSemaphore.make<string>({ permits: 4 }), (sem) => contended(sem.withPermit("example.com")))
  },
  {
    group: "contended: 32 fibers, 4 permits",
    name: "no semaphore (work only)",
    ops: FIBERS * PER_FIBER,
    program: () => contended((self) => self)
  },
  {
    group: "rate limiter take",
    name: "KeyedRateLimiter.take(perSecond: Infinity)",
    baseline: "Effect.makeSemaphore(1).withPermits(1)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedRateLimiter.make<string>({ perSecond: Infinity }),
        (limiter) => sequential(SEQUENTIAL, () => limiter.take("example.com"))
      )
  },
  {
    group: "rate limiter take",
    name: "KeyedRateLimiter.take(1e9/s, burst 1e6)",
    baseline: "Effect.makeSemaphore(1).withPermits(1)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedRateLimiter.make<string>({ perSecond: 1e9, burst: 1e6 }),
        (limiter) => sequential(SEQUENTIAL, () => limiter.take("example.com"))
      )
  },
  {
    group: "rate limiter take",
    name: "KeyedRateLimiter.take(10/s, new key each op)",
    baseline: "Effect.makeSemaphore(1).withPermits(1)",
    ops: SEQUENTIAL,
    program: () =>
      Effect.flatMap(
        KeyedRateLimiter.make<string>({ perSecond: 10 }),
        (limiter) => sequential(SEQUENTIAL, (i) => limiter.take(`host-${i}`))
      )
  },
  {
    group: "per-request stack (global + host permit + host token)",
    name: "Effect.makeSemaphore x2, no rate",
    ops: SEQUENTIAL,
    program: () =>
      Effect.gen(function*() {
        const global = yield* Effect.makeSemaphore(64)
        const host = yield* Effect.makeSemaphore(4)
        yield* sequential(SEQUENTIAL, () => Effect.void.pipe(host.withPermits(1), global.withPermits(1)))
      })
  },
  {
    group: "per-request stack (global + host permit + host token)",
    name: "Effect sem + KeyedSemaphore + KeyedRateLimiter",
    ops: SEQUENTIAL,
    program: () =>
      Effect.gen(function*() {
        const global = yield* Effect.makeSemaphore(64)
        const perHost = yield* KeyedSemaphore.make<string>({ permits: 4 })
        const rate = yield* KeyedRateLimiter.make<string>({ perSecond: 1e9, burst: 1e6 })
        yield* sequential(SEQUENTIAL, (i) => {
          const host = `host-${i & 1023}`
          return Effect.void.pipe(rate.withToken(host), perHost.withPermit(host), global.withPermits(1))
        })
      })
  },
  {
    group: "per-request stack (global + host permit + host token)",
    name: "KeyedSemaphore x2 (global = one key) + KeyedRateLimiter",
    ops: SEQUENTIAL,
    program: () =>
      Effect.gen(function*() {
        const global = yield* KeyedSemaphore.make<string>({ permits: 64 })
        const perHost = yield* KeyedSemaphore.make<string>({ permits: 4 })
        const rate = yield* KeyedRateLimiter.make<string>({ perSecond: 1e9, burst: 1e6 })
        const withGlobal = global.withPermit("all")
        yield* sequential(SEQUENTIAL, (i) => {
          const host = `host-${i & 1023}`
          return Effect.void.pipe(rate.withToken(host), perHost.withPermit(host), withGlobal)
        })
      })
  }
]

const time = async (program: Effect.Effect<void>): Promise<number> => {
  const start = performance.now()
  await Effect.runPromise(program)
  return performance.now() - start
}

const main = async () => {
  for (const c of cases) await time(c.program())
  const best = new Map<Case, number>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) best.set(c, Math.min(best.get(c) ?? Infinity, await time(c.program())))
  }
  const opsPerSec = (c: Case) => (c.ops / (best.get(c) ?? Infinity)) * 1000
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
  const width = Math.max(...cases.map((c) => c.name.length))
  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds, best round per case`)
  let group = ""
  for (const c of cases) {
    if (c.group !== group) {
      group = c.group
      console.log(`\n${group}`)
      console.log(`  ${"case".padEnd(width)}  ${"ops/s".padStart(11)}  ${"ns/op".padStart(6)}  vs baseline`)
    }
    const first = cases.find((other) => other.group === c.group)
    const baselineName = c.baseline ?? first?.name
    const baseline = cases.find((other) => other.name === baselineName)
    const isBaseline = baseline === c
    const ratio = baseline === undefined ? "" : `${(opsPerSec(c) / opsPerSec(baseline)).toFixed(2)}x`
    console.log(
      `  ${c.name.padEnd(width)}  ${fmt(opsPerSec(c)).padStart(11)}  ${(1e9 / opsPerSec(c)).toFixed(0).padStart(6)}  ${
        isBaseline ? "(baseline)" : ratio
      }`
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
