/**
 * Streaming large result sets with bounded memory: through a server-side
 * cursor on Postgres (`sql.stream` in sql-pg, 128 rows per fetch), and by
 * keyset pagination on SQLite, whose driver cannot stream a statement:
 * `WHERE key > :last ORDER BY key LIMIT :page`, one short statement per page,
 * so the connection is free between pages.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import * as errors from "./dbError.js"
import type * as tx from "./dbTransaction.js"
import { quote } from "./dbWrite.js"

/** @internal */
export const stream = (
  rt: tx.Runner,
  defaultPageSize: number,
  options: Db.StreamOptions
): Stream.Stream<Db.Row, DbError.DbError> => {
  const sql = rt.sql
  const pageSize = options.pageSize ?? defaultPageSize
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    return Stream.fail(
      new DbError.QueryFailed({
        dialect: rt.dialect,
        code: undefined,
        reason: `stream of ${options.table}: pageSize must be an integer >= 1, got ${pageSize}`,
        cause: undefined
      })
    )
  }
  // Keyset pagination reads the key of each page's last row.
  const selected = options.columns === undefined
    ? undefined
    : options.columns.includes(options.key) ? options.columns : [...options.columns, options.key]
  const columns = selected === undefined ? "*" : selected.map(quote).join(", ")
  const select = sql.literal(`SELECT ${columns} FROM ${quote(options.table)}`)
  const key = sql.literal(quote(options.key))
  const where = options.where

  if (rt.dialect === "pg") {
    const statement = where === undefined
      ? sql`${select} ORDER BY ${key}`
      : sql`${select} WHERE ${where} ORDER BY ${key}`
    return Stream.mapError(statement.stream, (e) => errors.classify(e, rt.dialect, rt.target))
  }

  const page = (after: Option.Option<unknown>) => {
    const conditions = [
      ...(where === undefined ? [] : [where]),
      ...(after._tag === "Some" ? [sql`${key} > ${after.value}`] : [])
    ]
    const statement = conditions.length === 0
      ? sql<Db.Row>`${select} ORDER BY ${key} LIMIT ${pageSize}`
      : sql<Db.Row>`${select} WHERE ${sql.and(conditions)} ORDER BY ${key} LIMIT ${pageSize}`
    return errors.typed(statement, rt.dialect, rt.target)
  }
  return Stream.paginateChunkEffect(Option.none<unknown>(), (after) =>
    Effect.map(page(after), (rows) => {
      const last = rows[rows.length - 1]
      const next = rows.length < pageSize || last === undefined ? Option.none() : Option.some(Option.some(last[options.key]))
      return [Chunk.unsafeFromArray(rows), next] as const
    }))
}
