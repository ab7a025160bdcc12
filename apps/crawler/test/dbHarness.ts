/**
 * Runs the crawler's SQL tests on both dialects, like `@fiberkit/core`'s Db
 * tests: SQLite on a temp file (a new file per test) and the real Postgres
 * at 127.0.0.1:5432, database `test`, in a schema of its own per test file
 * (`crawl_<random>`, emptied before each test and dropped after the file).
 * When Postgres does not answer, its variant is skipped with the reason in
 * the suite name — unless `REQUIRE_POSTGRES=1`, which makes it a failure.
 */
import { Db } from "@fiberkit/core"
import * as DbHarness from "@fiberkit/testkit/DbHarness"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Frontier from "../src/Frontier.js"

const harness = await DbHarness.make({ app: "crawl" })

/** The Postgres server the tests use (override with `TEST_DATABASE_URL`, loopback only). */
export const postgresUrl = harness.postgresUrl

/** One dialect's way to make fresh databases. */
export type Harness = DbHarness.Dialect

/** Declares `body`'s tests once per dialect, as `<name> [sqlite]` and `<name> [pg]`. */
export const forEachDialect = harness.forEachDialect

/** Opens a `Db` on `input`, dying on failure (for tests whose subject is elsewhere). */
export const openDb = harness.openDb

/** Opens a `Db` and the `Frontier` on it (checked and migrated), dying on failure. */
export const openFrontier = (
  input: Db.Input
): Effect.Effect<{ readonly db: Db.Service; readonly frontier: Frontier.Service }, never, Scope.Scope> =>
  Effect.flatMap(openDb(input), (db) =>
    Effect.map(
      Effect.orDieWith(Effect.provideService(Frontier.make, Db.Db, db), (e) => new Error(e.message)),
      (frontier) => ({ db, frontier })
    ))
