import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Files from "../src/Files.js"
import * as Jsonl from "../src/Jsonl.js"

const Page = Schema.Struct({ url: Schema.String, status: Schema.Int, at: Schema.DateFromString })
type Page = typeof Page.Type

const page = (i: number): Page => ({ url: `https://site.test/${i}`, status: 200 + (i % 3), at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)) })
const line = (i: number) => JSON.stringify(Schema.encodeSync(Page)(page(i)))

/** Counts the `writeAll` calls on files opened through the FileSystem, and can make the next one fail. */
const makeSpy = () => {
  const state = { writes: 0, failNext: false }
  const layer = Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
      ...fs,
      open: (path, options) =>
        Effect.map(fs.open(path, options), (file): FileSystem.File => ({
          ...file,
          [FileSystem.FileTypeId]: FileSystem.FileTypeId,
          fd: file.fd,
          stat: file.stat,
          sync: file.sync,
          seek: (offset, from) => file.seek(offset, from),
          read: (buffer) => file.read(buffer),
          readAlloc: (size) => file.readAlloc(size),
          truncate: (length) => file.truncate(length),
          write: (buffer) => file.write(buffer),
          writeAll: (buffer) =>
            Effect.suspend(() => {
              state.writes++
              if (!state.failNext) return file.writeAll(buffer)
              state.failNext = false
              // A partial batch, then a full disk.
              return Effect.zipRight(
                file.writeAll(buffer.subarray(0, Math.floor(buffer.length / 2) + 5)),
                Effect.fail(
                  new PlatformError.SystemError({
                    reason: "Unknown",
                    module: "FileSystem",
                    method: "writeAll",
                    cause: Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })
                  })
                )
              )
            })
        }))
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))
  return { state, layer: Layer.merge(layer, NodePath.layer) }
}

const tempFile = (name: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    return path.join(yield* fs.makeTempDirectoryScoped({ prefix: "fiberkit-jsonl-" }), name)
  })

const lineCount = (file: string) => Effect.map(Files.readText(file), (text) => text.split("\n").length - 1)

/** Waits (on real IO, whatever the clock) until `file` has `n` lines. */
const awaitLines = (file: string, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      if ((yield* lineCount(file)) === n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`${file} never had ${n} lines`)
  })

