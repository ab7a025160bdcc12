/**
 * `Db.transaction`: commit, rollback on failure and on interruption,
 * savepoints, typed errors (a failed COMMIT included), many concurrent
 * writers — fibers of one client, two clients of one database, and another
 * process holding SQLite's write lock — and the bounded retry of conflicts
 * the database reports as retryable.
 */
import { expect, it } from "@effect/vitest"
import type { Db } from "@fiberkit/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { failureOf, forEachDialect, type Harness, open } from "./dbHarness.js"

const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")

class Boom {
  readonly _tag = "Boom"
}

const setup = (h: Harness, db: Db.Service) =>
  db.typed(db.sql.unsafe(`CREATE TABLE items (id ${h.serial}, source TEXT NOT NULL, n INTEGER NOT NULL UNIQUE)`))

const count = (db: Db.Service, source: string) =>
  Effect.map(db.typed(db.sql<{ c: number | string }>`SELECT count(*) AS c FROM items WHERE source = ${source}`), (r) => Number(r[0]?.c))

const insert = (db: Db.Service, source: string, n: number) => db.sql`INSERT INTO items (source, n) VALUES (${source}, ${n})`

/**
 * Another process on the same SQLite file: takes the write lock with BEGIN
 * IMMEDIATE `rounds` times, holding it `holdMs` each time (a busy loop, so
 * the lock is really held), with a 2 ms gap. Resolves once it holds the
 * lock the first time; `done` waits for it to finish.
 */
const locker = (file: string, holdMs: number, rounds: number): Effect.Effect<{ readonly done: Effect.Effect<void, Error> }, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly child: ChildProcess.ChildProcess; readonly exit: Promise<number | null> }, Error>((resume) => {
      const script = `
        const Database = require("better-sqlite3")
        const db = new Database(process.env.DB_FILE, { timeout: 10000 })
        const insert = db.prepare("INSERT INTO items (source, n) VALUES ('child', ?)")
        const hold = Number(process.env.HOLD_MS), rounds = Number(process.env.ROUNDS)
        let i = 0
        const round = () => {
          db.exec("BEGIN IMMEDIATE")
          if (i === 0) process.stdout.write("locked\\n")
          insert.run(100000 + i)
          const end = Date.now() + hold
          while (Date.now() < end) {}
          db.exec("COMMIT")
          if (++i < rounds) setTimeout(round, 2)
          else db.close()
        }
        round()`
      const child = ChildProcess.spawn(process.execPath, ["-e", script], {
        cwd: repoRoot,
        env: { ...process.env, DB_FILE: file, HOLD_MS: String(holdMs), ROUNDS: String(rounds) },
        stdio: ["ignore", "pipe", "inherit"]
      })
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      child.once("error", (error) => resume(Effect.fail(error)))
      child.stdout.once("data", () => resume(Effect.succeed({ child, exit })))
    }),
    ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
  ).pipe(
    Effect.map(({ exit }) => ({
      done: Effect.flatMap(
        Effect.promise(() => exit),
        (code) => (code === 0 ? Effect.void : Effect.fail(new Error(`the locking process exited with ${code}`)))
      )
    }))
  )

