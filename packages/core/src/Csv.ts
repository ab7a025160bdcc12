/**
 * `Csv`: writing CSV for exports, quoted per RFC 4180 so that any spreadsheet
 * or CSV parser reads back exactly the values written.
 *
 * - A field is quoted when it contains a quote, a comma, CR or LF, or starts
 *   or ends with a space or tab; quotes inside are doubled.
 * - Records end with CRLF (RFC 4180; `newline: "\n"` for Unix tools), the
 *   first record is the header row built from the column list.
 * - Values: `null` / `undefined` → empty; numbers as `String(n)` (`-0` → `0`,
 *   `NaN`, `Infinity`); `bigint` in full; booleans `true` / `false`; dates as
 *   ISO 8601 UTC (`Invalid Date` for an invalid one).
 *
 * Three forms: {@link format} builds a string, {@link encode} turns a
 * `Stream` of rows into a `Stream` of text, {@link sink} writes a file
 * atomically (the export appears complete or not at all).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Csv } from "@fiberkit/core"
 *
 * interface Quote { readonly symbol: string; readonly price: number; readonly at: Date }
 *
 * const columns: Csv.Columns<Quote> = [
 *   "symbol",
 *   { header: "price (USD)", value: (q) => q.price.toFixed(2) },
 *   "at"
 * ]
 *
 * const text = Csv.format([{ symbol: "BTC", price: 64000.5, at: new Date(0) }], columns)
 * // "symbol,price (USD),at\r\nBTC,64000.50,1970-01-01T00:00:00.000Z\r\n"
 *
 * const exported = quotes.pipe(Stream.run(Csv.sink("quotes.csv", columns)))
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as Files from "./Files.js"
import type * as FilesError from "./FilesError.js"
import * as internal from "./internal/filesCsv.js"

/**
 * What a field can hold.
 *
 * @since 0.1.0
 * @category models
 */
export type Value = string | number | bigint | boolean | Date | null | undefined

/**
 * A computed column: its header and how to get its value from a row.
 *
 * @since 0.1.0
 * @category models
 */
export interface Column<A> {
  readonly header: string
  readonly value: (row: A) => Value
}

/**
 * The keys of `A` whose values are {@link Value}s.
 *
 * @since 0.1.0
 * @category models
 */
export type ValueKeys<A> = { [K in keyof A]-?: A[K] extends Value ? K : never }[keyof A] & string

/**
 * The columns of an export, in order: a key of the row (the header is the
 * key) or a {@link Column}.
 *
 * @since 0.1.0
 * @category models
 */
export type Columns<A> = ReadonlyArray<ValueKeys<A> | Column<A>>

/**
 * Output options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Record terminator. Default `"\r\n"` (RFC 4180). */
  readonly newline?: "\r\n" | "\n" | undefined
  /** Write the header row. Default `true`. */
  readonly header?: boolean | undefined
  /** Start with a UTF-8 byte order mark, which Excel needs to read UTF-8. Default `false`. */
  readonly bom?: boolean | undefined
}

/**
 * One field, quoted if needed.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatField: (value: Value) => string = internal.field

/**
 * One record, without its terminator.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatRow: (values: ReadonlyArray<Value>) => string = internal.formatRow

/**
 * A whole CSV document: the header row, then one record per row, each
 * terminated.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = <A>(rows: Iterable<A>, columns: Columns<A>, options?: Options): string =>
  internal.format(rows, columns, options)

/**
 * Turns a stream of rows into CSV text: the header first, then one string
 * per chunk of rows.
 *
 * @example
 * ```ts
 * const text = rows.pipe(Csv.encode(columns), Stream.run(Files.sink("out.csv")))
 * ```
 *
 * @since 0.1.0
 * @category streaming
 */
export const encode: <A>(
  columns: Columns<A>,
  options?: Options
) => <E, R>(rows: Stream.Stream<A, E, R>) => Stream.Stream<string, E, R> = (columns, options) =>
  internal.encode(columns, options)

/**
 * A sink writing rows to a CSV file, atomically by default
 * ({@link Files.WriteOptions}): the file changes only once the stream has
 * ended successfully. One write per chunk of rows.
 *
 * @since 0.1.0
 * @category streaming
 */
export const sink = <A>(
  path: string,
  columns: Columns<A>,
  options?: Options & Files.WriteOptions
): Sink.Sink<void, A, never, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.sink(path, columns, options)
