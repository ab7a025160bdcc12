/**
 * The typed failures of {@link Db}. SQL errors from either dialect are
 * classified into these classes — a duplicate key is a `UniqueViolation` on
 * SQLite and on Postgres alike — so callers branch with `Effect.catchTag`
 * instead of parsing driver messages, and nothing SQL-related ends up as a
 * defect. Every `message` names what failed (table, constraint, database)
 * and what to do about it. Bound values never appear in messages.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Db } from "@fiberkit/core"
 *
 * const register = (email: string) =>
 *   Db.insertMany("users", [{ email }]).pipe(
 *     Effect.catchTag("UniqueViolation", () => Effect.fail(new EmailTaken({ email })))
 *   )
 * ```
 *
 * @since 0.1.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import * as internal from "./internal/dbError.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@fiberkit/core/DbError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The SQL dialect an error came from.
 *
 * @since 0.1.0
 * @category models
 */
export type Dialect = "sqlite" | "pg"

const named = (constraint: string | undefined, columns: ReadonlyArray<string>): string =>
  constraint !== undefined
    ? `constraint ${JSON.stringify(constraint)}`
    : columns.length > 0
    ? `key (${columns.join(", ")})`
    : "constraint"

const onTable = (table: string | undefined): string => (table === undefined ? "" : ` on table ${JSON.stringify(table)}`)

/**
 * A row would duplicate a unique key or primary key (SQLite
 * `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY`, Postgres `23505`).
 *
 * @since 0.1.0
 * @category errors
 */
export class UniqueViolation extends Data.TaggedError("UniqueViolation")<{
  readonly dialect: Dialect
  readonly table: string | undefined
  readonly constraint: string | undefined
  /** The key's columns when the database names them. */
  readonly columns: ReadonlyArray<string>
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Unique ${named(this.constraint, this.columns)} violated${onTable(this.table)}: a row with the same key already exists. Use an upsert (ON CONFLICT) to overwrite it, or look the row up first.`
  }
}

/**
 * A row references a parent row that does not exist, or a parent row that
 * is still referenced would be deleted (SQLite
 * `SQLITE_CONSTRAINT_FOREIGNKEY`, Postgres `23503`). SQLite does not say
 * which constraint.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForeignKeyViolation extends Data.TaggedError("ForeignKeyViolation")<{
  readonly dialect: Dialect
  readonly table: string | undefined
  readonly constraint: string | undefined
  readonly columns: ReadonlyArray<string>
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Foreign key ${named(this.constraint, this.columns)} violated${onTable(this.table)}: the row references a parent row that does not exist, or a referenced parent row would be removed. Write parents before children and delete children before parents.`
  }
}

/**
 * Another integrity rule refused the row: `NOT NULL`, `CHECK` or an
 * exclusion constraint.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConstraintViolation extends Data.TaggedError("ConstraintViolation")<{
  readonly dialect: Dialect
  readonly kind: "not-null" | "check" | "exclusion" | "other"
  readonly table: string | undefined
  readonly constraint: string | undefined
  readonly columns: ReadonlyArray<string>
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const what = this.kind === "not-null"
      ? `NOT NULL ${this.columns.length > 0 ? `column ${this.columns.join(", ")}` : "constraint"}`
      : `${this.kind === "other" ? "" : `${this.kind.toUpperCase()} `}${named(this.constraint, this.columns)}`
    return `${what} violated${onTable(this.table)}: the row does not satisfy the table's rules. Fix the value before writing it.`
  }
}

/**
 * No row has the given key (raised by helpers that need one row, such as
 * `Repository.getById`, `update` and `delete`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly table: string
  readonly column: string
  /** The key looked up, as text. */
  readonly key: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `No row in ${JSON.stringify(this.table)} with ${this.column} = ${this.key}.`
  }
}

/**
 * The connection broke while a statement was running or waiting (server
 * shutdown `57P01`, connection exceptions `08*`, socket resets). Whether the
 * statement took effect is unknown.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{
  readonly dialect: Dialect
  /** The database, password redacted. */
  readonly target: string
  readonly reason: string
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Lost the connection to ${this.target}: ${this.reason}. The statement may or may not have taken effect; check that the database is up, then retry the unit of work if it is idempotent.`
  }
}

/**
 * The database could not be reached or opened when the service started (the
 * startup health check).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectFailed extends Data.TaggedError("ConnectFailed")<{
  readonly dialect: Dialect
  /** The database, password redacted: `postgres://user@host:port/database` or `sqlite:/path/file.db`. */
  readonly target: string
  readonly reason: string
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return this.dialect === "pg"
      ? `Cannot connect to ${this.target}: ${this.reason}. Check that Postgres is running and accepts connections at that host and port, that the database exists and the user may log in (DATABASE_URL, DB_CONNECT_TIMEOUT).`
      : `Cannot open the SQLite database ${this.target}: ${this.reason}. Check that the directory is writable and the file is a SQLite database (DB_PATH).`
  }
}

