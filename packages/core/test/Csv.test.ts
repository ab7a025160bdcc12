import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Stream from "effect/Stream"
import * as Csv from "../src/Csv.js"
import * as Files from "../src/Files.js"

/** A strict RFC 4180 reader, to check that what is written reads back exactly. */
const parse = (text: string): Array<Array<string>> => {
  const records: Array<Array<string>> = []
  let record: Array<string> = []
  let field = ""
  let i = 0
  let quoted = false
  let started = false
  while (i < text.length) {
    const c = text[i] as string
    if (quoted) {
      if (c === "\"") {
        if (text[i + 1] === "\"") {
          field += "\""
          i += 2
          continue
        }
        quoted = false
        i++
        const next = text[i]
        if (next !== undefined && next !== "," && next !== "\r") throw new Error(`text after closing quote at ${i}`)
        continue
      }
      field += c
      i++
      continue
    }
    if (c === "\"" && field === "") {
      quoted = true
      started = true
      i++
    } else if (c === "\"") {
      throw new Error(`bare quote at ${i}`)
    } else if (c === ",") {
      record.push(field)
      field = ""
      started = true
      i++
    } else if (c === "\r" && text[i + 1] === "\n") {
      record.push(field)
      records.push(record)
      record = []
      field = ""
      started = false
      i += 2
    } else if (c === "\r" || c === "\n") {
      throw new Error(`bare line break at ${i}`)
    } else {
      field += c
      started = true
      i++
    }
  }
  if (quoted) throw new Error("unterminated quote")
  if (started || field !== "" || record.length > 0) throw new Error("last record not terminated")
  return records
}

interface Trade {
  readonly id: number
  readonly symbol: string
  readonly note: string | null
  readonly at: Date
  readonly tags: ReadonlyArray<string>
}

const columns: Csv.Columns<Trade> = [
  "id",
  "symbol",
  "note",
  "at",
  { header: "tags", value: (t) => t.tags.join(";") }
]

const trade = (id: number, note: string | null = null): Trade => ({
  id,
  symbol: "BTC",
  note,
  at: new Date(Date.UTC(2024, 0, 1, 0, 0, id)),
  tags: ["a", "b"]
})

