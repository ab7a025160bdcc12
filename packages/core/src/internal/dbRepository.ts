/**
 * The repository over a `Model` class: statements built here (so SQLite
 * gets driver-bindable values), rows encoded and decoded with the model's
 * variants, SQL errors classified, single-statement writes retried like
 * transactions, lookups by id batched through `dbLoader`.
 *
 * @internal
 */
import type * as Model from "@effect/sql/Model"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import type * as Repository from "../Repository.js"
import * as loaders from "./dbLoader.js"
import * as tx from "./dbTransaction.js"
import { bindValue, quote } from "./dbWrite.js"

const formatIssue = (issue: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(issue)

const encoder = (schema: Schema.Schema.AnyNoContext, table: string) => {
  const encode = Schema.encodeUnknownEither(schema)
  return (value: unknown): Either.Either<Db.Row, DbError.InvalidRow> =>
    Either.flatMap(
      Either.mapLeft(encode(value), (issue) => new DbError.InvalidRow({ table, phase: "encode", reason: formatIssue(issue) })),
      (encoded: unknown) =>
        typeof encoded === "object" && encoded !== null
          ? Either.right(encoded as Db.Row)
          : Either.left(new DbError.InvalidRow({ table, phase: "encode", reason: "the model does not encode to a row object" }))
    )
}

const decoder = <A>(schema: Schema.Schema<A, unknown>, table: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (row: unknown): Either.Either<A, DbError.InvalidRow> =>
    Either.mapLeft(decode(row), (issue) => new DbError.InvalidRow({ table, phase: "decode", reason: formatIssue(issue) }))
}

/** Columns of an encoded row that are written (`undefined` means "not given"). */
const columnsOf = (row: Db.Row): Array<string> => Object.keys(row).filter((k) => row[k] !== undefined)

/** @internal */
export const make = <
  S extends Model.AnyNoContext,
  Id extends (keyof S["Type"]) & (keyof S["update"]["Type"]) & (keyof S["fields"]) & string
>(db: Db.Service, model: S, options: Repository.Options<Id>): Repository.For<S, Id> => {
  type A = S["Type"]
  const table = options.table
  const idColumn = options.idColumn
  const rt = tx.runnerOf(db)
  const dialect = db.dialect
  const q = quote(table)
  const qid = quote(idColumn)
  const param = dialect === "sqlite" ? () => "?" : (n: number) => `$${n}`
  const encodeInsert = encoder(model.insert, table)
  const encodeUpdate = encoder(model.update, table)
  const decode = decoder<A>(model as Schema.Schema<A, unknown>, table)
  const idField: unknown = model.fields[idColumn]
  const encodeId = Schema.isSchema(idField)
    ? Schema.encodeUnknownEither(idField as Schema.Schema<unknown, unknown>)
    : undefined
  const idParam = (id: unknown): unknown => {
    if (encodeId === undefined) return bindValue(dialect, id)
    const encoded = encodeId(id)
    return bindValue(dialect, encoded._tag === "Right" ? encoded.right : id)
  }
  const notFound = (id: unknown) => new DbError.NotFound({ table, column: idColumn, key: String(id) })

  const returning = (text: string, params: ReadonlyArray<unknown>) =>
    tx.autocommit(rt, db.sql.unsafe<Record<string, unknown>>(text, params))
  const changes = (text: string, params: ReadonlyArray<unknown>) =>
    Effect.map(tx.autocommit(rt, db.sql.unsafe(text, params).raw), (raw) => {
      const r = raw as { readonly changes?: unknown; readonly rowCount?: unknown }
      const n = typeof r.changes === "number" ? r.changes : r.rowCount
      return typeof n === "number" ? n : 0
    })

  const insertStatement = (row: Db.Row, suffix: string) => {
    const columns = columnsOf(row)
    const text = columns.length === 0
      ? `INSERT INTO ${q} DEFAULT VALUES${suffix}`
      : `INSERT INTO ${q} (${columns.map(quote).join(", ")}) VALUES (${columns.map((_, i) => param(i + 1)).join(", ")})${suffix}`
    return { text, params: columns.map((c) => bindValue(dialect, row[c])) }
  }

  const updateStatement = (row: Db.Row, suffix: string) => {
    const id = row[idColumn]
    const columns = columnsOf(row).filter((c) => c !== idColumn)
    const sets = columns.map((c, i) => `${quote(c)} = ${param(i + 1)}`).join(", ")
    return {
      id,
      text: `UPDATE ${q} SET ${sets} WHERE ${qid} = ${param(columns.length + 1)}${suffix}`,
      params: [...columns.map((c) => bindValue(dialect, row[c])), bindValue(dialect, id)]
    }
  }

  const loader = loaders.single<unknown, A, unknown>(db, {
    table,
    key: idColumn,
    schema: model as Schema.Schema<A, unknown>,
    name: table
  })

  const findById = (id: unknown): Effect.Effect<Option.Option<A>, DbError.DbError> => loader.load(idParam(id))

  return {
    insert: (input) =>
      Effect.flatMap(encodeInsert(input), (row) => {
        const { params, text } = insertStatement(row, " RETURNING *")
        return Effect.flatMap(returning(text, params), (rows) => decode(rows[0]))
      }),
    insertVoid: (input) =>
      Effect.flatMap(encodeInsert(input), (row) => {
        const { params, text } = insertStatement(row, "")
        return Effect.asVoid(changes(text, params))
      }),
    insertMany: (inputs) =>
      Effect.suspend(() => {
        const rows: Array<Db.Row> = []
        for (const input of inputs) {
          const encoded = encodeInsert(input)
          if (encoded._tag === "Left") return Effect.fail(encoded.left)
          rows.push(encoded.right)
        }
        const first = rows[0]
        return first === undefined ? Effect.succeed(0) : db.insertMany(table, rows, { columns: columnsOf(first) })
      }),
    update: (input) =>
      Effect.flatMap(encodeUpdate(input), (row) => {
        const { id, params, text } = updateStatement(row, " RETURNING *")
        return Effect.flatMap(
          returning(text, params),
          (rows): Effect.Effect<A, DbError.DbError> => (rows.length === 0 ? Effect.fail(notFound(id)) : decode(rows[0]))
        )
      }),
    updateVoid: (input) =>
      Effect.flatMap(encodeUpdate(input), (row) => {
        const { id, params, text } = updateStatement(row, "")
        return Effect.flatMap(changes(text, params), (n) => (n === 0 ? Effect.fail(notFound(id)) : Effect.void))
      }),
    findById,
    getById: (id) => Effect.flatMap(findById(id), Option.match({ onNone: () => Effect.fail(notFound(id)), onSome: Effect.succeed })),
    delete: (id) =>
      Effect.flatMap(
        changes(`DELETE FROM ${q} WHERE ${qid} = ${param(1)}`, [idParam(id)]),
        (n) => (n === 0 ? Effect.fail(notFound(id)) : Effect.void)
      ),
    stream: (streamOptions) =>
      db.stream({ table, key: idColumn, where: streamOptions?.where, pageSize: streamOptions?.pageSize }).pipe(
        Stream.mapChunksEffect((chunk) => {
          const out: Array<A> = []
          for (const row of chunk) {
            const decoded = decode(row)
            if (decoded._tag === "Left") return Effect.fail(decoded.left)
            out.push(decoded.right)
          }
          return Effect.succeed(Chunk.unsafeFromArray(out))
        })
      )
  }
}