describe("Jsonl", () => {
  describe("sink and writer", () => {
    it.scoped("appends in batches: one write per maxRecords, and the rest at the end", () => {
      const spy = makeSpy()
      return Effect.gen(function*() {
        const file = yield* tempFile("pages.jsonl")
        yield* Stream.range(0, 2499).pipe(
          Stream.map(page),
          Stream.rechunk(64),
          Stream.run(Jsonl.sink(file, Page, { maxRecords: 1000 }))
        )
        expect(spy.state.writes).toBe(3)
        const { records, skipped } = yield* Jsonl.readAll(file, Page)
        expect(records).toEqual(Array.from({ length: 2500 }, (_, i) => page(i)))
        expect(skipped).toEqual([])
        // A second run appends.
        yield* Stream.run(Stream.make(page(2500)), Jsonl.sink(file, Page))
        expect((yield* Jsonl.readAll(file, Page)).records.length).toBe(2501)
      }).pipe(Effect.provide(spy.layer))
    })

    it.scoped("appends when maxBytes is buffered", () => {
      const spy = makeSpy()
      return Effect.gen(function*() {
        const file = yield* tempFile("pages.jsonl")
        // Records 10..99 all encode to lines of the same length.
        const bytesPerLine = Buffer.byteLength(line(10)) + 1
        yield* Stream.range(10, 99).pipe(
          Stream.map(page),
          Stream.rechunk(1),
          Stream.run(Jsonl.sink(file, Page, { maxBytes: bytesPerLine * 10 }))
        )
        expect(spy.state.writes).toBe(9)
        expect(yield* lineCount(file)).toBe(90)
      }).pipe(Effect.provide(spy.layer))
    })

    it.scoped("a writer appends what it buffered when its scope closes", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("events.jsonl")
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Jsonl.writer(file, Page)
          yield* log.write(page(1))
          yield* log.writeAll([page(2), page(3)])
          expect(yield* lineCount(file)).toBe(0)
        }))
        expect((yield* Jsonl.readAll(file, Page)).records).toEqual([page(1), page(2), page(3)])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("an interrupted stream still appends the records the sink received", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("events.jsonl")
        const received = yield* Deferred.make<void>()
        const fiber = yield* Stream.make(page(1), page(2)).pipe(
          Stream.concat(Stream.fromEffect(Effect.zipRight(Deferred.succeed(received, undefined), Effect.never))),
          Stream.run(Jsonl.sink(file, Page)),
          Effect.fork
        )
        yield* Deferred.await(received)
        yield* Fiber.interrupt(fiber)
        expect((yield* Jsonl.readAll(file, Page)).records).toEqual([page(1), page(2)])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("maxDelay appends slow records on time (TestClock)", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("slow.jsonl")
        const log = yield* Jsonl.writer(file, Page, { maxDelay: "1 second" })
        yield* log.write(page(1))
        yield* TestClock.adjust("999 millis")
        expect(yield* lineCount(file)).toBe(0)
        yield* TestClock.adjust("1 millis")
        yield* awaitLines(file, 1)
        yield* log.write(page(2))
        yield* TestClock.adjust("1 second")
        yield* awaitLines(file, 2)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a record the schema refuses fails the write and none of its batch is buffered", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("bad.jsonl")
        const error = yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Jsonl.writer(file, Page)
          yield* log.write(page(1))
          return yield* Effect.flip(log.writeAll([page(2), { ...page(3), status: 200.5 }]))
        }))
        expect(error).toMatchObject({ _tag: "EncodeFailed", operation: "Jsonl.write", path: file, at: ["status"] })
        expect((yield* Jsonl.readAll(file, Page)).records).toEqual([page(1)])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("after a failed append the writer refuses more, and the next writer repairs the file", () => {
      const spy = makeSpy()
      return Effect.gen(function*() {
        const file = yield* tempFile("full.jsonl")
        yield* Effect.scoped(Effect.gen(function*() {
          const log = yield* Jsonl.writer(file, Page)
          yield* log.writeAll([page(1), page(2)])
          yield* log.flush
          spy.state.failNext = true
          yield* log.writeAll([page(3), page(4)])
          const full = yield* Effect.flip(log.flush)
          expect(full).toMatchObject({ _tag: "IoError", code: "ENOSPC", path: file })
          expect(yield* Effect.flip(log.write(page(5)))).toBe(full)
        }))
        // Half a batch is on disk: record 3 and a torn start of record 4.
        const torn = yield* Jsonl.readAll(file, Page)
        expect(torn.records).toEqual([page(1), page(2), page(3)])
        expect(torn.skipped.map((s) => s.reason)).toEqual(["Torn"])
        yield* Stream.run(Stream.make(page(6)), Jsonl.sink(file, Page))
        const repaired = yield* Jsonl.readAll(file, Page)
        expect(repaired).toEqual({ records: [page(1), page(2), page(3), page(6)], skipped: [] })
      }).pipe(Effect.provide(spy.layer))
    })
  })

  describe("reader", () => {
    const writeRaw = (file: string, text: string) => Files.writeBytes(file, Buffer.from(text, "utf8"), { sync: false })

    it.scoped("a torn last line (no newline) is reported and skipped, not fatal", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("torn.jsonl")
        yield* writeRaw(file, `${line(1)}\n${line(2)}\n${line(3).slice(0, 17)}`)
        const seen: Array<Jsonl.Skipped> = []
        const records = yield* Jsonl.read(file, Page, { onSkipped: (s) => Effect.sync(() => seen.push(s)) }).pipe(
          Stream.runCollect
        )
        expect(Chunk.toReadonlyArray(records)).toEqual([page(1), page(2)])
        expect(seen).toHaveLength(1)
        expect(seen[0]).toMatchObject({ path: file, line: 3, reason: "Torn" })
        expect(seen[0]?.error).toMatchObject({ _tag: "DecodeFailed", reason: "Json", line: 3 })
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("by default the skipped torn line is logged as a warning", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("torn.jsonl")
        yield* writeRaw(file, `${line(1)}\n{"url":`)
        const logs: Array<string> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logs.push(`${logLevel.label} ${String(message)}`)
        })
        const records = yield* Jsonl.read(file, Page).pipe(
          Stream.runCollect,
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        expect(Chunk.size(records)).toBe(1)
        expect(logs).toHaveLength(1)
        expect(logs[0]).toMatch(/^WARN .*torn last line 2 of .*torn\.jsonl/)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a last line of garbage with a newline (zeros after a power loss) is torn too", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("zeros.jsonl")
        yield* writeRaw(file, `${line(1)}\n\0\0\0\0\0\0\n\n`)
        const result = yield* Jsonl.readAll(file, Page)
        expect(result.records).toEqual([page(1)])
        expect(result.skipped.map((s) => [s.line, s.reason])).toEqual([[2, "Torn"]])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a last line without newline that decodes is a record; blank lines are ignored", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("ok.jsonl")
        yield* writeRaw(file, `${line(1)}\r\n\n   \n${line(2)}`)
        expect(yield* Jsonl.readAll(file, Page)).toEqual({ records: [page(1), page(2)], skipped: [] })
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a bad line in the middle is a typed error with its line number, after the records before it", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("bad.jsonl")
        yield* writeRaw(file, `${line(1)}\n${line(2)}\n{oops\n${line(4)}\n`)
        const seen: Array<Page> = []
        const error = yield* Jsonl.read(file, Page, { chunkSize: 8 }).pipe(
          Stream.runForEach((p) => Effect.sync(() => seen.push(p))),
          Effect.flip
        )
        expect(seen).toEqual([page(1), page(2)])
        expect(error).toMatchObject({ _tag: "DecodeFailed", reason: "Json", line: 3, path: file })
        expect(error.message).toContain("line 3")

        // A line that is JSON but not a Page, even the last one, is bad data, not a torn write.
        yield* writeRaw(file, `${line(1)}\n{"url":"x","status":"200","at":"2024-01-01T00:00:00Z"}\n`)
        const schema = yield* Effect.flip(Jsonl.readAll(file, Page))
        expect(schema).toMatchObject({ _tag: "DecodeFailed", reason: "Schema", line: 2, at: ["status"] })
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("line numbers stay right across reads and chunks", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("many.jsonl")
        const lines = Array.from({ length: 10_000 }, (_, i) => i === 8_999 ? "{not json" : "1")
        yield* writeRaw(file, `${lines.join("\n")}\n`)
        const result = yield* Jsonl.readAll(file, Schema.Number, { invalidLines: "skip", chunkSize: 1000 })
        expect(result.records.length).toBe(9_999)
        expect(result.skipped.map((s) => [s.line, s.reason])).toEqual([[9_000, "Invalid"]])
        const error = yield* Effect.flip(Jsonl.readAll(file, Schema.Number))
        expect(error).toMatchObject({ _tag: "DecodeFailed", line: 9_000 })
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("invalidLines: skip reports bad lines and keeps going", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("bad.jsonl")
        yield* writeRaw(file, `${line(1)}\n{oops\n{"url":1}\n${line(4)}\n${line(5).slice(0, 9)}`)
        const result = yield* Jsonl.readAll(file, Page, { invalidLines: "skip" })
        expect(result.records).toEqual([page(1), page(4)])
        expect(result.skipped.map((s) => [s.line, s.reason, s.error.reason])).toEqual([
          [2, "Invalid", "Json"],
          [3, "Invalid", "Schema"],
          [5, "Torn", "Json"]
        ])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a missing file is FileNotFound", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("missing.jsonl")
        const error = yield* Effect.flip(Jsonl.readAll(file, Page))
        expect(error).toMatchObject({ _tag: "FileNotFound", operation: "Jsonl.read", path: file })
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  describe("writer repairs a torn tail before appending", () => {
    it.scoped("a torn fragment is cut off; the file then reads clean", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("torn.jsonl")
        yield* Files.writeText(file, `${line(1)}\n${line(2).slice(0, 30)}`, { sync: false })
        yield* Stream.run(Stream.make(page(3)), Jsonl.sink(file, Page))
        expect(yield* Files.readText(file)).toBe(`${line(1)}\n${line(3)}\n`)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a complete last record without newline is kept and completed", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("nonl.jsonl")
        yield* Files.writeText(file, `${line(1)}\n${line(2)}`, { sync: false })
        yield* Stream.run(Stream.make(page(3)), Jsonl.sink(file, Page))
        expect(yield* Files.readText(file)).toBe(`${line(1)}\n${line(2)}\n${line(3)}\n`)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a torn first and only line longer than a read block is cut off whole", () =>
      Effect.gen(function*() {
        const file = yield* tempFile("long.jsonl")
        yield* Files.writeText(file, `{"url":"${"x".repeat(200_000)}`, { sync: false })
        yield* Stream.run(Stream.make(page(1)), Jsonl.sink(file, Page))
        expect(yield* Files.readText(file)).toBe(`${line(1)}\n`)
        yield* Files.writeText(file, `${line(1)}\n{"url":"${"x".repeat(200)}`, { sync: false })
        const tooLong = yield* Effect.flip(Stream.run(Stream.make(page(2)), Jsonl.sink(file, Page, { maxLineBytes: 100 })))
        expect(tooLong).toMatchObject({ _tag: "LineTooLong", line: undefined, limit: 100 })
      }).pipe(Effect.provide(NodeContext.layer)))
  })
})
