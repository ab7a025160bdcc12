/**
 * `BufferedWriter` on SQLite and Postgres: batches by size and linger
 * (TestClock), flush and drain on close, and REAL database outages — on
 * SQLite another connection holds the write lock (`BEGIN EXCLUSIVE`) while
 * the writer's busy timeout is 20 ms; on Postgres another connection holds
 * `LOCK TABLE aggregates IN ACCESS EXCLUSIVE MODE` while the writer's
 * `statement_timeout` is 250 ms — with exact counts: buffered, then
 * written when the lock goes; over the bound exactly the oldest are dropped,
 * counted, and reported; rows the database refuses are rejected alone.
 */
import { expect, it } from "@effect/vitest"
import type { Db } from "@fiberkit/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { createRequire } from "node:module"
import * as BufferedWriter from "../src/BufferedWriter.js"
import type { Aggregate, Quote } from "../src/Model.js"
import { Deque } from "../src/internal/deque.js"
import * as Store from "../src/Store.js"
import { count, eventually, forEachDialect, type Harness, openDb, openStore, prng } from "./storeHarness.js"

// better-sqlite3 comes with @effect/sql-sqlite-node (no types of its own here): just what the lock needs.
interface SqliteDatabase {
  exec(sql: string): void
  close(): void
}
const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(
  filename: string,
  options?: { readonly timeout?: number }
) => SqliteDatabase

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const T0 = 1_717_000_000_000

const quote = (i: number): Quote => ({
  source: `s${i % 3}`,
  symbol: "BTCUSDT",
  price: 67_000 + i,
  bid: null,
  ask: null,
  volume: i,
  quotedAt: T0 + i,
  receivedAt: T0 + i,
  latencyMs: 1
})

const aggregate = (i: number): Aggregate => ({
  symbol: "BTCUSDT",
  tick: T0 + i * 1_000,
  status: "ok",
  price: 67_000 + i,
  mean: 67_000 + i,
  vwap: null,
  min: 67_000 + i,
  max: 67_000 + i,
  spread: 0,
  dispersion: 0,
  quorum: 1,
  contributions: [{ source: "s0", price: 67_000 + i, volume: null, ageMs: 0, deviation: 0 }],
  exclusions: []
})

/** Items (quote `i`, aggregate `i`) for `i` in `[from, to)`. */
const pairs = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ quotes: [quote(from + k)], aggregates: [aggregate(from + k)] }))

const captureLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const ints = (db: Db.Service, text: string): Effect.Effect<ReadonlyArray<number>> =>
  Effect.orDie(Effect.map(db.typed(db.sql.unsafe<{ readonly v: number | string }>(text)), (rows) => rows.map((r) => Number(r.v))))

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k)

const writerOn = (store: Store.Service, options: BufferedWriter.Options) =>
  Effect.provideService(BufferedWriter.make(options), Store.Store, store)

/**
 * The settings the writer's own database uses in the outage tests: failing
 * fast while the lock is held (and no transparent retries inside Db, so
 * every failure reaches the writer).
 */
const fastFailing = (h: Harness, input: Db.Input): Db.Input =>
  h.dialect === "sqlite"
    ? { ...input, busyTimeout: "20 millis", retry: false }
    : { ...input, statementTimeout: "250 millis", retry: false }

/**
 * Takes the database's write lock from another connection, for real, and
 * returns the effect that releases it. SQLite: a second better-sqlite3
 * connection in `BEGIN EXCLUSIVE`. Postgres: a transaction of a second pool
 * holding `LOCK TABLE aggregates IN ACCESS EXCLUSIVE MODE`.
 */
const lockDatabase = (h: Harness, input: Db.Input): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (h.dialect === "sqlite") {
      const filename = input.filename
      if (filename === undefined) return yield* Effect.dieMessage("the SQLite harness names a file")
      const conn = yield* Effect.acquireRelease(
        Effect.sync(() => new Sqlite(filename, { timeout: 0 })),
        (c) => Effect.sync(() => c.close())
      )
      conn.exec("BEGIN EXCLUSIVE")
      let held = true
      const release = Effect.sync(() => {
        if (held) conn.exec("COMMIT")
        held = false
      })
      yield* Effect.addFinalizer(() => release)
      return release
    }
    const locker = yield* openDb(input)
    const locked = yield* Deferred.make<void>()
    const unlock = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      locker.transaction(Effect.gen(function*() {
        yield* locker.sql`LOCK TABLE aggregates IN ACCESS EXCLUSIVE MODE`
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(unlock)
      }))
    )
    yield* Deferred.await(locked)
    const release = Effect.zipRight(Deferred.succeed(unlock, undefined), Effect.orDie(Fiber.join(fiber)))
    yield* Effect.addFinalizer(() => Effect.ignore(release))
    return Effect.asVoid(release)
  })

