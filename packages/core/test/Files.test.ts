import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Files from "../src/Files.js"
import * as FilesError from "../src/FilesError.js"
import { fromPlatform } from "../src/internal/filesError.js"
import { LineSplitter } from "../src/internal/filesLines.js"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "fiberkit-files-" }))

/** Names in `dir` that look like atomic-write temp files. */
const tempFiles = (dir: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(dir)).pipe(
    Effect.map((names) => names.filter((n) => n.endsWith(".tmp")))
  )

describe("Files", () => {
  describe("text, bytes and JSON", () => {
    it.scoped("writes and reads text and bytes; an atomic write leaves no temp file behind", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "notes.txt")
        yield* Files.writeText(file, "first ünïcode ✓\n")
        expect(yield* Files.readText(file)).toBe("first ünïcode ✓\n")
        yield* Files.writeText(file, "second")
        expect(yield* Files.readText(file)).toBe("second")
        yield* Files.writeBytes(file, new Uint8Array([0, 1, 2, 255]))
        expect(Array.from(yield* Files.readBytes(file))).toEqual([0, 1, 2, 255])
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("in place (atomic: false), with mode, and creating parent directories", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const file = path.join(dir, "a", "b", "c.txt")
        const missingParent = yield* Effect.flip(Files.writeText(file, "x"))
        expect(missingParent._tag).toBe("FileNotFound")
        expect(missingParent.path).toBe(file)
        yield* Files.writeText(file, "nested", { makeDirectories: true, mode: 0o600 })
        expect((yield* fs.stat(file)).mode & 0o777).toBe(0o600)
        yield* Files.writeText(file, "in place", { atomic: false, sync: false })
        expect(yield* Files.readText(file)).toBe("in place")
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a target name at the 255-byte limit still gets a temp name the file system accepts", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        for (const name of ["日".repeat(85), "a".repeat(255)]) {
          const file = path.join(dir, name)
          yield* Files.writeText(file, name, { sync: false })
          expect(yield* Files.readText(file)).toBe(name)
        }
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a byte order mark is dropped when reading text", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "bom.json")
        yield* Files.writeBytes(file, Buffer.from("\uFEFF{\"a\":1}", "utf8"))
        expect(yield* Files.readText(file)).toBe("{\"a\":1}")
        expect(yield* Files.readJson(file, Schema.Struct({ a: Schema.Number }))).toEqual({ a: 1 })
      }).pipe(Effect.provide(NodeContext.layer)))

    const Checkpoint = Schema.Struct({
      page: Schema.Int,
      at: Schema.DateFromString,
      tags: Schema.Array(Schema.String)
    })

    it.scoped("JSON round-trips through a Schema (encoded form on disk)", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "checkpoint.json")
        const value = { page: 12, at: new Date("2024-05-06T07:08:09.000Z"), tags: ["a", "b"] }
        yield* Files.writeJson(file, Checkpoint, value)
        expect(yield* Files.readText(file)).toBe(
          `{\n  "page": 12,\n  "at": "2024-05-06T07:08:09.000Z",\n  "tags": [\n    "a",\n    "b"\n  ]\n}\n`
        )
        expect(yield* Files.readJson(file, Checkpoint)).toEqual(value)
        yield* Files.writeJson(file, Checkpoint, value, { space: 0 })
        expect(yield* Files.readText(file)).toBe(`{"page":12,"at":"2024-05-06T07:08:09.000Z","tags":["a","b"]}\n`)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("decode failures say whether the JSON or the schema failed, and where", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "bad.json")
        yield* Files.writeText(file, "{\"page\": 1,")
        const json = yield* Effect.flip(Files.readJson(file, Checkpoint))
        expect(json).toMatchObject({ _tag: "DecodeFailed", reason: "Json", operation: "Files.readJson", path: file })
        yield* Files.writeText(file, JSON.stringify({ page: 1, at: "2024-01-01T00:00:00Z", tags: ["ok", 7] }))
        const schema = yield* Effect.flip(Files.readJson(file, Checkpoint))
        expect(schema).toMatchObject({ _tag: "DecodeFailed", reason: "Schema", at: ["tags", 1] })
        expect(schema.message).toContain(`at ["tags"]["1"]`)
        expect(schema.message).toContain(file)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a value the schema refuses is EncodeFailed and the file is not touched", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "checkpoint.json")
        yield* Files.writeText(file, "old")
        const error = yield* Effect.flip(
          Files.writeJson(file, Checkpoint, { page: 1.5, at: new Date(0), tags: [] })
        )
        expect(error).toMatchObject({ _tag: "EncodeFailed", at: ["page"], path: file })
        const notJson = yield* Effect.flip(Files.writeJson(file, Schema.BigIntFromSelf, BigInt(1)))
        expect(notJson._tag).toBe("EncodeFailed")
        expect(yield* Files.readText(file)).toBe("old")
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  describe("errors", () => {
    it.scoped("system errors are typed with the operation and path", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const missing = path.join(dir, "missing.txt")
        const notFound = yield* Effect.flip(Files.readText(missing))
        expect(notFound).toBeInstanceOf(FilesError.FileNotFound)
        expect(notFound).toMatchObject({ operation: "Files.readText", path: missing })
        expect(notFound.message).toContain("no such file or directory")

        const file = path.join(dir, "file.txt")
        yield* Files.writeText(file, "x")
        const underFile = path.join(file, "child.txt")
        expect((yield* Effect.flip(Files.readText(underFile)))._tag).toBe("NotADirectory")
        expect((yield* Effect.flip(Files.writeText(underFile, "y")))._tag).toBe("NotADirectory")
        expect((yield* Effect.flip(Files.readText(dir)))._tag).toBe("IsADirectory")

        const nul = yield* Effect.flip(Files.readText(path.join(dir, "a\0b")))
        expect(nul).toMatchObject({ _tag: "IoError", reason: "BadArgument" })
        expect(FilesError.isFilesError(nul)).toBe(true)
      }).pipe(Effect.provide(NodeContext.layer)))

    it("platform reasons and error codes map to the error family", () => {
      const system = (reason: PlatformError.SystemErrorReason, code: string) =>
        new PlatformError.SystemError({
          reason,
          module: "FileSystem",
          method: "open",
          cause: Object.assign(new Error(code), { code })
        })
      const map = fromPlatform("Files.test", "/x")
      expect(map(system("NotFound", "ENOENT"))._tag).toBe("FileNotFound")
      expect(map(system("PermissionDenied", "EACCES"))._tag).toBe("PermissionDenied")
      expect(map(system("Unknown", "EPERM"))._tag).toBe("PermissionDenied")
      expect(map(system("AlreadyExists", "EEXIST"))._tag).toBe("AlreadyExists")
      expect(map(system("BadResource", "ENOTDIR"))._tag).toBe("NotADirectory")
      expect(map(system("BadResource", "EISDIR"))._tag).toBe("IsADirectory")
      const full = map(system("Unknown", "ENOSPC"))
      expect(full).toMatchObject({ _tag: "IoError", reason: "Unknown", code: "ENOSPC", operation: "Files.test", path: "/x" })
      expect(full.message).toContain("disk is full")
    })
  })

  describe("atomic writes", () => {
    it.scoped("a failing stream leaves the old content and no temp file", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "export.csv")
        yield* Files.writeText(file, "old")
        const exit = yield* Stream.make("new ", "content").pipe(
          Stream.concat(Stream.fail("upstream broke")),
          Stream.run(Files.sink(file)),
          Effect.exit
        )
        expect(exit).toEqual(Exit.fail("upstream broke"))
        expect(yield* Files.readText(file)).toBe("old")
        expect(yield* tempFiles(dir)).toEqual([])

        yield* Stream.make("new ", new Uint8Array([99]), "ontent").pipe(Stream.run(Files.sink(file)))
        expect(yield* Files.readText(file)).toBe("new content")
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("an interrupted write leaves the old content and no temp file", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, "state.json")
        yield* Files.writeText(file, "old")
        const started = yield* Deferred.make<void>()
        const writer = yield* Stream.make("partial").pipe(
          Stream.concat(Stream.fromEffect(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))),
          Stream.run(Files.sink(file)),
          Effect.fork
        )
        yield* Deferred.await(started)
        // The temp file exists while the write is in progress.
        expect((yield* tempFiles(dir)).length).toBe(1)
        yield* Fiber.interrupt(writer)
        expect(yield* Files.readText(file)).toBe("old")
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)))

    const fixture = fileURLToPath(new URL("./fixtures/atomicWriter.ts", import.meta.url))
    const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))

    /** Starts the writer, waits for its first complete write, kills it with SIGKILL after `delayMs`. */
    const killMidWrite = (target: string, size: number, delayMs: number) =>
      Effect.async<void, Error>((resume) => {
        const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture, target, String(size), "atomic"], {
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stderr = ""
        child.stderr.on("data", (data: Buffer) => {
          stderr += data.toString()
        })
        child.stdout.once("data", () => {
          setTimeout(() => child.kill("SIGKILL"), delayMs)
        })
        child.once("exit", (code, signal) => {
          resume(
            signal === "SIGKILL"
              ? Effect.void
              : Effect.fail(new Error(`writer exited with ${code ?? signal} before the kill: ${stderr}`))
          )
        })
        return Effect.sync(() => child.kill("SIGKILL"))
      })

    it.scopedLive("survives SIGKILL mid-write: the file is always exactly the old or the new version", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const size = 4 * 1024 * 1024
        const versions = ["A", "B"].map((c) => Buffer.alloc(size, c))
        // Five writers at once (process start-up dominates), each on its own file, each killed at its
        // own moment after its first complete write: spread over a write cycle, which for 4 MiB with
        // two fsyncs takes several to tens of milliseconds.
        yield* Effect.forEach([3, 17, 41, 89, 157], (delayMs) =>
          Effect.gen(function*() {
            const target = path.join(dir, `target-${delayMs}.bin`)
            yield* killMidWrite(target, size, delayMs)
            const content = Buffer.from(yield* Files.readBytes(target))
            const matches = versions.filter((v) => v.equals(content)).length
            if (matches !== 1) {
              const sample = content.subarray(0, 16).toString() + "…" + content.subarray(-16).toString()
              expect.fail(`after a kill at ${delayMs} ms the file is neither version: ${content.length} bytes, ${sample}`)
            }
          }), { concurrency: "unbounded", discard: true })
        // Temp files of killed writes stay behind until removed.
        const strays = (yield* tempFiles(dir)).length
        const removed = yield* Files.removeStaleTemps(dir, { olderThan: 0 })
        expect(removed.length).toBe(strays)
        expect(yield* tempFiles(dir)).toEqual([])
      }).pipe(Effect.provide(NodeContext.layer)), 60_000)

    it.scoped("removeStaleTemps removes only temp files older than the cutoff", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const t0 = Date.UTC(2024, 0, 1)
        const stale = path.join(dir, ".data.json.0123456789ab.tmp")
        const other = path.join(dir, ".data.json.tmp")
        for (const file of [stale, other]) {
          yield* fs.writeFileString(file, "x")
          yield* fs.utimes(file, new Date(t0), new Date(t0))
        }
        yield* TestClock.setTime(t0 + 30 * 60_000)
        expect(yield* Files.removeStaleTemps(dir)).toEqual([])
        yield* TestClock.adjust("31 minutes")
        expect(yield* Files.removeStaleTemps(dir)).toEqual([stale])
        expect((yield* fs.readDirectory(dir)).sort()).toEqual([".data.json.tmp"])
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  describe("lines", () => {
    const write = (name: string, content: string | Uint8Array) =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const file = path.join(dir, name)
        yield* Files.writeBytes(file, typeof content === "string" ? Buffer.from(content, "utf8") : content, { sync: false })
        return file
      })

    it.scoped("splits on LF and CRLF, keeps empty lines, emits a last line without newline", () =>
      Effect.gen(function*() {
        const file = yield* write("a.txt", "\uFEFFone\r\ntwo\n\nthree\r\n\r\nfour")
        for (const chunkSize of [1, 2, 3, 5, 64 * 1024]) {
          const lines = yield* Stream.runCollect(Files.lines(file, { chunkSize }))
          expect(Chunk.toReadonlyArray(lines)).toEqual(["one", "two", "", "three", "", "four"])
        }
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Files.lines(yield* write("b.txt", ""))))).toEqual([])
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Files.lines(yield* write("c.txt", "\n"))))).toEqual([""])
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Files.lines(yield* write("d.txt", "x\n"))))).toEqual(["x"])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("multi-byte characters split across reads are decoded whole", () =>
      Effect.gen(function*() {
        const text = "日本語 ✓ café\n😀😀😀\nZürich"
        const file = yield* write("utf8.txt", text)
        for (const chunkSize of [1, 2, 3, 4, 7]) {
          const lines = yield* Stream.runCollect(Files.lines(file, { chunkSize }))
          expect(Chunk.toReadonlyArray(lines)).toEqual(["日本語 ✓ café", "😀😀😀", "Zürich"])
        }
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a line over maxLineBytes fails with LineTooLong after the lines before it", () =>
      Effect.gen(function*() {
        const file = yield* write("long.txt", `short\n${"x".repeat(100)}\nafter\n`)
        const seen: Array<string> = []
        const error = yield* Files.lines(file, { chunkSize: 16, maxLineBytes: 50 }).pipe(
          Stream.runForEach((line) => Effect.sync(() => seen.push(line))),
          Effect.flip
        )
        expect(seen).toEqual(["short"])
        expect(error).toMatchObject({ _tag: "LineTooLong", line: 2, limit: 50, path: file })
        // Exactly at the limit is fine, with or without CR.
        const edge = yield* write("edge.txt", `${"y".repeat(50)}\r\n${"z".repeat(50)}\n`)
        const lines = yield* Stream.runCollect(Files.lines(edge, { chunkSize: 7, maxLineBytes: 50 }))
        expect(Chunk.toReadonlyArray(lines).map((l) => l.length)).toEqual([50, 50])
        const missing = yield* Effect.flip(Stream.runDrain(Files.lines(`${file}.missing`)))
        expect(missing._tag).toBe("FileNotFound")
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("short lines come in chunks of at most 4096, so per-element folds do not overflow the stack", () =>
      Effect.gen(function*() {
        const file = yield* write("short.txt", "7\n".repeat(200_000))
        const sizes: Array<number> = []
        const total = yield* Files.lines(file).pipe(
          Stream.mapChunks((chunk) => {
            sizes.push(chunk.length)
            return chunk
          }),
          Stream.runFold(0, (sum, line) => sum + Number(line))
        )
        expect(total).toBe(1_400_000)
        expect(Math.max(...sizes)).toBe(4096)
      }).pipe(Effect.provide(NodeContext.layer)))

    it("the splitter agrees with String.split for any text and any read size (property)", () => {
      const alphabet = FastCheck.constantFrom("a", "é", "😀", "\n", "\r\n", "\r", " ", "日")
      FastCheck.assert(
        FastCheck.property(
          FastCheck.array(alphabet, { maxLength: 200 }).map((parts) => parts.join("")),
          FastCheck.integer({ min: 1, max: 16 }),
          (text, size) => {
            const bytes = Buffer.from(text, "utf8")
            const splitter = new LineSplitter(1 << 20)
            const out: Array<string> = []
            for (let i = 0; i < bytes.length; i += size) {
              // A reused buffer, like the reader's: the splitter must copy what it keeps.
              const chunk = Buffer.from(bytes.subarray(i, i + size))
              expect(splitter.push(chunk, out)).toBe(true)
              chunk.fill(0)
            }
            const last = splitter.end()
            if (last !== undefined) out.push(last)
            // Lines end at LF (a CR before it is dropped); a last line without LF counts too,
            // and a CR at its end is dropped as well (a CRLF torn in half).
            const stripCr = (l: string) => l.endsWith("\r") ? l.slice(0, -1) : l
            const parts = text.split("\n")
            const rest = parts.pop() ?? ""
            const expected = parts.map(stripCr)
            if (rest !== "") expected.push(stripCr(rest))
            expect(out).toEqual(expected)
          }
        ),
        { numRuns: 500 }
      )
    })
  })

  describe("many files", () => {
    it.scoped("forEachFile bounds concurrency and returns one outcome per file, in order", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        const files: Array<string> = []
        for (let i = 0; i < 12; i++) {
          const file = path.join(dir, `f${String(i).padStart(2, "0")}.log`)
          yield* Files.writeText(file, `${"line\n".repeat(i)}`, { sync: false })
          files.push(file)
        }
        files.push(path.join(dir, "missing.log"))
        let inside = 0
        let most = 0
        const results = yield* Files.forEachFile(
          files,
          (file) =>
            Effect.acquireUseRelease(
              Effect.sync(() => {
                inside++
                most = Math.max(most, inside)
              }),
              () => Effect.zipLeft(Stream.runCount(Files.lines(file)), Effect.yieldNow()),
              () => Effect.sync(() => inside--)
            ),
          { concurrency: 3 }
        )
        expect(most).toBe(3)
        expect(results.map((r) => r.path)).toEqual(files)
        expect(results.slice(0, 12).map((r) => Either.getOrThrow(r.result))).toEqual(Array.from({ length: 12 }, (_, i) => i))
        const last = results[12]?.result
        expect(last !== undefined && Either.isLeft(last) && last.left._tag === "FileNotFound").toBe(true)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a directory selection lists regular files, sorted, filtered, optionally recursive", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const path = yield* Path.Path
        for (const name of ["b.log", "a.log", "c.txt", "sub/d.log", "sub/deeper/e.log"]) {
          yield* Files.writeText(path.join(dir, name), name, { makeDirectories: true, sync: false })
        }
        const flat = yield* Files.forEachFile(
          { directory: dir, filter: (p) => p.endsWith(".log") },
          (file) => Files.readText(file),
          { concurrency: 2 }
        )
        expect(flat.map((r) => Either.getOrThrow(r.result))).toEqual(["a.log", "b.log"])
        const deep = yield* Files.listFiles(dir, { recursive: true, filter: (p) => p.endsWith(".log") })
        expect(deep.map((p) => path.relative(dir, p))).toEqual(["a.log", "b.log", "sub/d.log", "sub/deeper/e.log"])
        const missing = yield* Effect.flip(Files.forEachFile({ directory: path.join(dir, "nope") }, Effect.succeed, { concurrency: 1 }))
        expect(missing._tag).toBe("FileNotFound")
      }).pipe(Effect.provide(NodeContext.layer)))
  })
})
