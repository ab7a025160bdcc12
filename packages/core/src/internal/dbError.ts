/**
 * Classification of driver errors (better-sqlite3 `SqliteError`, node-postgres
 * `DatabaseError`, socket errors) into the `DbError` family.
 *
 * @internal
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as DbError from "../DbError.js"

interface DriverFields {
  readonly code: string | undefined
  readonly message: string
  readonly table: string | undefined
  readonly constraint: string | undefined
  readonly column: string | undefined
  readonly detail: string | undefined
}

const stringField = (u: unknown, key: string): string | undefined => {
  if (typeof u !== "object" || u === null || !(key in u)) return undefined
  const value: unknown = (u as Record<string, unknown>)[key]
  return typeof value === "string" && value.length > 0 ? value : undefined
}

const fieldsOf = (error: SqlError): DriverFields => {
  const cause: unknown = error.cause
  return {
    code: stringField(cause, "code"),
    message: stringField(cause, "message") ?? error.message,
    table: stringField(cause, "table"),
    constraint: stringField(cause, "constraint"),
    column: stringField(cause, "column"),
    detail: stringField(cause, "detail")
  }
}

/** `UNIQUE constraint failed: pages.url, pages.site` → table and columns. */
const sqliteTarget = (message: string): { table: string | undefined; columns: ReadonlyArray<string> } => {
  const at = message.indexOf("constraint failed: ")
  if (at < 0) return { table: undefined, columns: [] }
  const list = message.slice(at + "constraint failed: ".length).split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  let table: string | undefined
  const columns: Array<string> = []
  for (const item of list) {
    const dot = item.indexOf(".")
    if (dot < 0) {
      columns.push(item)
      continue
    }
    table ??= item.slice(0, dot)
    columns.push(item.slice(dot + 1))
  }
  return { table, columns }
}

/** `Key (site, url)=(…) already exists.` → `["site", "url"]`; the values are dropped. */
const pgDetailColumns = (detail: string | undefined): ReadonlyArray<string> => {
  if (detail === undefined) return []
  const match = /^Key \(([^)]*)\)=/.exec(detail)
  return match?.[1] === undefined ? [] : match[1].split(",").map((s) => s.trim())
}

const SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN"
])

const LOST_MESSAGES = [
  "Connection terminated",
  "connection is not open",
  "not queryable",
  "timeout exceeded when trying to connect",
  "Failed to acquire connection",
  "Connection error"
]

const looksLost = (f: DriverFields): boolean =>
  (f.code !== undefined && SOCKET_CODES.has(f.code)) || LOST_MESSAGES.some((m) => f.message.includes(m))

const classifySqlite = (error: SqlError, f: DriverFields, target: string): DbError.DbError => {
  const code = f.code ?? ""
  const where = sqliteTarget(f.message)
  const cause = error.cause ?? error
  switch (code) {
    case "SQLITE_CONSTRAINT_UNIQUE":
    case "SQLITE_CONSTRAINT_PRIMARYKEY":
      return new DbError.UniqueViolation({ dialect: "sqlite", table: where.table, constraint: undefined, columns: where.columns, cause })
    case "SQLITE_CONSTRAINT_FOREIGNKEY":
      return new DbError.ForeignKeyViolation({ dialect: "sqlite", table: undefined, constraint: undefined, columns: [], cause })
    case "SQLITE_CONSTRAINT_NOTNULL":
      return new DbError.ConstraintViolation({ dialect: "sqlite", kind: "not-null", table: where.table, constraint: undefined, columns: where.columns, cause })
    case "SQLITE_CONSTRAINT_CHECK":
      return new DbError.ConstraintViolation({
        dialect: "sqlite",
        kind: "check",
        table: undefined,
        constraint: where.columns[0],
        columns: [],
        cause
      })
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new DbError.Busy({ target, attempts: 1, cause })
  }
  if (code.startsWith("SQLITE_CONSTRAINT")) {
    return new DbError.ConstraintViolation({ dialect: "sqlite", kind: "other", table: where.table, constraint: undefined, columns: where.columns, cause })
  }
  if (f.code === undefined && looksLost(f)) {
    return new DbError.ConnectionLost({ dialect: "sqlite", target, reason: f.message, cause })
  }
  return new DbError.QueryFailed({ dialect: "sqlite", code: f.code, reason: f.message, cause })
}

const classifyPg = (error: SqlError, f: DriverFields, target: string): DbError.DbError => {
  const code = f.code
  const cause = error.cause ?? error
  const columns = f.column !== undefined ? [f.column] : pgDetailColumns(f.detail)
  const common = { dialect: "pg" as const, table: f.table, constraint: f.constraint, columns, cause }
  switch (code) {
    case "23505":
      return new DbError.UniqueViolation(common)
    case "23503":
      return new DbError.ForeignKeyViolation(common)
    case "23502":
      return new DbError.ConstraintViolation({ ...common, kind: "not-null" })
    case "23514":
      return new DbError.ConstraintViolation({ ...common, kind: "check" })
    case "23P01":
      return new DbError.ConstraintViolation({ ...common, kind: "exclusion" })
    case "40001":
      return new DbError.SerializationFailure({ reason: "serialization", target, attempts: 1, cause })
    case "40P01":
      return new DbError.SerializationFailure({ reason: "deadlock", target, attempts: 1, cause })
    case "57014":
      if (f.message.includes("statement timeout")) return new DbError.StatementTimeout({ target, cause })
      break
    case "57P01":
    case "57P02":
    case "57P03":
    case "53300":
      return new DbError.ConnectionLost({ dialect: "pg", target, reason: f.message, cause })
  }
  if ((code !== undefined && code.startsWith("08")) || looksLost(f)) {
    return new DbError.ConnectionLost({ dialect: "pg", target, reason: f.message, cause })
  }
  if (code !== undefined && code.startsWith("23")) return new DbError.ConstraintViolation({ ...common, kind: "other" })
  return new DbError.QueryFailed({ dialect: "pg", code, reason: f.message, cause })
}

/** @internal */
export const classify = (error: SqlError, dialect: DbError.Dialect, target: string): DbError.DbError => {
  const fields = fieldsOf(error)
  return dialect === "sqlite" ? classifySqlite(error, fields, target) : classifyPg(error, fields, target)
}

/** @internal */
export const isSqlError = (u: unknown): u is SqlError => u instanceof SqlError

/**
 * The error channel after SQL errors were classified.
 *
 * @internal
 */
export type Typed<E> = Exclude<E, SqlError> | DbError.DbError

/** Replaces every `SqlError` in the error channel by its `DbError`. @internal */
export const typed = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  dialect: DbError.Dialect,
  target: string
): Effect.Effect<A, Typed<E>, R> =>
  Effect.mapError(effect, (e): Typed<E> => isSqlError(e) ? classify(e, dialect, target) : e as Exclude<E, SqlError>)
