/**
 * Runs migrations with the platform `Migrator`, adding what it lacks: the
 * refusal of a database migrated by newer code, validation of record keys
 * (`Migrator.fromRecord` silently skips a key without an id), typed errors
 * (the Migrator turns a failed migration into a defect), and the retry of a
 * run that found SQLite locked.
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as Client from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Db from "../Db.js"
import type * as DbError from "../DbError.js"
import * as Migrations from "../Migrations.js"
import * as tx from "./dbTransaction.js"
import { quote } from "./dbWrite.js"

const KEY = /^(\d+)_(.+)$/

/** The highest migration id recorded, `0` when the table does not exist yet. @internal */
export const applied = (db: Db.Service, table: string): Effect.Effect<number, DbError.DbError> => {
  const sql = db.sql
  const exists = db.dialect === "sqlite"
    ? sql<{ readonly n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${table}`
    : sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass(${table})`
  return db.typed(
    Effect.flatMap(exists, (rows) =>
      (rows[0]?.n ?? 0) === 0
        ? Effect.succeed(0)
        : Effect.map(
          sql.unsafe<{ readonly v: number | null }>(`SELECT max(migration_id) AS v FROM ${quote(table)}`),
          (rows) => Number(rows[0]?.v ?? 0)
        ))
  )
}

/**
 * Creates the migrations table (as the Migrator would) unless it exists.
 * The Migrator checks and creates it outside any transaction, so two
 * Postgres clients starting together can both try to create it; an advisory
 * lock makes the second wait and find it.
 */
const ensureTable = (db: Db.Service, table: string): Effect.Effect<void, DbError.DbError> => {
  const sql = db.sql
  if (db.dialect === "sqlite") {
    return db.typed(Effect.asVoid(sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${quote(table)} (migration_id integer PRIMARY KEY NOT NULL, created_at datetime NOT NULL DEFAULT current_timestamp, name VARCHAR(255) NOT NULL)`
    )))
  }
  return db.transaction(Effect.asVoid(Effect.zipRight(
    sql`SELECT pg_advisory_xact_lock(hashtext(${`fiberkit.migrations.${table}`}))`,
    sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${quote(table)} (migration_id integer primary key, created_at timestamp with time zone not null default now(), name text not null)`
    )
  )))
}

const causeText = (u: unknown): string => {
  if (u instanceof SqlError) return u.cause instanceof Error ? u.cause.message : u.message
  if (u instanceof Error) return u.message
  return String(u)
}

/** @internal */
export const run = (
  db: Db.Service,
  source: Migrations.Source,
  table: string
): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, Migrations.MigrationError | DbError.DbError> =>
  Effect.gen(function*() {
    const error = (reason: Migrations.MigrationError["reason"], detail: string, cause?: unknown) =>
      new Migrations.MigrationError({ reason, target: db.target, table, detail, cause })
    if (!Effect.isEffect(source)) {
      const bad = Object.keys(source).filter((key) => !KEY.test(key))
      if (bad.length > 0) {
        return yield* Effect.fail(error("invalid", `keys must look like "<id>_<name>", got ${bad.map((k) => JSON.stringify(k)).join(", ")}`))
      }
    }
    const loader: Migrator.Loader = Effect.isEffect(source) ? source : Migrator.fromRecord(source)
    const resolved = yield* Effect.mapError(loader, (e) => error("invalid", e.message, e))
    const ids = resolved.map(([id]) => id)
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i)
    if (duplicate !== undefined) return yield* Effect.fail(error("invalid", `migration id ${duplicate} appears twice`))
    const known = ids.reduce((a, b) => Math.max(a, b), 0)

    const latest = yield* applied(db, table)
    if (latest > known) {
      return yield* Effect.fail(
        error("newer-database", `its schema is at migration ${latest} (table ${table}), this program knows migrations up to ${known}`)
      )
    }
    if (latest === known) return []
    yield* ensureTable(db, table)

    const migrate = Migrator.make({})({ loader: Effect.succeed(resolved), table }).pipe(
      Effect.provideService(Client.SqlClient, db.sql),
      // The Migrator dies when a migration fails; the transaction around the
      // run has rolled back by then, so the failure is reported as data.
      Effect.catchSomeDefect((defect) =>
        defect instanceof Migrator.MigrationError
          ? Option.some(Effect.fail(error("failed", `${defect.message}: ${causeText(defect.cause)}`, defect.cause)))
          : Option.none()
      ),
      Effect.catchIf(
        (e): e is Migrator.MigrationError => e instanceof Migrator.MigrationError,
        (e) => Effect.fail(error(e.reason === "failed" ? "failed" : "invalid", e.message, e))
      )
    )
    return yield* tx.retrying(db.typed(migrate), db.settings.retry)
  }).pipe(Effect.withSpan("db.migrate", { captureStackTrace: false, attributes: { "db.migrations.table": table } }))
