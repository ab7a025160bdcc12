/**
 * The read side of the results: page records in `seq` order by keyset
 * pagination (one short statement per page on both dialects, so neither a
 * connection nor SQLite's lock is held between pages), their JSONL and CSV
 * exports, and the summary.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Csv, Db, DbError, Files, FilesError } from "@fiberkit/core"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Frontier from "../Frontier.js"
import * as Page from "../Page.js"
import type * as Store from "../Store.js"
import * as frontierRead from "./frontierRead.js"
import * as schema from "./schema.js"

/** @internal */
export const DEFAULT_PAGE_SIZE = 1_000

interface PageRow {
  readonly seq: number | string
  readonly url: string
  readonly final_url: string | null
  readonly status: number | null
  readonly content_type: string | null
  readonly bytes: number | string | null
  readonly title: string | null
  readonly canonical: string | null
  readonly depth: number
  readonly links_out: number
  readonly fetched_at: string
  readonly elapsed_ms: number | null
  readonly error_kind: string | null
  readonly error_message: string | null
  readonly data: string | null
  readonly body_key: string | null
}

const SELECT = "SELECT seq, url, final_url, status, content_type, bytes, title, canonical, depth, links_out, " +
  "fetched_at, elapsed_ms, error_kind, error_message, data, body_key FROM pages"

/**
 * A row as the record that was committed. Keys are in the schema's order;
 * `data` and `body_key` are left out when NULL (they are optional fields).
 */
const toRecord = (row: PageRow): Page.PageRecord => {
  const record: {
    -readonly [K in keyof Page.PageRecord]: Page.PageRecord[K]
  } = {
    url: row.url,
    final_url: row.final_url,
    status: row.status === null ? null : Number(row.status),
    content_type: row.content_type,
    bytes: frontierRead.num(row.bytes),
    title: row.title,
    canonical: row.canonical,
    depth: Number(row.depth),
    links_out: Number(row.links_out),
    fetched_at: row.fetched_at,
    elapsed_ms: frontierRead.num(row.elapsed_ms),
    error_kind: row.error_kind,
    error_message: row.error_message
  }
  if (row.data !== null) record.data = JSON.parse(row.data)
  if (row.body_key !== null) record.body_key = row.body_key
  return record
}

const decodeRows = (rows: ReadonlyArray<PageRow>): Either.Either<Array<Page.PageRecord>, DbError.InvalidRow> => {
  const out = new Array<Page.PageRecord>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as PageRow
    try {
      out[i] = toRecord(row)
    } catch (error) {
      return Either.left(
        new DbError.InvalidRow({
          table: "pages",
          phase: "decode",
          reason: `the data of the record at seq ${row.seq} is not JSON: ${error instanceof Error ? error.message : String(error)}`
        })
      )
    }
  }
  return Either.right(out)
}

/** The database is a crawl database this version can read. @internal */
export const check = (db: Db.Service): Effect.Effect<void, Store.StoreError> =>
  Effect.flatMap(schema.inspect(db), (found): Effect.Effect<void, Store.StoreError> => {
    switch (found._tag) {
      case "Crawl":
        return Effect.void
      case "Empty":
        return Effect.fail(new Frontier.NoCrawl({ target: db.target }))
      case "Foreign":
        return Effect.fail(new Frontier.IncompatibleDatabase({ reason: "other-tool", target: db.target, detail: found.detail }))
      case "Newer":
        return Effect.fail(
          new Frontier.IncompatibleDatabase({
            reason: "newer-schema",
            target: db.target,
            detail: `its crawl schema is version ${found.version}, this version knows up to ${schema.SCHEMA_VERSION}`
          })
        )
    }
  })

