/**
 * Bulk writes: multi-row `INSERT … VALUES (…), (…)` statements, each carrying
 * as many rows as the dialect's bind-parameter limit allows, all in one
 * transaction; and the same with `ON CONFLICT` for upserts. The statement
 * text is built here rather than with `sql.insert` so that a full chunk's
 * text is built once per call and repeats exactly (SQLite's prepared
 * statement cache and the Postgres parser see one statement).
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import * as tx from "./dbTransaction.js"

/** @internal */
export interface Writer {
  readonly runner: tx.Runner
  readonly maxParams: number
}

/** Quotes an identifier; `schema.table` becomes `"schema"."table"` (as `@effect/sql` does). @internal */
export const quote = (name: string): string => `"${name.replace(/"/g, "\"\"").replace(/\./g, "\".\"")}"`

/**
 * A value as the driver binds it. better-sqlite3 binds only numbers,
 * strings, bigints, buffers and null.
 *
 * @internal
 */
export const bindValue = (dialect: Db.Dialect, value: unknown): unknown => {
  if (value === undefined) return null
  if (dialect === "sqlite") {
    if (typeof value === "boolean") return value ? 1 : 0
    if (value instanceof Date) return value.toISOString()
  }
  return value
}

/** `(?,?),(?,?)` or `($1,$2),($3,$4)`. */
const placeholders = (dialect: Db.Dialect, rows: number, columns: number): string => {
  const groups = new Array<string>(rows)
  if (dialect === "sqlite") {
    const one = `(${new Array<string>(columns).fill("?").join(",")})`
    groups.fill(one)
  } else {
    let n = 0
    const cells = new Array<string>(columns)
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) cells[c] = `$${++n}`
      groups[r] = `(${cells.join(",")})`
    }
  }
  return groups.join(",")
}

const invalid = (dialect: Db.Dialect, reason: string) =>
  new DbError.QueryFailed({ dialect, code: undefined, reason, cause: undefined })

const changesOf = (raw: unknown): number => {
  if (typeof raw !== "object" || raw === null) return 0
  const r = raw as { readonly changes?: unknown; readonly rowCount?: unknown }
  const n = typeof r.changes === "number" ? r.changes : r.rowCount
  return typeof n === "number" ? n : 0
}

interface Plan {
  readonly table: string
  readonly rows: ReadonlyArray<object>
  readonly columns: ReadonlyArray<string>
  /** Appended to every statement (`ON CONFLICT …`). */
  readonly suffix: string
  readonly chunkSize: number | undefined
}

const execute = (w: Writer, plan: Plan): Effect.Effect<number, DbError.DbError> => {
  const dialect = w.runner.dialect
  const width = plan.columns.length
  if (width === 0) return Effect.fail(invalid(dialect, `insert into ${plan.table}: no columns to write`))
  if (width > w.maxParams) {
    return Effect.fail(invalid(dialect, `insert into ${plan.table}: ${width} columns exceed the ${w.maxParams} bind parameters of one statement`))
  }
  const perStatement = Math.max(1, Math.min(plan.chunkSize ?? Number.POSITIVE_INFINITY, Math.floor(w.maxParams / width)))
  const head = `INSERT INTO ${quote(plan.table)} (${plan.columns.map(quote).join(", ")}) VALUES `
  const total = plan.rows.length
  const fullText = total >= perStatement ? head + placeholders(dialect, perStatement, width) + plan.suffix : ""
  const chunks: Array<number> = []
  for (let start = 0; start < total; start += perStatement) chunks.push(start)
  const writeChunk = (start: number): Effect.Effect<number, SqlError> =>
    Effect.suspend(() => {
      const count = Math.min(perStatement, total - start)
      const params = new Array<unknown>(count * width)
      let p = 0
      for (let i = start; i < start + count; i++) {
        const row = plan.rows[i] as Db.Row
        for (let c = 0; c < width; c++) params[p++] = bindValue(dialect, row[plan.columns[c] as string])
      }
      const text = count === perStatement ? fullText : head + placeholders(dialect, count, width) + plan.suffix
      return Effect.map(w.runner.sql.unsafe(text, params).raw, changesOf)
    })
  const all = Effect.map(
    Effect.forEach(chunks, writeChunk),
    (counts) => counts.reduce((a, b) => a + b, 0)
  )
  return tx.transaction(w.runner, all, undefined)
}

/** @internal */
export const insertMany = (
  w: Writer,
  table: string,
  rows: ReadonlyArray<object>,
  options: Db.InsertOptions | undefined
): Effect.Effect<number, DbError.DbError> => {
  const first = rows[0]
  if (first === undefined) return Effect.succeed(0)
  return execute(w, {
    table,
    rows,
    columns: options?.columns ?? Object.keys(first),
    suffix: "",
    chunkSize: options?.chunkSize
  })
}

const keyText = (row: Db.Row, key: ReadonlyArray<string>): string => {
  let text = ""
  for (const column of key) {
    const value = row[column]
    text += `${typeof value}:${String(value)}\u0000`
  }
  return text
}

/** Keeps the last row of each key, in the order of those last rows. */
const lastPerKey = (rows: ReadonlyArray<object>, key: ReadonlyArray<string>): ReadonlyArray<object> => {
  const last = new Map<string, number>()
  for (let i = 0; i < rows.length; i++) last.set(keyText(rows[i] as Db.Row, key), i)
  if (last.size === rows.length) return rows
  const out: Array<object> = []
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Db.Row
    if (last.get(keyText(row, key)) === i) out.push(row)
  }
  return out
}

/** @internal */
export const upsert = (
  w: Writer,
  table: string,
  rows: ReadonlyArray<object>,
  options: Db.UpsertOptions
): Effect.Effect<number, DbError.DbError> => {
  const first = rows[0]
  if (first === undefined) return Effect.succeed(0)
  const key = typeof options.key === "string" ? [options.key] : options.key
  if (key.length === 0) return Effect.fail(invalid(w.runner.dialect, `upsert into ${table}: the conflict key is empty`))
  const columns = options.columns ?? Object.keys(first)
  const update = options.update ?? columns.filter((c) => !key.includes(c))
  const target = `ON CONFLICT (${key.map(quote).join(", ")})`
  const suffix = update.length === 0
    ? ` ${target} DO NOTHING`
    : ` ${target} DO UPDATE SET ${update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(", ")}`
  // Postgres refuses to update one row twice in a statement; SQLite lets the
  // last row win. Keeping only each key's last row gives both that result.
  // With DO NOTHING both keep the first, so nothing is dropped.
  return execute(w, {
    table,
    rows: update.length === 0 ? rows : lastPerKey(rows, key),
    columns,
    suffix,
    chunkSize: options.chunkSize
  })
}
