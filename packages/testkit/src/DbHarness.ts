/**
 * Run a test suite against both `Db` dialects: SQLite on temp files (a new
 * file per test) and a real PostgreSQL in a schema of its own per suite
 * (emptied for each test, dropped after the suite).
 *
 * When Postgres does not answer, its variant is declared as skipped with the
 * reason in the suite's name, so a green run never hides that half the
 * tests did not run — unless `REQUIRE_POSTGRES=1`, which makes an
 * unreachable Postgres an error. The server is `TEST_DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test` (loopback).
 *
 * Import it as `@fiberkit/testkit/DbHarness` (it imports `@effect/vitest`,
 * so the package index leaves it out).
 *
 * @example
 * ```ts
 * // test/dbHarness.ts
 * import * as DbHarness from "@fiberkit/testkit/DbHarness"
 * export const { forEachDialect, openDb } = await DbHarness.make({ app: "orders" })
 *
 * // test/Orders.test.ts
 * forEachDialect("orders", (h) => {
 *   it.scoped("stores an order", () => Effect.gen(function*() {
 *     const db = yield* openDb(yield* h.fresh)
 *     // ...
 *   }))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * One dialect's way to make fresh databases.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dialect {
  readonly dialect: Db.Dialect
  /** Settings of a fresh, empty database for one test (open it as often as needed; merge your own on top). */
  readonly fresh: Effect.Effect<Db.Input, never, Scope.Scope>
  /** Column type of an auto-generated integer primary key in this dialect. */
  readonly serial: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The `Db` app name (the default SQLite file name, the migrations table prefix). Default: none. */
  readonly app?: string | undefined
  /** Prefix of the per-suite Postgres schema and of the temp directories. Default: `app`, else `db`. */
  readonly prefix?: string | undefined
  /** Settings merged into every test database. Default: fast retries, no pool gauge sampler, 3 s connect timeout. */
  readonly base?: Partial<Db.Input> | undefined
}

/**
 * A harness: declare suites per dialect, open databases.
 *
 * @since 0.1.0
 * @category models
 */
export interface Harness {
  /** The Postgres URL in use. */
  readonly postgresUrl: string
  /** Why Postgres is unavailable, or `undefined` when it answered. */
  readonly postgresDown: string | undefined
  /** The settings every test database starts from. */
  readonly base: Db.Input
  /** Declares `body`'s tests once per dialect, as `<name> [sqlite]` and `<name> [pg]`. */
  readonly forEachDialect: (name: string, body: (dialect: Dialect) => void) => void
  /** Opens a `Db` on `input`, dying on failure (for tests whose subject is elsewhere). */
  readonly openDb: (input: Db.Input) => Effect.Effect<Db.Service, never, Scope.Scope>
}

/**
 * Probe Postgres once and build the harness. Call it at the top level of a
 * test helper module (`await`): the probe decides, before the suites are
 * declared, whether the Postgres variant runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = async (options: Options): Promise<Harness> => {
  const postgresUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
  const prefix = (options.prefix ?? options.app ?? "db").replace(/[^a-z0-9_]/gi, "_").toLowerCase()
  const base: Db.Input = {
    ...(options.app === undefined ? {} : { app: options.app }),
    poolMetricsInterval: 0,
    connectTimeout: "3 seconds",
    retry: { maxAttempts: 8, baseDelay: "5 millis", maxDelay: "100 millis" },
    ...options.base
  }
  const probe = await Effect.runPromise(
    Effect.scoped(Effect.either(Db.make({ ...base, url: postgresUrl, maxConnections: 1 })))
  )
  const postgresDown = Either.isLeft(probe) ? probe.left.message : undefined
  if (postgresDown !== undefined && process.env["REQUIRE_POSTGRES"] === "1") {
    throw new Error(`REQUIRE_POSTGRES=1 but Postgres is unreachable: ${postgresDown}`)
  }

  const admin = <A, E>(f: (db: Db.Service) => Effect.Effect<A, E>): Effect.Effect<A, unknown> =>
    Effect.scoped(Effect.flatMap(Db.make({ ...base, url: postgresUrl, maxConnections: 1 }), f))

  const sqlite = (dir: () => string): Dialect => {
    let n = 0
    return {
      dialect: "sqlite",
      fresh: Effect.sync(() => ({ ...base, filename: Path.join(dir(), `t${++n}.db`) })),
      serial: "INTEGER PRIMARY KEY"
    }
  }

  const pg = (schema: string): Dialect => ({
    dialect: "pg",
    fresh: Effect.orDie(
      admin((db) => db.typed(db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)))
    ).pipe(Effect.as({ ...base, url: postgresUrl, schema })),
    serial: "INTEGER PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY"
  })

  const forEachDialect = (name: string, body: (dialect: Dialect) => void): void => {
    describe(`${name} [sqlite]`, () => {
      let dir: string | undefined
      beforeAll(() => {
        dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `fiberkit-${prefix}-`))
      })
      afterAll(() => {
        if (dir !== undefined) Fs.rmSync(dir, { recursive: true, force: true })
      })
      body(sqlite(() => {
        if (dir === undefined) throw new Error("the temp directory is made in beforeAll")
        return dir
      }))
    })
    const schema = `${prefix}_${Math.random().toString(36).slice(2, 10)}`
    if (postgresDown !== undefined) {
      describe.skip(`${name} [pg] (skipped: ${postgresDown})`, () => body(pg(schema)))
      return
    }
    describe(`${name} [pg]`, () => {
      afterAll(() => Effect.runPromise(admin((db) => db.typed(db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))))
      body(pg(schema))
    })
  }

  const openDb = (input: Db.Input): Effect.Effect<Db.Service, never, Scope.Scope> =>
    Effect.orDieWith(Db.make(input), (e) => new Error(e.message))

  return { postgresUrl, postgresDown, base, forEachDialect, openDb }
}
