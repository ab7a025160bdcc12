/**
 * Parsing of the file source's JSONL and CSV files into the last row per
 * symbol, with every problem located by file and line.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { parseLine } from "./sourceCsv.js"
import { decodeWith, NumberLike, toEpochMillis } from "./sourceValues.js"

/** @internal */
export const PriceValue = NumberLike.pipe(Schema.positive({ message: () => "a price must be greater than zero" }))

/** @internal */
export const VolumeValue = Schema.NullOr(
  NumberLike.pipe(Schema.nonNegative({ message: () => "a volume cannot be negative" }))
)

const FileRow = Schema.Struct({
  symbol: Schema.String,
  price: PriceValue,
  volume: Schema.optional(VolumeValue),
  time: Schema.optional(Schema.NullOr(Schema.Union(Schema.Number, Schema.String)))
})

/** @internal */
export type RowOutcome =
  | { readonly _tag: "Row"; readonly price: number; readonly volume: number | null; readonly time: number | undefined }
  | { readonly _tag: "Bad"; readonly message: string }

/** @internal */
export interface Snapshot {
  /** Last row per symbol as spelled in the file. */
  readonly rows: ReadonlyMap<string, RowOutcome>
  /** Lines that could not be attributed to a symbol. */
  readonly broken: ReadonlyArray<string>
  /** A problem with the file as a whole (missing, unreadable, bad header). */
  readonly fileError: string | undefined
  readonly mtime: number | undefined
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const rowOutcome = (file: string, line: number, value: unknown): RowOutcome => {
  const decoded = decodeWith(FileRow, value)
  if (Either.isLeft(decoded)) return { _tag: "Bad", message: `${file}:${line}: ${decoded.left}` }
  const { price, time, volume } = decoded.right
  let at: number | undefined
  if (time !== undefined && time !== null && !(typeof time === "string" && time.trim() === "")) {
    at = toEpochMillis(time)
    if (at === undefined) {
      return { _tag: "Bad", message: `${file}:${line}: time ${JSON.stringify(time)} is not a timestamp` }
    }
  }
  return { _tag: "Row", price, volume: volume ?? null, time: at }
}

/** Splits text into numbered lines, noting whether the last one is complete. */
const numberedLines = (text: string) => {
  const lines = text.split("\n")
  const complete = text.endsWith("\n")
  return lines.map((raw, index) => ({
    number: index + 1,
    text: raw.endsWith("\r") ? raw.slice(0, -1) : raw,
    // A last line without a newline may still be being written.
    inProgress: !complete && index === lines.length - 1
  }))
}

/** @internal */
export const parseJsonl = (file: string, text: string): Omit<Snapshot, "mtime"> => {
  const rows = new Map<string, RowOutcome>()
  const broken: Array<string> = []
  for (const line of numberedLines(text)) {
    if (line.text.trim().length === 0) continue
    let value: unknown
    try {
      value = JSON.parse(line.text)
    } catch (cause) {
      if (line.inProgress) continue
      broken.push(`${file}:${line.number}: not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`)
      continue
    }
    if (!isRecord(value) || typeof value["symbol"] !== "string" || value["symbol"].length === 0) {
      broken.push(`${file}:${line.number}: expected an object with a "symbol" string`)
      continue
    }
    rows.set(value["symbol"], rowOutcome(file, line.number, value))
  }
  return { rows, broken, fileError: undefined }
}

/** @internal */
export const parseCsv = (file: string, text: string): Omit<Snapshot, "mtime"> => {
  const rows = new Map<string, RowOutcome>()
  const broken: Array<string> = []
  let header: Array<string> | undefined
  for (const line of numberedLines(text)) {
    if (line.text.trim().length === 0) continue
    const fields = parseLine(line.text)
    if (Either.isLeft(fields)) {
      if (line.inProgress) continue
      if (header === undefined) return { rows, broken, fileError: `${file}:${line.number}: bad header: ${fields.left}` }
      broken.push(`${file}:${line.number}: ${fields.left}`)
      continue
    }
    if (header === undefined) {
      header = fields.right.map((name) => name.trim().toLowerCase())
      if (!header.includes("symbol") || !header.includes("price")) {
        return {
          rows,
          broken,
          fileError: `${file}:${line.number}: the header must name the columns symbol and price (found ${header.join(",")})`
        }
      }
      continue
    }
    if (fields.right.length !== header.length) {
      if (line.inProgress) continue
      broken.push(`${file}:${line.number}: ${fields.right.length} fields where the header has ${header.length}`)
      continue
    }
    const record: Record<string, string> = {}
    header.forEach((name, i) => {
      const value = fields.right[i] ?? ""
      // Empty optional cells mean "no value".
      if (value.length > 0 || name === "symbol" || name === "price") record[name] = value
    })
    const symbol = record["symbol"] ?? ""
    if (symbol.length === 0) {
      broken.push(`${file}:${line.number}: empty symbol`)
      continue
    }
    rows.set(symbol, rowOutcome(file, line.number, record))
  }
  if (header === undefined) return { rows, broken, fileError: `${file}: empty file (no header row)` }
  return { rows, broken, fileError: undefined }
}