forEachDialect("Db.transaction", (h) => {
  it.scopedLive("commits on success and rolls back on failure, keeping the body's own error", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* setup(h, db)
      const n = yield* db.transaction(Effect.as(Effect.zipRight(insert(db, "ok", 1), insert(db, "ok", 2)), 2))
      expect(n).toBe(2)
      const error = failureOf(yield* Effect.exit(db.transaction(Effect.zipRight(insert(db, "failed", 3), Effect.fail(new Boom())))))
      expect(error).toBeInstanceOf(Boom)
      expect(yield* count(db, "ok")).toBe(2)
      expect(yield* count(db, "failed")).toBe(0)
    }))

  it.scopedLive("rolls back when interrupted mid-way, and the connection stays usable", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* setup(h, db)
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(db.transaction(Effect.gen(function*() {
        yield* insert(db, "interrupted", 1)
        yield* Deferred.succeed(started, undefined)
        return yield* Effect.never
      })))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* count(db, "interrupted")).toBe(0)
      yield* db.transaction(insert(db, "after", 2))
      expect(yield* count(db, "after")).toBe(1)

      if (h.dialect === "pg") {
        // Interrupted while a statement runs on the server: cancelled there, rolled back.
        const running = yield* Deferred.make<void>()
        const slow = yield* Effect.fork(db.transaction(Effect.gen(function*() {
          yield* insert(db, "cancelled", 3)
          yield* Deferred.succeed(running, undefined)
          yield* db.sql`SELECT pg_sleep(30)`
        })))
        yield* Deferred.await(running)
        yield* Fiber.interrupt(slow)
        expect(yield* count(db, "cancelled")).toBe(0)
        expect(yield* db.typed(db.sql<{ one: number }>`SELECT 1 AS one`)).toEqual([{ one: 1 }])
      }
    }))

  it.scopedLive("a caller waiting for the connection can be interrupted", () =>
    Effect.gen(function*() {
      const db = yield* open({ ...(yield* h.fresh), maxConnections: 1 })
      yield* setup(h, db)
      const release = yield* Effect.makeLatch(false)
      const holding = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(db.transaction(Effect.gen(function*() {
        yield* insert(db, "holder", 1)
        yield* Deferred.succeed(holding, undefined)
        yield* release.await
      })))
      yield* Deferred.await(holding)
      const waiter = yield* Effect.fork(db.typed(insert(db, "waiter", 2)))
      yield* Fiber.interrupt(waiter).pipe(
        Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => new Error("the waiting caller could not be interrupted") })
      )
      yield* release.open
      yield* Fiber.join(holder)
      expect(yield* count(db, "holder")).toBe(1)
      expect(yield* count(db, "waiter")).toBe(0)
    }))

  it.scopedLive("nested transactions are savepoints: an inner failure rolls back only the inner part", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* setup(h, db)
      yield* db.transaction(Effect.gen(function*() {
        yield* insert(db, "outer", 1)
        const inner = yield* Effect.either(db.transaction(Effect.zipRight(insert(db, "inner", 2), Effect.fail(new Boom()))))
        expect(inner._tag).toBe("Left")
        yield* insert(db, "outer", 3)
      }))
      expect(yield* count(db, "outer")).toBe(2)
      expect(yield* count(db, "inner")).toBe(0)
    }))

  it.scopedLive("SQL errors in the body and at COMMIT come back typed, never as defects", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* setup(h, db)
      const duplicate = failureOf(yield* Effect.exit(db.transaction(Effect.zipRight(insert(db, "dup", 1), insert(db, "dup", 1)))))
      expect(duplicate._tag).toBe("UniqueViolation")
      expect(yield* count(db, "dup")).toBe(0)

      // A deferred foreign key is checked at COMMIT; the platform's
      // withTransaction turns that failure into a defect.
      yield* db.typed(db.sql.unsafe(`CREATE TABLE parents (id INTEGER PRIMARY KEY)`))
      yield* db.typed(db.sql.unsafe(
        `CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)`
      ))
      const atCommit = failureOf(yield* Effect.exit(db.transaction(db.sql`INSERT INTO children (id, parent) VALUES (1, 42)`)))
      expect(atCommit._tag).toBe("ForeignKeyViolation")
      expect(yield* db.typed(db.sql`SELECT * FROM children`)).toEqual([])
      // The connection left no transaction open behind it.
      yield* db.transaction(db.sql`INSERT INTO parents (id) VALUES (42)`)
    }))

  it.scopedLive("many fibers writing concurrently: every write lands, nothing busy escapes", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* setup(h, db)
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => db.transaction(Effect.forEach([0, 1, 2], (j) => insert(db, "fiber", i * 3 + j), { discard: true })),
        { concurrency: "unbounded", discard: true }
      )
      expect(yield* count(db, "fiber")).toBe(600)
    }))

  it.scopedLive("two clients of one database write concurrently while one holds a transaction open", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      // A short busy timeout and no retries: if the second client ever met
      // the first inside SQLite's busy handler, its write would fail.
      const a = yield* open({ ...input, busyTimeout: "100 millis", retry: false })
      const b = yield* open({ ...input, busyTimeout: "100 millis", retry: false })
      yield* setup(h, a)
      const release = yield* Effect.makeLatch(false)
      const holding = yield* Deferred.make<void>()
      const held = yield* Effect.fork(a.transaction(Effect.gen(function*() {
        yield* insert(a, "held", 0)
        yield* Deferred.succeed(holding, undefined)
        yield* release.await
      })))
      yield* Deferred.await(holding)
      const bStarted = yield* Deferred.make<void>()
      const writers = yield* Effect.fork(Effect.zipRight(
        Deferred.succeed(bStarted, undefined),
        Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i + 1),
          (i) => (i % 2 === 0 ? a : b).transaction(insert(i % 2 === 0 ? a : b, "both", i)),
          { concurrency: "unbounded", discard: true }
        )
      ))
      yield* Deferred.await(bStarted)
      // Let the writers reach the database while the transaction is still
      // open. The outcome does not depend on this wait; it only gives a
      // broken lock the chance to show (B would fail with Busy).
      yield* Effect.sleep("50 millis")
      yield* release.open
      yield* Fiber.join(held)
      yield* Fiber.join(writers)
      expect(yield* count(b, "both")).toBe(50)
      expect(yield* count(b, "held")).toBe(1)
    }))

  it.scopedLive("a retryable conflict is retried until the transaction succeeds", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      if (h.dialect === "sqlite") {
        // Another process holds the write lock far longer than the busy timeout.
        const file = input.filename ?? ""
        yield* setup(h, yield* open(input))
        const quick = yield* open({ ...input, busyTimeout: "20 millis", retry: false })
        const patient = yield* open({ ...input, busyTimeout: "20 millis", retry: { maxAttempts: 200, baseDelay: "5 millis", maxDelay: "20 millis" } })
        const child = yield* locker(file, 1_000, 1)
        const busy = failureOf(yield* Effect.exit(quick.transaction(insert(quick, "quick", 1))))
        expect(busy._tag).toBe("Busy")
        expect(busy._tag === "Busy" && busy.attempts).toBe(1)
        expect(busy.message).toContain(file)
        yield* patient.transaction(insert(patient, "patient", 2))
        yield* child.done
        expect(yield* count(patient, "patient")).toBe(1)
        expect(yield* count(patient, "child")).toBe(1)
        return
      }
      // Postgres: write skew under SERIALIZABLE. Each transaction reads both
      // balances, waits until the other has read too, then updates one row:
      // Postgres aborts one of them with 40001; it is retried (without the
      // wait the second time) until it succeeds.
      const db = yield* open(input)
      yield* db.typed(db.sql`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)`)
      yield* db.typed(db.sql`INSERT INTO accounts VALUES (1, 100), (2, 100)`)
      const read1 = yield* Deferred.make<void>()
      const read2 = yield* Deferred.make<void>()
      let runs = 0
      const withdraw = (id: number, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>, retry?: false) =>
        db.transaction(
          Effect.gen(function*() {
            runs++
            yield* db.sql`SELECT sum(balance) FROM accounts`
            yield* Deferred.succeed(mine, undefined)
            yield* Deferred.await(theirs)
            yield* db.sql`UPDATE accounts SET balance = balance - 150 WHERE id = ${id}`
          }),
          { isolation: "serializable", ...(retry === false ? { retry } : {}) }
        )
      yield* Effect.all([withdraw(1, read1, read2), withdraw(2, read2, read1)], { concurrency: 2 })
      // At least one retry (a retry can itself conflict with the other
      // transaction's commit, so not exactly one), and both withdrawals done.
      expect(runs).toBeGreaterThanOrEqual(3)
      const balances = yield* db.typed(db.sql<{ balance: number }>`SELECT balance FROM accounts ORDER BY id`)
      expect(balances.map((b) => b.balance)).toEqual([-50, -50])

      // Without retries the conflict comes back as SerializationFailure.
      const again1 = yield* Deferred.make<void>()
      const again2 = yield* Deferred.make<void>()
      const outcomes = yield* Effect.all(
        [Effect.either(withdraw(1, again1, again2, false)), Effect.either(withdraw(2, again2, again1, false))],
        { concurrency: 2 }
      )
      const failures = outcomes.flatMap((o) => (o._tag === "Left" ? [o.left] : []))
      expect(failures.map((e) => e._tag)).toEqual(["SerializationFailure"])
    }), { timeout: 20_000 })

  // Postgres has no database-wide write lock to upgrade to.
  it.scopedLive.skipIf(h.dialect === "pg")("SQLite: a read-then-write transaction survives another process writing in between (BEGIN IMMEDIATE)", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const db = yield* open({ ...input, retry: false })
      yield* setup(h, db)
      // The other process commits a row every few milliseconds for a while.
      const child = yield* locker(input.filename ?? "", 0, 150)
      // A deferred BEGIN would read a snapshot here, see the other process
      // commit during the pause, and fail its INSERT with
      // SQLITE_BUSY_SNAPSHOT, which no busy timeout can wait out.
      yield* db.transaction(Effect.gen(function*() {
        yield* count(db, "child")
        yield* Effect.sleep("60 millis")
        yield* insert(db, "reader", 1)
      }))
      yield* child.done
      expect(yield* count(db, "reader")).toBe(1)
      expect(yield* count(db, "child")).toBe(150)
    }), { timeout: 20_000 })

  // Postgres has no database-wide write lock; the two-client test covers it.
  it.scopedLive.skipIf(h.dialect === "pg")("SQLite: another process writing in bursts — every write of both lands", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const db = yield* open(input)
      yield* setup(h, db)
      const child = yield* locker(input.filename ?? "", 15, 20)
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => db.transaction(insert(db, "parent", i)),
        { concurrency: "unbounded", discard: true }
      )
      yield* child.done
      expect(yield* count(db, "parent")).toBe(40)
      expect(yield* count(db, "child")).toBe(20)
    }), { timeout: 20_000 })
})
