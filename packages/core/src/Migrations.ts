/**
 * Schema migrations for {@link Db}, run by the `@effect/sql` `Migrator` in
 * one transaction, recorded in a table per app (`<app>_migrations`), and
 * idempotent: applied migrations are skipped, and several processes
 * starting at once apply each migration once (SQLite serializes them with
 * `BEGIN IMMEDIATE`, Postgres with a table lock).
 *
 * A database migrated by a newer version of the program (it has migrations
 * this one does not know) is refused with {@link MigrationError} rather than
 * used with a schema the code does not understand.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 * import { Db } from "@fiberkit/core"
 *
 * const migrations = {
 *   "1_pages": Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *     sql`CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE)`),
 *   "2_pages_status": Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *     sql`ALTER TABLE pages ADD COLUMN status INTEGER`)
 * }
 *
 * const DbLive = Db.layerConfig({ app: "crawl", migrations })
 * ```
 *
 * @since 0.1.0
 */
import type * as Migrator from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Db from "./Db.js"
import type * as DbError from "./DbError.js"
import * as internal from "./internal/dbMigrations.js"

/**
 * One migration: an effect using the `SqlClient`.
 *
 * @since 0.1.0
 * @category models
 */
export type Migration = Effect.Effect<unknown, unknown, SqlClient.SqlClient>

/**
 * Migrations as a record keyed `<id>_<name>` (ids are positive integers,
 * applied in ascending order: `"1_pages"`, `"2_links"`), or any `Migrator`
 * loader (`Migrator.fromGlob`, `Migrator.fromBabelGlob`).
 *
 * @since 0.1.0
 * @category models
 */
export type Source = Readonly<Record<string, Migration>> | Migrator.Loader

/**
 * Migrations could not be applied.
 *
 * - `newer-database`: the database has migrations this program does not know.
 * - `failed`: a migration failed; it was rolled back with the others of the run.
 * - `invalid`: the source is malformed (a key without an id, a duplicate id, a module without a default export).
 *
 * @since 0.1.0
 * @category errors
 */
export class MigrationError extends Data.TaggedError("DbMigrationError")<{
  readonly reason: "newer-database" | "failed" | "invalid"
  /** The database, password redacted. */
  readonly target: string
  readonly table: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "newer-database":
        return `Refusing to use ${this.target}: ${this.detail}. It was migrated by a newer version of this program; run that version, or restore a backup made for this one.`
      case "failed":
        return `Migrating ${this.target} failed: ${this.detail}. The run was rolled back; fix the migration and start again.`
      case "invalid":
        return `Invalid migrations for ${this.target} (table ${this.table}): ${this.detail}.`
    }
  }
}

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The migrations table. Default: the service's `migrationsTable` (`<app>_migrations`). */
  readonly table?: string | undefined
}

/**
 * Applies the migrations not applied yet and returns them as `[id, name]`
 * (empty when the database is up to date). `Db.layerConfig({ migrations })`
 * runs this on startup.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  source: Source,
  options?: RunOptions
): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, MigrationError | DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.run(db, source, options?.table ?? db.settings.migrationsTable))

/**
 * The highest migration id recorded in the database (`0` when none).
 *
 * @since 0.1.0
 * @category accessors
 */
export const current = (options?: RunOptions): Effect.Effect<number, DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.applied(db, options?.table ?? db.settings.migrationsTable))
