/**
 * The implementation of `BlobStore`: a content-addressed store of gzip files
 * under `root/ab/cd/<sha256>.gz`.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Zlib from "node:zlib"
import type * as BlobStore from "../BlobStore.js"
import * as FilesError from "../FilesError.js"
import { open, type ResolvedWriteOptions } from "./files.js"
import { fromPlatform } from "./filesError.js"

const KEY = /^[0-9a-f]{64}$/

/** @internal */
export const Key = Schema.String.pipe(Schema.pattern(KEY), Schema.brand("@fiberkit/core/BlobStore/Key"))

/**
 * Why `key` is not a valid key, or `undefined` when it is. The reasons name
 * what is wrong, most telling first.
 *
 * @internal
 */
export const keyProblem = (key: unknown): string | undefined => {
  if (typeof key !== "string") return `expected a string, got ${typeof key}`
  if (KEY.test(key)) return undefined
  if (key.includes("\0")) return "it contains a NUL byte"
  if (/[/\\]/.test(key)) return "it contains a path separator"
  if (key.includes("..")) return "it contains '..'"
  if (key.length !== 64) return `it has ${key.length} characters, not 64`
  if (KEY.test(key.toLowerCase())) return "it has upper-case hex digits"
  return "it has characters other than 0-9 and a-f"
}

/** @internal */
export const hash = (content: Uint8Array): string => Crypto.createHash("sha256").update(content).digest("hex")

/**
 * The file of a valid key, checked to lie inside `root` (`root` is
 * absolute and normalised). The key check alone already guarantees it; this
 * is the second line of defence should the layout ever change.
 *
 * @internal
 */
export const resolveUnder = (path: Path.Path, root: string, relative: string): string | undefined => {
  const file = path.resolve(root, relative)
  return file.startsWith(root.endsWith(path.sep) ? root : root + path.sep) ? file : undefined
}

const gzip = (content: Uint8Array, level: number): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    Zlib.gzip(content, { level }, (error, out) => {
      // Compressing bytes in memory fails only when memory runs out.
      resume(error === null ? Effect.succeed(out) : Effect.die(error))
    })
  })

const gunzip = (content: Uint8Array): Effect.Effect<Buffer, Error> =>
  Effect.async<Buffer, Error>((resume) => {
    Zlib.gunzip(content, (error, out) => {
      resume(error === null ? Effect.succeed(out) : Effect.fail(error))
    })
  })

class Store implements BlobStore.Service {
  private readonly writeOptions: ResolvedWriteOptions

  constructor(
    readonly fs: FileSystem.FileSystem,
    readonly paths: Path.Path,
    readonly root: string,
    sync: boolean,
    readonly level: number
  ) {
    this.writeOptions = { atomic: true, sync, mode: undefined, makeDirectories: true }
  }

  /** The file of `key`, or an `InvalidKey` error, without touching the file system. */
  locate(operation: string, key: string): Either.Either<string, FilesError.InvalidKey> {
    const problem = keyProblem(key)
    const file = problem === undefined
      ? resolveUnder(this.paths, this.root, this.paths.join(key.slice(0, 2), key.slice(2, 4), `${key}.gz`))
      : undefined
    return file !== undefined ? Either.right(file) : Either.left(
      new FilesError.InvalidKey({
        operation,
        path: this.root,
        key: typeof key === "string" ? key.slice(0, 100) : String(key),
        reason: problem ?? "it resolves outside the store"
      })
    )
  }

  put(content: Uint8Array | string): Effect.Effect<BlobStore.Key, FilesError.SystemFailure> {
    const operation = "BlobStore.put"
    return Effect.suspend(() => {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content
      const key = Key.make(hash(bytes))
      const file = this.locate(operation, key)
      if (Either.isLeft(file)) return Effect.die(file.left)
      const target = file.right
      return Effect.mapError(this.fs.exists(target), fromPlatform(operation, target)).pipe(
        Effect.flatMap((exists) =>
          // Same key, same content: an existing file is never rewritten.
          exists ? Effect.void : Effect.flatMap(gzip(bytes, this.level), (gz) =>
            Effect.scoped(
              Effect.flatMap(
                open(this.fs, this.paths, operation, target, this.writeOptions),
                (pending) => Effect.zipRight(pending.write(gz), pending.commit)
              )
            ))
        ),
        Effect.as(key)
      )
    })
  }

  get(key: string): Effect.Effect<Uint8Array, FilesError.InvalidKey | FilesError.Corrupt | FilesError.SystemFailure> {
    const operation = "BlobStore.get"
    return Effect.flatMap(Effect.suspend(() => this.locate(operation, key)), (target) =>
      Effect.mapError(this.fs.readFile(target), fromPlatform(operation, target)).pipe(
        Effect.flatMap((gz) =>
          Effect.mapError(gunzip(gz), (error) =>
            new FilesError.Corrupt({ operation, path: target, detail: `it does not decompress: ${error.message}` }))
        ),
        Effect.flatMap((content) => {
          const actual = hash(content)
          return actual === key
            ? Effect.succeed<Uint8Array>(content)
            : Effect.fail(
              new FilesError.Corrupt({ operation, path: target, detail: `its content hashes to ${actual}, not to its key` })
            )
        })
      ))
  }

  has(key: string): Effect.Effect<boolean, FilesError.InvalidKey | FilesError.SystemFailure> {
    const operation = "BlobStore.has"
    return Effect.flatMap(
      Effect.suspend(() => this.locate(operation, key)),
      (target) => Effect.mapError(this.fs.exists(target), fromPlatform(operation, target))
    )
  }

  path(key: string): Effect.Effect<string, FilesError.InvalidKey> {
    return Effect.suspend(() => this.locate("BlobStore.path", key))
  }

  remove(key: string): Effect.Effect<void, FilesError.InvalidKey | FilesError.SystemFailure> {
    const operation = "BlobStore.remove"
    return Effect.flatMap(
      Effect.suspend(() => this.locate(operation, key)),
      (target) => Effect.mapError(this.fs.remove(target, { force: true }), fromPlatform(operation, target))
    )
  }
}

/** @internal */
export const make = (
  options: BlobStore.Options
): Effect.Effect<BlobStore.Service, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const level = options.compressionLevel ?? Zlib.constants.Z_DEFAULT_COMPRESSION
    if (!Number.isInteger(level) || level < -1 || level > 9) {
      return yield* Effect.dieMessage(`BlobStore.make: compressionLevel must be an integer from -1 to 9, got ${level}`)
    }
    const root = path.resolve(options.root)
    yield* Effect.mapError(fs.makeDirectory(root, { recursive: true }), fromPlatform("BlobStore.make", root))
    return new Store(fs, path, root, options.sync ?? true, level)
  })