/**
 * SQLite stayed locked by another connection (usually another process)
 * through every attempt: `SQLITE_BUSY` / `SQLITE_LOCKED` after the busy
 * timeout and the bounded retries.
 *
 * @since 0.1.0
 * @category errors
 */
export class Busy extends Data.TaggedError("Busy")<{
  readonly target: string
  /** Attempts made, the first included. */
  readonly attempts: number
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.target} stayed locked by another connection through ${this.attempts} attempt(s), each waiting the busy timeout. Keep write transactions short (no network calls inside them), or raise DB_BUSY_TIMEOUT.`
  }
}

/**
 * Postgres aborted the transaction because of a conflict with a concurrent
 * one: a serialization failure (`40001`) or a deadlock (`40P01`), still
 * failing after the bounded retries.
 *
 * @since 0.1.0
 * @category errors
 */
export class SerializationFailure extends Data.TaggedError("SerializationFailure")<{
  readonly reason: "serialization" | "deadlock"
  readonly target: string
  readonly attempts: number
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Transaction on ${this.target} aborted by a ${this.reason === "deadlock" ? "deadlock" : "serialization conflict"} with a concurrent transaction, ${this.attempts} attempt(s) in a row. Touch rows in a consistent order, shorten the transaction, or allow more retries.`
  }
}

/**
 * A statement ran longer than the statement timeout (Postgres `57014`
 * raised by `statement_timeout`).
 *
 * @since 0.1.0
 * @category errors
 */
export class StatementTimeout extends Data.TaggedError("StatementTimeout")<{
  readonly target: string
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `A statement on ${this.target} ran longer than the statement timeout and was cancelled. Add an index, split the work into smaller statements, or raise DB_STATEMENT_TIMEOUT.`
  }
}

/**
 * A row did not match its `Schema`: `phase: "encode"` for a value about to be
 * written, `"decode"` for a row read back.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRow extends Data.TaggedError("InvalidRow")<{
  readonly table: string
  readonly phase: "encode" | "decode"
  /** The schema's description of the mismatch. */
  readonly reason: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return this.phase === "encode"
      ? `A row for ${JSON.stringify(this.table)} does not match its schema: ${this.reason}`
      : `A row read from ${JSON.stringify(this.table)} does not match its schema (does the model agree with the column types of this dialect?): ${this.reason}`
  }
}

/**
 * Any other SQL failure: syntax errors, missing tables, type mismatches.
 * `code` is the SQLite result code or the Postgres SQLSTATE.
 *
 * @since 0.1.0
 * @category errors
 */
export class QueryFailed extends Data.TaggedError("QueryFailed")<{
  readonly dialect: Dialect
  readonly code: string | undefined
  readonly reason: string
  readonly cause: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Query failed${this.code === undefined ? "" : ` (${this.code})`}: ${this.reason}`
  }
}

/**
 * Every failure a `Db` operation can return.
 *
 * @since 0.1.0
 * @category models
 */
export type DbError =
  | UniqueViolation
  | ForeignKeyViolation
  | ConstraintViolation
  | NotFound
  | ConnectionLost
  | ConnectFailed
  | Busy
  | SerializationFailure
  | StatementTimeout
  | InvalidRow
  | QueryFailed

/**
 * @since 0.1.0
 * @category guards
 */
export const isDbError = (u: unknown): u is DbError => Predicate.hasProperty(u, TypeId)

/**
 * Classifies a `SqlError` from `@effect/sql` by its driver cause (SQLite
 * result codes, Postgres SQLSTATEs, socket errors). `target` names the
 * database in messages and must not contain a password.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSqlError = (error: SqlError, dialect: Dialect, target: string): DbError =>
  internal.classify(error, dialect, target)

/**
 * Whether running the whole transaction again may succeed: `Busy` and
 * `SerializationFailure` (serialization conflicts and deadlocks).
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryable = (error: unknown): error is Busy | SerializationFailure =>
  isDbError(error) && (error._tag === "Busy" || error._tag === "SerializationFailure")
