/**
 * The implementation of `Csv`: RFC 4180 field quoting, row formatting, and
 * the string, stream and file forms.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Csv from "../Csv.js"
import type * as Files from "../Files.js"
import type * as FilesError from "../FilesError.js"
import { open, resolveWriteOptions } from "./files.js"

/** A field must be quoted when it holds a quote, comma, CR or LF, or starts or ends with a space or tab. */
const NEEDS_QUOTES = /[",\r\n]|^[ \t]|[ \t]$/
const QUOTE = /"/g

/** @internal */
export const text = (value: Csv.Value): string => {
  switch (typeof value) {
    case "string":
      return value
    case "number":
      // String(-0) is "0"; NaN and ±Infinity print as such.
      return String(value)
    case "bigint":
      return value.toString()
    case "boolean":
      return value ? "true" : "false"
    case "undefined":
      return ""
  }
  if (value === null) return ""
  return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
}

/** @internal */
export const field = (value: Csv.Value): string => {
  const s = text(value)
  return NEEDS_QUOTES.test(s) ? `"${s.replace(QUOTE, "\"\"")}"` : s
}

/** @internal */
export const formatRow = (values: ReadonlyArray<Csv.Value>): string => {
  // A record of one empty field would be an empty line, which readers skip.
  if (values.length === 1) {
    const only = field(values[0])
    return only === "" ? "\"\"" : only
  }
  let line = ""
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += ","
    line += field(values[i])
  }
  return line
}

interface Compiled<A> {
  readonly header: string
  readonly getters: ReadonlyArray<(row: A) => Csv.Value>
  readonly newline: string
}

const compile = <A>(columns: Csv.Columns<A>, options: Csv.Options | undefined): Compiled<A> => {
  const headers: Array<string> = []
  const getters: Array<(row: A) => Csv.Value> = []
  for (const column of columns) {
    if (typeof column === "string") {
      headers.push(column)
      // `ValueKeys<A>` only admits keys whose values are `Value`s.
      getters.push((row) => row[column] as Csv.Value)
    } else {
      headers.push(column.header)
      getters.push(column.value)
    }
  }
  const newline = options?.newline ?? "\r\n"
  const header = options?.header === false ? "" : formatRow(headers) + newline
  return { header: options?.bom === true ? `\uFEFF${header}` : header, getters, newline }
}

const formatRecord = <A>(compiled: Compiled<A>, row: A, values: Array<Csv.Value>): string => {
  const getters = compiled.getters
  for (let i = 0; i < getters.length; i++) values[i] = (getters[i] as (row: A) => Csv.Value)(row)
  return formatRow(values) + compiled.newline
}

const formatRecords = <A>(compiled: Compiled<A>, rows: Iterable<A>): string => {
  const values: Array<Csv.Value> = new Array(compiled.getters.length)
  let out = ""
  for (const row of rows) out += formatRecord(compiled, row, values)
  return out
}

/** @internal */
export const format = <A>(rows: Iterable<A>, columns: Csv.Columns<A>, options: Csv.Options | undefined): string => {
  const compiled = compile(columns, options)
  return compiled.header + formatRecords(compiled, rows)
}

/** @internal */
export const encode = <A>(columns: Csv.Columns<A>, options: Csv.Options | undefined) =>
<E, R>(rows: Stream.Stream<A, E, R>): Stream.Stream<string, E, R> => {
  const compiled = compile(columns, options)
  const body = Stream.mapChunks(rows, (chunk) => chunk.length === 0 ? Chunk.empty() : Chunk.of(formatRecords(compiled, chunk)))
  return compiled.header === "" ? body : Stream.concat(Stream.succeed(compiled.header), body)
}

/** @internal */
export const sink = <A>(
  path: string,
  columns: Csv.Columns<A>,
  options: (Csv.Options & Files.WriteOptions) | undefined
): Sink.Sink<void, A, never, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> => {
  const compiled = compile(columns, options)
  return Sink.unwrapScoped(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const paths = yield* Path.Path
      const file = yield* open(fs, paths, "Csv.sink", path, resolveWriteOptions(options))
      yield* file.write(Buffer.from(compiled.header, "utf8"))
      return Sink.forEachChunk((chunk: Chunk.Chunk<A>) => file.write(Buffer.from(formatRecords(compiled, chunk), "utf8"))).pipe(
        Sink.mapEffect(() => file.commit)
      )
    })
  )
}
