import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Zlib from "node:zlib"
import * as BlobStore from "../src/BlobStore.js"
import * as FilesError from "../src/FilesError.js"
import { resolveUnder } from "../src/internal/filesBlobStore.js"

const sha256 = (content: string | Uint8Array) => Crypto.createHash("sha256").update(content).digest("hex")

const tempRoot = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "fiberkit-blobs-" }))

/** Records every FileSystem method called, by name. */
const makeSpy = () => {
  const calls: Array<string> = []
  const layer = Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) =>
      new Proxy(fs, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver)
          if (typeof value !== "function") return value
          return (...args: Array<unknown>) => {
            calls.push(String(property))
            return Reflect.apply(value, target, args)
          }
        }
      }))
  ).pipe(Layer.provide(NodeFileSystem.layer))
  return { calls, layer: Layer.merge(layer, NodePath.layer) }
}

describe("BlobStore", () => {
  it.scoped("put returns the SHA-256 key; the blob is gzip under root/ab/cd/<key>.gz and reads back", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const path = yield* Path.Path
      const fs = yield* FileSystem.FileSystem
      const store = yield* BlobStore.make({ root })
      const body = "<html><body>héllo</body></html>".repeat(100)
      const key = yield* store.put(body)
      expect(key).toBe(sha256(body))
      expect(BlobStore.hash(body)).toBe(key)
      const file = yield* store.path(key)
      expect(file).toBe(path.join(root, key.slice(0, 2), key.slice(2, 4), `${key}.gz`))
      const onDisk = yield* fs.readFile(file)
      expect(onDisk.length).toBeLessThan(Buffer.byteLength(body) / 10)
      expect(Zlib.gunzipSync(onDisk).toString("utf8")).toBe(body)
      expect(Buffer.from(yield* store.get(key)).toString("utf8")).toBe(body)
      const bytes = new Uint8Array([0, 255, 1, 254])
      expect(Array.from(yield* store.get(yield* store.put(bytes)))).toEqual([0, 255, 1, 254])
      expect(yield* store.has(key)).toBe(true)
      expect(yield* store.has(sha256("never stored"))).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("putting the same content again returns the same key and does not rewrite the file", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const fs = yield* FileSystem.FileSystem
      const store = yield* BlobStore.make({ root, sync: false })
      const key = yield* store.put("same")
      const file = yield* store.path(key)
      const before = yield* fs.stat(file)
      // Concurrent puts of one content race to the same file; all agree on the key.
      const keys = yield* Effect.all(Array.from({ length: 8 }, () => store.put("same")), { concurrency: "unbounded" })
      expect(new Set(keys)).toEqual(new Set([key]))
      const after = yield* fs.stat(file)
      expect(Option.getOrThrow(after.ino)).toBe(Option.getOrThrow(before.ino))
      expect(Option.getOrThrow(after.mtime).getTime()).toBe(Option.getOrThrow(before.mtime).getTime())
      const names = yield* fs.readDirectory(root, { recursive: true })
      expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a missing blob is FileNotFound; remove is idempotent", () =>
    Effect.gen(function*() {
      const store = yield* BlobStore.make({ root: yield* tempRoot })
      const key = yield* store.put("gone soon")
      yield* store.remove(key)
      yield* store.remove(key)
      const error = yield* Effect.flip(store.get(key))
      expect(error).toMatchObject({ _tag: "FileNotFound", operation: "BlobStore.get", path: yield* store.path(key) })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("get detects corruption: content that does not match its key, or does not decompress", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const store = yield* BlobStore.make({ root: yield* tempRoot })
      const key = yield* store.put("original")
      const file = yield* store.path(key)
      yield* fs.writeFile(file, Zlib.gzipSync("tampered"))
      const mismatch = yield* Effect.flip(store.get(key))
      expect(mismatch).toMatchObject({ _tag: "Corrupt", path: file })
      expect(mismatch.message).toContain(`hashes to ${sha256("tampered")}`)
      const gz = Zlib.gzipSync("original")
      yield* fs.writeFile(file, gz.subarray(0, gz.length - 6))
      const truncated = yield* Effect.flip(store.get(key))
      expect(truncated._tag).toBe("Corrupt")
      expect(truncated.message).toContain("does not decompress")
    }).pipe(Effect.provide(NodeContext.layer)))

  const attacks: ReadonlyArray<[string, string]> = [
    ["../../etc/passwd", "path separator"],
    ["/etc/passwd", "path separator"],
    ["..%2f..%2fetc%2fpasswd", "'..'"],
    ["..\\..\\windows\\win.ini", "path separator"],
    [`${"a".repeat(32)}/../${"b".repeat(29)}`, "path separator"],
    [`${"../".repeat(21)}a`, "path separator"],
    [`${"a".repeat(63)}\0`, "NUL byte"],
    [`${"a".repeat(64)}\0.gz`, "NUL byte"],
    [`${"a".repeat(64)}\n`, "65 characters"],
    ["A".repeat(64), "upper-case"],
    ["a".repeat(63), "63 characters"],
    ["a".repeat(65), "65 characters"],
    ["g".repeat(64), "other than 0-9"],
    [`${"a".repeat(62)}..`, "'..'"],
    ["０".repeat(64), "other than 0-9"],
    ["", "0 characters"]
  ]

  it.scoped("keys that try to leave the root are rejected before any file is touched", () => {
    const spy = makeSpy()
    return Effect.gen(function*() {
      const root = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped())
      const path = yield* Path.Path
      const store = yield* BlobStore.make({ root: path.join(root, "store") })
      const calls = spy.calls.length
      for (const [key, reason] of attacks) {
        const attempts: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          store.get(key),
          store.has(key),
          store.path(key),
          store.remove(key)
        ]
        for (const attempt of attempts) {
          const error = yield* Effect.flip(attempt)
          expect(error).toBeInstanceOf(FilesError.InvalidKey)
          if (error instanceof FilesError.InvalidKey) {
            expect(error.message).toContain(reason)
            expect(error.path).toBe(store.root)
          }
        }
        expect(BlobStore.isKey(key)).toBe(false)
        expect(Schema.is(BlobStore.Key)(key)).toBe(false)
      }
      expect(spy.calls.slice(calls)).toEqual([])
      // The spy does see the calls of a valid key.
      yield* store.has(sha256("x"))
      expect(spy.calls.slice(calls)).toEqual(["exists"])
    }).pipe(Effect.provide(spy.layer))
  })

  it("the resolved path is checked to stay under the root (second line of defence)", () => {
    Effect.runSync(Effect.gen(function*() {
      const path = yield* Path.Path
      expect(resolveUnder(path, "/data/store", "ab/cd/x.gz")).toBe("/data/store/ab/cd/x.gz")
      expect(resolveUnder(path, "/data/store", "../store2/x.gz")).toBeUndefined()
      expect(resolveUnder(path, "/data/store", "../../etc/passwd")).toBeUndefined()
      expect(resolveUnder(path, "/data/store", "/etc/passwd")).toBeUndefined()
      expect(resolveUnder(path, "/data/store", ".")).toBeUndefined()
    }).pipe(Effect.provide(NodePath.layer)))
  })

  it.scoped("as a layer, with accessors", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const program = Effect.gen(function*() {
        const key = yield* BlobStore.put("via layer")
        return [key, Buffer.from(yield* BlobStore.get(key)).toString(), yield* BlobStore.has(key)] as const
      })
      const [key, content, has] = yield* program.pipe(Effect.provide(BlobStore.layer({ root, compressionLevel: 1 })))
      expect([key, content, has]).toEqual([sha256("via layer"), "via layer", true])
    }).pipe(Effect.provide(NodeContext.layer)))
})
