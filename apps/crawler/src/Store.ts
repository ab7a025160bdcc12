/**
 * `Store`: the crawl's results as they were committed — the page records of
 * the `pages` table, read back in `seq` (commit) order with bounded memory,
 * exported to JSONL or CSV, and summarized for `status`.
 *
 * Records are read by keyset pagination over `seq` (one short statement per
 * page), so an export of millions of records holds one page in memory and
 * never blocks the crawl's writer for long. Files are written atomically
 * (temp file, fsync, rename): a reader or a crash sees the old file or the
 * complete new one.
 *
 * {@link regenerateJsonl} is the exactly-once half of `--resume --out f`:
 * the crawl appends each record to `f` only after its transaction commits,
 * so a stop can leave `f` short of the database (committed, not yet
 * appended) but never ahead of it; rewriting `f` from the database before
 * resuming makes every committed record appear in it exactly once.
 *
 * Functions here require `Db` (the crawl's database) and, for files,
 * `FileSystem` and `Path` (`NodeContext.layer`). They only read; a database
 * that is not a crawl database fails with `Frontier.NoCrawl` (empty) or
 * `Frontier.IncompatibleDatabase`.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Db } from "@fiberkit/core"
 * import { Store } from "@fiberkit/crawler"
 *
 * const program = Effect.gen(function*() {
 *   const n = yield* Store.exportCsv("pages.csv")
 *   const s = yield* Store.summary
 *   console.log(`${n} pages, ${s.pagesPerSecond.toFixed(1)} pages/s`)
 * })
 *
 * program.pipe(
 *   Effect.provide(Layer.merge(Db.layerConfig({ app: "crawl" }), NodeContext.layer)),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { Csv, Db, DbError, Files, FilesError } from "@fiberkit/core"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Frontier from "./Frontier.js"
import * as internal from "./internal/store.js"
import type * as Page from "./Page.js"

/**
 * What reading the results can fail with: no crawl in the database, a
 * database of another tool or a newer version, or a database error.
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreError = Frontier.NoCrawl | Frontier.IncompatibleDatabase | DbError.DbError

/**
 * Options of {@link records}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordsOptions {
  /** Records read per statement. Default `1000`. */
  readonly pageSize?: number | undefined
  /** Start after this `seq` (records committed later). Default: from the first. */
  readonly afterSeq?: number | undefined
}

/**
 * The page records in commit (`seq`) order, as they were committed: `data`
 * and `body_key` are absent when they were absent or `null`. Bounded
 * memory: one page of `pageSize` records at a time. Records committed
 * while the stream runs are included when they come after the current page.
 *
 * @since 0.1.0
 * @category reading
 */
export const records = (options?: RecordsOptions): Stream.Stream<Page.PageRecord, StoreError, Db.Db> =>
  internal.records(options)

/**
 * The CSV columns of an export, in the order of the record's fields:
 * `url, final_url, status, content_type, bytes, title, canonical, depth,
 * links_out, fetched_at, elapsed_ms, error_kind, error_message, data,
 * body_key` (`data` as JSON text, empty when absent).
 *
 * @since 0.1.0
 * @category exporting
 */
export const columns: Csv.Columns<Page.PageRecord> = internal.columns

/**
 * Writes every record to a JSONL file, atomically, one line per record
 * encoded exactly as a `Jsonl` writer of `Page.PageRecord` encodes it.
 * Returns the number of records written.
 *
 * @since 0.1.0
 * @category exporting
 */
export const exportJsonl = (
  path: string,
  options?: Files.WriteOptions
): Effect.Effect<
  number,
  StoreError | FilesError.SystemFailure | FilesError.EncodeFailed,
  Db.Db | FileSystem.FileSystem | Path.Path
> => internal.exportJsonl(path, options)

/**
 * Writes every record to a CSV file (RFC 4180, header row of
 * {@link columns}), atomically. Returns the number of records written.
 *
 * @since 0.1.0
 * @category exporting
 */
export const exportCsv = (
  path: string,
  options?: Csv.Options & Files.WriteOptions
): Effect.Effect<number, StoreError | FilesError.SystemFailure, Db.Db | FileSystem.FileSystem | Path.Path> =>
  internal.exportCsv(path, options)

/**
 * Rewrites the crawl's JSONL output `path` from the database before a
 * resumed crawl appends to it: afterwards the file holds every committed
 * record once, in commit order, whatever the stopped process had appended
 * (fewer records, or a torn last line). Atomic, and fsynced so that the
 * appends that follow never land on a file that could still roll back.
 * Returns the number of records written.
 *
 * @since 0.1.0
 * @category exporting
 */
export const regenerateJsonl = (
  path: string
): Effect.Effect<
  number,
  StoreError | FilesError.SystemFailure | FilesError.EncodeFailed,
  Db.Db | FileSystem.FileSystem | Path.Path
> => internal.exportJsonl(path, { atomic: true, sync: true })

/**
 * The crawl in numbers, for the `status` command.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary extends Frontier.Stats {
  /** The crawl the database holds (`null` before `Frontier.init`). */
  readonly crawl: Frontier.Crawl | null
  /** Page records per status code (`"none"` when no response came). */
  readonly byStatus: Readonly<Record<string, number>>
  /** From the first to the last `fetched_at`, in ms (`0` with fewer than two distinct times). */
  readonly elapsedMs: number
  /** Page records per second over `elapsedMs` (`0` when it is `0`). */
  readonly pagesPerSecond: number
}

/**
 * Counts by URL state, status code, status class and error kind; bytes;
 * the fetch time range and the rate over it. Scans the tables: one call per
 * `status`, not per page.
 *
 * @since 0.1.0
 * @category reading
 */
export const summary: Effect.Effect<Summary, StoreError, Db.Db> = internal.summary