describe("Csv", () => {
  it("quotes exactly the fields that need it (RFC 4180)", () => {
    const cases: ReadonlyArray<[Csv.Value, string]> = [
      ["plain", "plain"],
      ["a,b", "\"a,b\""],
      ["say \"hi\"", "\"say \"\"hi\"\"\""],
      ["\"", "\"\"\"\""],
      ["line\nbreak", "\"line\nbreak\""],
      ["cr\rlf", "\"cr\rlf\""],
      ["crlf\r\n", "\"crlf\r\n\""],
      [" leading", "\" leading\""],
      ["trailing ", "\"trailing \""],
      ["\ttab", "\"\ttab\""],
      ["in side", "in side"],
      ["", ""],
      ["日本語 ✓", "日本語 ✓"],
      ["=1+1", "=1+1"],
      ["semi;colon", "semi;colon"]
    ]
    for (const [value, expected] of cases) expect(Csv.formatField(value)).toBe(expected)
  })

  it("stringifies values deterministically", () => {
    const cases: ReadonlyArray<[Csv.Value, string]> = [
      [null, ""],
      [undefined, ""],
      [0, "0"],
      [-0, "0"],
      [1.5, "1.5"],
      [-2e-7, "-2e-7"],
      [1e21, "1e+21"],
      [Number.NaN, "NaN"],
      [Number.POSITIVE_INFINITY, "Infinity"],
      [BigInt("123456789012345678901234567890"), "123456789012345678901234567890"],
      [true, "true"],
      [false, "false"],
      [new Date(Date.UTC(2024, 1, 29, 12, 30, 0, 5)), "2024-02-29T12:30:00.005Z"],
      [new Date(Number.NaN), "Invalid Date"]
    ]
    for (const [value, expected] of cases) expect(Csv.formatField(value)).toBe(expected)
  })

  it("formats a document: header from the columns, CRLF after every record", () => {
    const text = Csv.format([trade(1, "first, \"quoted\""), trade(2)], columns)
    expect(text).toBe(
      "id,symbol,note,at,tags\r\n" +
        "1,BTC,\"first, \"\"quoted\"\"\",2024-01-01T00:00:01.000Z,a;b\r\n" +
        "2,BTC,,2024-01-01T00:00:02.000Z,a;b\r\n"
    )
    expect(parse(text)).toEqual([
      ["id", "symbol", "note", "at", "tags"],
      ["1", "BTC", "first, \"quoted\"", "2024-01-01T00:00:01.000Z", "a;b"],
      ["2", "BTC", "", "2024-01-01T00:00:02.000Z", "a;b"]
    ])
    expect(Csv.format([trade(3)], ["id", "symbol"], { newline: "\n", header: false })).toBe("3,BTC\n")
    expect(Csv.format<{ readonly id: number }>([], ["id"], { bom: true })).toBe("\uFEFFid\r\n")
    // A lone empty field is quoted, or the record would be a blank line.
    expect(Csv.format([{ v: "" }, { v: null }], ["v"], { header: false })).toBe("\"\"\r\n\"\"\r\n")
  })

  it("any values read back exactly with an RFC 4180 reader (property)", () => {
    const text = FastCheck.array(
      FastCheck.constantFrom("a", " ", ",", "\"", "\r", "\n", "\r\n", "\t", "é", "😀", ";", "'"),
      { maxLength: 12 }
    ).map((parts) => parts.join(""))
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(FastCheck.array(text, { minLength: 3, maxLength: 3 }), { maxLength: 8 }),
        (rows) => {
          const cols: Csv.Columns<ReadonlyArray<string>> = [0, 1, 2].map((i) => ({
            header: `c${i}`,
            value: (row: ReadonlyArray<string>) => row[i]
          }))
          expect(parse(Csv.format(rows, cols))).toEqual([["c0", "c1", "c2"], ...rows])
        }
      ),
      { numRuns: 500 }
    )
  })

  it.effect("encode turns a stream of rows into the same text, whatever the chunking", () =>
    Effect.gen(function*() {
      const rows = Array.from({ length: 25 }, (_, i) => trade(i, i % 4 === 0 ? "a\nb" : null))
      const expected = Csv.format(rows, columns)
      for (const size of [1, 7, 100]) {
        const parts = yield* Stream.fromIterable(rows).pipe(Stream.rechunk(size), Csv.encode(columns), Stream.runCollect)
        expect(Chunk.join(parts, "")).toBe(expected)
      }
      const empty = yield* Stream.empty.pipe(Csv.encode(columns), Stream.runCollect)
      expect(Chunk.toReadonlyArray(empty)).toEqual(["id,symbol,note,at,tags\r\n"])
    }))

  it.scoped("sink writes the file atomically; a failing stream leaves the previous export", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "fiberkit-csv-" })
      const file = path.join(dir, "trades.csv")
      const rows = Array.from({ length: 10 }, (_, i) => trade(i))
      yield* Stream.fromIterable(rows).pipe(Stream.rechunk(3), Stream.run(Csv.sink(file, columns)))
      expect(yield* Files.readText(file)).toBe(Csv.format(rows, columns))
      const exit = yield* Stream.fromIterable(rows).pipe(
        Stream.concat(Stream.fail("source failed")),
        Stream.run(Csv.sink(file, ["id"])),
        Effect.exit
      )
      expect(exit).toEqual(Exit.fail("source failed"))
      expect(yield* Files.readText(file)).toBe(Csv.format(rows, columns))
      yield* Stream.run(Stream.empty, Csv.sink<Trade>(file, ["id"], { newline: "\n" }))
      expect(yield* Files.readText(file)).toBe("id\n")
      expect((yield* fs.readDirectory(dir)).sort()).toEqual(["trades.csv"])
    }).pipe(Effect.provide(NodeContext.layer)))
})
