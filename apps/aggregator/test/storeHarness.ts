/**
 * Runs the aggregator's storage tests on both dialects, like
 * `@fiberkit/core`'s Db tests: SQLite on a temp file (a new file per test)
 * and the real Postgres at 127.0.0.1:5432, database `test`, in a schema of
 * its own per test file (`agg_<random>`, emptied before each test and
 * dropped after the file). When Postgres does not answer, its variant is
 * skipped with the reason in the suite name — unless `REQUIRE_POSTGRES=1`,
 * which makes it a failure.
 */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Store from "../src/Store.js"

/** The Postgres server the tests use (override with `TEST_DATABASE_URL`, loopback only). */
export const postgresUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/** Settings every test database starts from: fast retries, no gauge sampler. */
const base: Db.Input = {
  app: "aggregator",
  poolMetricsInterval: 0,
  connectTimeout: "3 seconds",
  retry: { maxAttempts: 8, baseDelay: "5 millis", maxDelay: "100 millis" }
}

const probe = await Effect.runPromise(
  Effect.scoped(Effect.either(Db.make({ ...base, url: postgresUrl, maxConnections: 1 })))
)
const postgresDown: string | undefined = Either.isLeft(probe) ? probe.left.message : undefined
if (postgresDown !== undefined && process.env["REQUIRE_POSTGRES"] === "1") {
  throw new Error(`REQUIRE_POSTGRES=1 but Postgres is unreachable: ${postgresDown}`)
}

/** One dialect's way to make fresh databases. */
export interface Harness {
  readonly dialect: Db.Dialect
  /** Settings of a fresh, empty database for one test (open it as often as needed, merge your own on top). */
  readonly fresh: Effect.Effect<Db.Input, never, Scope.Scope>
}

const admin = <A, E>(f: (db: Db.Service) => Effect.Effect<A, E>): Effect.Effect<A, unknown> =>
  Effect.scoped(Effect.flatMap(Db.make({ ...base, url: postgresUrl, maxConnections: 1 }), f))

const sqliteHarness = (dir: () => string): Harness => {
  let n = 0
  return {
    dialect: "sqlite",
    fresh: Effect.sync(() => ({ ...base, filename: Path.join(dir(), `t${++n}.db`) }))
  }
}

const pgHarness = (schema: string): Harness => ({
  dialect: "pg",
  fresh: Effect.orDie(
    admin((db) => db.typed(db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)))
  ).pipe(Effect.as({ ...base, url: postgresUrl, schema }))
})

/** Declares `body`'s tests once per dialect, as `<name> [sqlite]` and `<name> [pg]`. */
export const forEachDialect = (name: string, body: (h: Harness) => void): void => {
  describe(`${name} [sqlite]`, () => {
    let dir: string | undefined
    beforeAll(() => {
      dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-aggregator-"))
    })
    afterAll(() => {
      if (dir !== undefined) Fs.rmSync(dir, { recursive: true, force: true })
    })
    body(sqliteHarness(() => {
      if (dir === undefined) throw new Error("the temp directory is made in beforeAll")
      return dir
    }))
  })
  const schema = `agg_${Math.random().toString(36).slice(2, 10)}`
  if (postgresDown !== undefined) {
    describe.skip(`${name} [pg] (skipped: ${postgresDown})`, () => body(pgHarness(schema)))
    return
  }
  describe(`${name} [pg]`, () => {
    afterAll(() => Effect.runPromise(admin((db) => db.typed(db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))))
    body(pgHarness(schema))
  })
}

/** Opens a `Db` on `input`, dying on failure (for tests whose subject is elsewhere). */
export const openDb = (input: Db.Input): Effect.Effect<Db.Service, never, Scope.Scope> =>
  Effect.orDieWith(Db.make(input), (e) => new Error(e.message))

/** Opens a `Db` and the `Store` on it (migrated), dying on failure. */
export const openStore = (
  input: Db.Input
): Effect.Effect<{ readonly db: Db.Service; readonly store: Store.Service }, never, Scope.Scope> =>
  Effect.flatMap(openDb(input), (db) =>
    Effect.map(
      Effect.orDieWith(Effect.provideService(Store.make, Db.Db, db), (e) => new Error(e.message)),
      (store) => ({ db, store })
    ))

/** Counts the rows of a table (or a `FROM` clause). */
export const count = (db: Db.Service, from: string): Effect.Effect<number> =>
  Effect.orDieWith(
    Effect.map(db.typed(db.sql.unsafe<{ readonly n: number | string }>(`SELECT count(*) AS n FROM ${from}`)), (r) => Number(r[0]?.n)),
    (e) => new Error(e.message)
  )

/**
 * Waits, in real time, until `check` satisfies `done` (polling every
 * millisecond, at most `timeoutMs`); fails with the last value otherwise.
 * Works under the TestClock: it does not sleep on the effect clock.
 */
export const eventually = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeoutMs = 10_000
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const a = yield* check
      if (done(a)) return a
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(a)}`))
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))
    }
  })

/** A small seeded PRNG (mulberry32), so random series are reproducible. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