const droppedCounter = Effect.map(Metric.value(BufferedWriter.metrics.dropped), (s) => s.count)

it("the ring buffer behind the writer agrees with a plain array under random operations", () => {
  for (const seed of [1, 2, 3, 4]) {
    const random = prng(seed)
    const deque = new Deque<number>(2)
    let model: Array<number> = []
    let next = 0
    for (let step = 0; step < 1_500; step++) {
      const r = random()
      if (r < 0.5) {
        deque.push(next)
        model.push(next++)
      } else if (r < 0.7) {
        const n = Math.floor(random() * 8)
        expect(deque.take(n)).toEqual(model.slice(0, n))
        model = model.slice(n)
      } else if (r < 0.8) {
        const n = Math.floor(random() * 8)
        expect(deque.drop(n)).toBe(Math.min(n, model.length))
        model = model.slice(n)
      } else {
        const back = Array.from({ length: Math.floor(random() * 40) }, () => next++)
        deque.unshiftAll(back)
        model = [...back, ...model]
      }
      expect(deque.size).toBe(model.length)
      expect(deque.peek()).toBe(model[0])
    }
    expect(deque.take(model.length)).toEqual(model)
  }
})

forEachDialect("BufferedWriter", (h) => {
  it.scoped("writes full batches at once and a partial batch after `linger` (TestClock)", () =>
    Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      const writer = yield* writerOn(store, { batchSize: 6, linger: "1 second" })
      yield* Effect.forEach(pairs(0, 7), writer.offer) // 14 items: two batches of 6, 2 left
      yield* eventually(writer.stats, (s) => s.written === 12)
      yield* TestClock.adjust("999 millis")
      // give a wrongly early write every chance to happen (real time, not the TestClock)
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))
      expect(yield* writer.stats).toMatchObject({ written: 12, buffered: 2 })
      yield* TestClock.adjust("1 milli")
      yield* eventually(writer.stats, (s) => s.written === 14 && s.buffered === 0)
      expect(yield* count(db, "quotes")).toBe(7)
      expect(yield* count(db, "aggregates")).toBe(7)
      expect(yield* writer.stats).toEqual({
        written: 14,
        buffered: 0,
        dropped: 0,
        rejected: 0,
        outages: 0,
        failedWrites: 0,
        inOutage: false
      })
    }))

  it.scoped("flush writes without waiting for linger; closing the scope drains (TestClock)", () =>
    Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      const scope = yield* Scope.make()
      const writer = yield* Scope.extend(writerOn(store, { batchSize: 1_000, linger: "1 hour" }), scope)
      yield* Effect.forEach(pairs(0, 3), writer.offer)
      yield* writer.flush
      expect((yield* writer.stats).written).toBe(6)
      expect(yield* count(db, "aggregates")).toBe(3)
      yield* writer.flush // nothing pending: returns at once
      yield* Effect.forEach(pairs(3, 10), writer.offer)
      expect(yield* count(db, "aggregates")).toBe(3)
      yield* Scope.close(scope, Exit.void)
      expect(yield* count(db, "quotes")).toBe(10)
      expect(yield* count(db, "aggregates")).toBe(10)
      expect(yield* writer.stats).toMatchObject({ written: 20, buffered: 0, dropped: 0 })
    }))

  it.scopedLive("during a real outage items are buffered, then all written when the database returns", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, store } = yield* openStore(fastFailing(h, input))
      const writer = yield* writerOn(store, { batchSize: 50, linger: "10 millis", retryBase: "20 millis", retryMax: "100 millis" })
      yield* Effect.forEach(pairs(0, 5), writer.offer)
      yield* writer.flush
      expect((yield* writer.stats).written).toBe(10)

      const release = yield* lockDatabase(h, input)
      for (let i = 5; i < 155; i += 5) {
        yield* Effect.forEach(pairs(i, i + 5), writer.offer)
        yield* Effect.sleep("2 millis")
      }
      yield* eventually(writer.stats, (s) => s.failedWrites >= 3)
      const during = yield* writer.stats
      expect(during).toMatchObject({ written: 10, buffered: 300, dropped: 0, outages: 1, inOutage: true })
      expect(yield* count(db, "quotes")).toBe(5) // nothing half-written (quotes share the failed transactions)

      yield* release
      yield* Effect.timeoutFail(writer.flush, { duration: "10 seconds", onTimeout: () => new Error("flush did not finish") })
      const after = yield* writer.stats
      expect(after).toMatchObject({ written: 310, buffered: 0, dropped: 0, rejected: 0, outages: 1, inOutage: false })
      expect(yield* ints(db, "SELECT received_at AS v FROM quotes ORDER BY received_at")).toEqual(range(0, 155).map((i) => T0 + i))
      expect(yield* ints(db, "SELECT tick AS v FROM aggregates ORDER BY tick")).toEqual(range(0, 155).map((i) => T0 + i * 1_000))

      const failing = logs.lines.filter((l) => l.message.startsWith("database writes failing"))
      expect(failing).toHaveLength(1)
      expect(failing[0]?.level).toBe("WARN")
      expect(logs.lines.some((l) => /database writes resumed after .* nothing was dropped/.test(l.message))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("over the bound during an outage exactly the oldest are dropped, counted and reported", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, store } = yield* openStore(fastFailing(h, input))
      const before = yield* droppedCounter
      const writer = yield* writerOn(store, {
        bound: 40,
        batchSize: 10,
        linger: "5 millis",
        retryBase: "20 millis",
        retryMax: "50 millis"
      })
      const release = yield* lockDatabase(h, input)
      // 100 items, offered one pair at a time with the writer retrying meanwhile
      for (const p of pairs(0, 50)) {
        yield* writer.offer(p)
        yield* Effect.sleep("1 millis")
      }
      const during = yield* eventually(writer.stats, (s) => s.dropped === 60 && s.failedWrites >= 2)
      expect(during).toMatchObject({ written: 0, buffered: 40, outages: 1, inOutage: true })
      expect(logs.lines.filter((l) => l.message.startsWith("write buffer full"))).toHaveLength(1)

      yield* release
      yield* Effect.timeoutFail(writer.flush, { duration: "10 seconds", onTimeout: () => new Error("flush did not finish") })
      expect(yield* writer.stats).toMatchObject({ written: 40, buffered: 0, dropped: 60, outages: 1, inOutage: false })
      // the newest 40 items survived: pairs 30..49
      expect(yield* ints(db, "SELECT received_at AS v FROM quotes ORDER BY received_at")).toEqual(range(30, 50).map((i) => T0 + i))
      expect(yield* ints(db, "SELECT tick AS v FROM aggregates ORDER BY tick")).toEqual(range(30, 50).map((i) => T0 + i * 1_000))
      expect((yield* droppedCounter) - before).toBe(60)
      const resumed = logs.lines.filter((l) => l.message.startsWith("database writes resumed"))
      expect(resumed).toHaveLength(1)
      expect(resumed[0]?.message).toContain("60 item(s) were dropped during the outage")
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("closing during an outage waits the grace, then counts and logs what is lost", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, store } = yield* openStore(fastFailing(h, input))
      const scope = yield* Scope.make()
      const writer = yield* Scope.extend(
        writerOn(store, { batchSize: 10, linger: "5 millis", retryBase: "20 millis", drainGrace: "300 millis" }),
        scope
      )
      yield* Effect.forEach(pairs(0, 3), writer.offer)
      yield* writer.flush
      const release = yield* lockDatabase(h, input)
      yield* Effect.forEach(pairs(3, 15), writer.offer)
      yield* eventually(writer.stats, (s) => s.failedWrites >= 1)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(yield* writer.stats).toMatchObject({ written: 6, buffered: 0, dropped: 24 })
      expect(logs.lines.some((l) => l.level === "ERROR" && l.message.includes("24 item(s) could not be written within the drain grace"))).toBe(true)
      // offers after close are refused loudly, not lost silently
      yield* writer.offer(pairs(15, 16)[0] ?? {})
      expect((yield* writer.stats).dropped).toBe(26)
      yield* release
      expect(yield* count(db, "quotes")).toBe(3)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("an item the database refuses is rejected alone; the rest of its batch is written", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { db, store } = yield* openStore(yield* h.fresh)
      const writer = yield* writerOn(store, { batchSize: 100, linger: "5 millis" })
      const bad = { ...aggregate(3), status: "bogus" } as unknown as Aggregate
      yield* writer.offer({ quotes: [quote(0), quote(1)], aggregates: [aggregate(1), bad, aggregate(2)] })
      yield* writer.flush
      expect(yield* writer.stats).toMatchObject({ written: 4, rejected: 1, dropped: 0, outages: 0, buffered: 0 })
      expect(yield* count(db, "quotes")).toBe(2)
      expect(yield* ints(db, "SELECT tick AS v FROM aggregates ORDER BY tick")).toEqual([T0 + 1_000, T0 + 2_000])
      expect(logs.lines.some((l) => l.level === "ERROR" && l.message.includes(`aggregate BTCUSDT at tick ${T0 + 3_000}`))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })
})
