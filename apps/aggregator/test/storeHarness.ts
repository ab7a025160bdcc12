/**
 * Runs the aggregator's storage tests on both dialects, like
 * `@fiberkit/core`'s Db tests: SQLite on a temp file (a new file per test)
 * and the real Postgres at 127.0.0.1:5432, database `test`, in a schema of
 * its own per test file (`agg_<random>`, emptied before each test and
 * dropped after the file). When Postgres does not answer, its variant is
 * skipped with the reason in the suite name — unless `REQUIRE_POSTGRES=1`,
 * which makes it a failure.
 */
import { Db } from "@fiberkit/core"
import * as DbHarness from "@fiberkit/testkit/DbHarness"
import * as SeededRandom from "@fiberkit/testkit/SeededRandom"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Store from "../src/Store.js"

const harness = await DbHarness.make({ app: "aggregator", prefix: "agg" })

/** The Postgres server the tests use (override with `TEST_DATABASE_URL`, loopback only). */
export const postgresUrl = harness.postgresUrl

/** One dialect's way to make fresh databases. */
export type Harness = DbHarness.Dialect

/** Declares `body`'s tests once per dialect, as `<name> [sqlite]` and `<name> [pg]`. */
export const forEachDialect = harness.forEachDialect

/** Opens a `Db` on `input`, dying on failure (for tests whose subject is elsewhere). */
export const openDb = harness.openDb

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
export const prng = SeededRandom.generator
