/**
 * `BlobStore`: a content-addressed store of byte blobs on disk, for crawler
 * response bodies and anything else stored once and referred to by hash.
 *
 * - The key of a blob is the SHA-256 of its content, 64 lowercase hex
 *   characters. Storing the same content twice yields the same key and does
 *   not write again.
 * - Blobs are gzip-compressed on disk under fan-out directories:
 *   `root/ab/cd/abcd….gz`, so no directory grows past 65,536 entries
 *   per level.
 * - Writes are atomic ({@link Files.WriteOptions}): a blob file is complete
 *   or absent, never partial.
 * - `get` checks integrity: the decompressed content must hash to its key,
 *   otherwise the result is a `Corrupt` error, never wrong bytes.
 * - A key is checked to be exactly 64 lowercase hex characters before any
 *   file is touched, and the resulting path to lie inside the root: keys
 *   such as `../../etc/passwd` are an `InvalidKey` error.
 *
 * Symbolic links placed inside the root by someone else are followed; the
 * root is meant to be written by the store only.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { BlobStore } from "@fiberkit/core"
 *
 * const program = Effect.gen(function*() {
 *   const key = yield* BlobStore.put("<html>…</html>")
 *   const body = yield* BlobStore.get(key)
 * })
 *
 * program.pipe(
 *   Effect.provide(BlobStore.layer({ root: "data/bodies" }).pipe(Layer.provide(NodeContext.layer))),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as FilesError from "./FilesError.js"
import * as internal from "./internal/filesBlobStore.js"

/**
 * A blob key: the SHA-256 of the content, 64 lowercase hex characters. As a
 * schema, it validates keys read back from elsewhere (a JSONL file of crawl
 * results, a database column).
 *
 * @since 0.1.0
 * @category models
 */
export const Key: Schema.brand<Schema.filter<typeof Schema.String>, "@fiberkit/core/BlobStore/Key"> = internal.Key

/**
 * @since 0.1.0
 * @category models
 */
export type Key = typeof Key.Type

/**
 * Whether `u` is a valid key.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isKey = (u: unknown): u is Key => internal.keyProblem(u) === undefined

/**
 * The key content would be stored under, without storing it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hash = (content: Uint8Array | string): Key =>
  Key.make(internal.hash(typeof content === "string" ? Buffer.from(content, "utf8") : content))

/**
 * Settings of a store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The directory blobs live under; created if missing. */
  readonly root: string
  /** Fsync each blob and its directory (see `Files.WriteOptions.sync`). Default `true`. */
  readonly sync?: boolean | undefined
  /** gzip level, `0` (none) to `9` (smallest), `-1` for zlib's default (6). Default `-1`. */
  readonly compressionLevel?: number | undefined
}

/**
 * The store's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The absolute root directory. */
  readonly root: string
  /** Stores content (strings as UTF-8) and returns its key; content already stored is not written again. */
  readonly put: (content: Uint8Array | string) => Effect.Effect<Key, FilesError.SystemFailure>
  /** The content of a key: `FileNotFound` if absent, `Corrupt` if it fails its integrity check. */
  readonly get: (key: string) => Effect.Effect<Uint8Array, FilesError.InvalidKey | FilesError.Corrupt | FilesError.SystemFailure>
  /** Whether content with this key is stored. */
  readonly has: (key: string) => Effect.Effect<boolean, FilesError.InvalidKey | FilesError.SystemFailure>
  /** The file a key is stored in (gzip), whether or not it exists. */
  readonly path: (key: string) => Effect.Effect<string, FilesError.InvalidKey>
  /** Removes a blob; removing an absent blob succeeds. */
  readonly remove: (key: string) => Effect.Effect<void, FilesError.InvalidKey | FilesError.SystemFailure>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class BlobStore extends Context.Tag("@fiberkit/core/BlobStore")<BlobStore, Service>() {}

/**
 * Opens a store, creating its root directory if missing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =
  internal.make

/**
 * A layer with a store rooted at `options.root`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BlobStore, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(BlobStore, make(options))

/**
 * Stores content in the store in context; returns its key.
 *
 * @since 0.1.0
 * @category accessors
 */
export const put = (content: Uint8Array | string): Effect.Effect<Key, FilesError.SystemFailure, BlobStore> =>
  Effect.flatMap(BlobStore, (store) => store.put(content))

/**
 * The content of a key in the store in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (
  key: string
): Effect.Effect<Uint8Array, FilesError.InvalidKey | FilesError.Corrupt | FilesError.SystemFailure, BlobStore> =>
  Effect.flatMap(BlobStore, (store) => store.get(key))

/**
 * Whether the store in context has a key.
 *
 * @since 0.1.0
 * @category accessors
 */
export const has = (key: string): Effect.Effect<boolean, FilesError.InvalidKey | FilesError.SystemFailure, BlobStore> =>
  Effect.flatMap(BlobStore, (store) => store.has(key))