/** @internal */
export const records = (options: Store.RecordsOptions | undefined): Stream.Stream<Page.PageRecord, Store.StoreError, Db.Db> => {
  const pageSize = options?.pageSize ?? DEFAULT_PAGE_SIZE
  const afterSeq = options?.afterSeq ?? 0
  return Stream.unwrap(Effect.gen(function*() {
    const db = yield* Db.Db
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      return yield* new DbError.QueryFailed({
        dialect: db.dialect,
        code: undefined,
        reason: `Store.records: pageSize must be an integer >= 1, got ${pageSize}`,
        cause: undefined
      })
    }
    yield* check(db)
    const text = db.dialect === "pg"
      ? `${SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2`
      : `${SELECT} WHERE seq > ? ORDER BY seq LIMIT ?`
    const page = (after: number) =>
      Effect.flatMap(db.typed(db.sql.unsafe<PageRow>(text, [after, pageSize])), (rows) =>
        Either.match(decodeRows(rows), {
          onLeft: Effect.fail,
          onRight: (decoded) => {
            const last = rows[rows.length - 1]
            const next = rows.length < pageSize || last === undefined ? Option.none() : Option.some(Number(last.seq))
            return Effect.succeed([Chunk.unsafeFromArray(decoded), next] as const)
          }
        }))
    return Stream.paginateChunkEffect(afterSeq, page)
  }))
}

/** One JSONL line, encoded exactly as a `Jsonl` writer of `Page.PageRecord` encodes it. */
const encodeRecord = Schema.encodeEither(Page.PageRecord)

/** A chunk of records as one string of JSONL lines (one file write per page of records). */
const lines = (path: string, records: Chunk.Chunk<Page.PageRecord>): Effect.Effect<Chunk.Chunk<string>, FilesError.EncodeFailed> => {
  let text = ""
  for (const record of records) {
    const encoded = encodeRecord(record)
    if (Either.isLeft(encoded)) {
      return Effect.fail(
        new FilesError.EncodeFailed({
          operation: "Store.exportJsonl",
          path,
          at: [],
          detail: `the record of ${record.url}: ${ParseResult.TreeFormatter.formatErrorSync(encoded.left)}`
        })
      )
    }
    text += `${JSON.stringify(encoded.right)}\n`
  }
  return Effect.succeed(text.length === 0 ? Chunk.empty() : Chunk.of(text))
}

const counted = <A, E, R>(stream: Stream.Stream<A, E, R>, count: { n: number }): Stream.Stream<A, E, R> =>
  Stream.mapChunks(stream, (chunk) => {
    count.n += chunk.length
    return chunk
  })

/** @internal */
export const exportJsonl = (
  path: string,
  options: Files.WriteOptions | undefined
): Effect.Effect<
  number,
  Store.StoreError | FilesError.SystemFailure | FilesError.EncodeFailed,
  Db.Db | FileSystem.FileSystem | Path.Path
> =>
  Effect.suspend(() => {
    const count = { n: 0 }
    return records(undefined).pipe(
      (s) => counted(s, count),
      Stream.mapChunksEffect((chunk) => lines(path, chunk)),
      Stream.run(Files.sink(path, options)),
      Effect.map(() => count.n)
    )
  })

/** @internal */
export const columns: Csv.Columns<Page.PageRecord> = [
  "url",
  "final_url",
  "status",
  "content_type",
  "bytes",
  "title",
  "canonical",
  "depth",
  "links_out",
  "fetched_at",
  "elapsed_ms",
  "error_kind",
  "error_message",
  { header: "data", value: (r) => (r.data === undefined ? null : JSON.stringify(r.data)) },
  "body_key"
]

/** @internal */
export const exportCsv = (
  path: string,
  options: (Csv.Options & Files.WriteOptions) | undefined
): Effect.Effect<number, Store.StoreError | FilesError.SystemFailure, Db.Db | FileSystem.FileSystem | Path.Path> =>
  Effect.suspend(() => {
    const count = { n: 0 }
    return records(undefined).pipe(
      (s) => counted(s, count),
      Stream.run(Csv.sink(path, columns, options)),
      Effect.map(() => count.n)
    )
  })

/** @internal */
export const summary: Effect.Effect<Store.Summary, Store.StoreError, Db.Db> = Effect.gen(function*() {
  const db = yield* Db.Db
  yield* check(db)
  const now = yield* Clock.currentTimeMillis
  const crawl = yield* frontierRead.crawl(db)
  const stats = yield* frontierRead.stats(db, now)
  const byStatus = yield* frontierRead.byStatus(db)
  const elapsedMs = stats.firstFetchedAt === null || stats.lastFetchedAt === null
    ? 0
    : stats.lastFetchedAt - stats.firstFetchedAt
  return {
    ...stats,
    crawl: Option.getOrNull(crawl),
    byStatus,
    elapsedMs,
    pagesPerSecond: elapsedMs > 0 ? stats.pages / (elapsedMs / 1000) : 0
  }
})
