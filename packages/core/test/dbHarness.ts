/**
 * Runs `Db` tests on both dialects: SQLite on a temp file (a new file per
 * test) and the real Postgres at 127.0.0.1:5432, database `test`, in a
 * schema of its own per test file (`fk_<random>`, emptied before each test
 * and dropped after the file). When Postgres does not answer, its variant is
 * skipped with the reason in the suite name — unless `REQUIRE_POSTGRES=1`,
 * which turns that into a failure.
 */
import * as Exit from "effect/Exit"
import * as DbHarness from "@fiberkit/testkit/DbHarness"
import { TestTracer } from "@fiberkit/testkit"

const harness = await DbHarness.make({ prefix: "fk" })

/** The Postgres server the tests use (override with `TEST_DATABASE_URL`, loopback only). */
export const postgresUrl = harness.postgresUrl

/** One dialect's way to make fresh databases. */
export type Harness = DbHarness.Dialect

/** Declares `body`'s tests once per dialect, as `<name> [sqlite]` and `<name> [pg]`. */
export const forEachDialect = harness.forEachDialect

/** Builds a `Db` on `input`, dying on failure (for tests whose subject is elsewhere). */
export const open = harness.openDb

/**
 * A recording tracer (`@fiberkit/testkit` `TestTracer`) with a shortcut:
 * counting `sql.execute` spans counts the statements executed, since
 * `@effect/sql` makes one per statement.
 */
export const recorder = () => {
  const recorded = TestTracer.make()
  const statements = () => recorded.named("sql.execute").map((s) => String(s.attributes.get("db.query.text")))
  return { spans: recorded.spans, tracer: recorded.tracer, statements }
}

/** Fails the test with the error's message when `exit` is not a failure. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}
