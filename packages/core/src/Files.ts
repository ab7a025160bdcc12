/**
 * `Files`: reading and writing files on `@effect/platform` `FileSystem` with
 * typed errors ({@link FilesError}) that name the operation and the path.
 *
 * - text, bytes and JSON decoded / encoded with a `Schema`;
 * - writes are atomic by default: a temp file in the same directory, fsync,
 *   rename over the target, fsync of the directory — a crash leaves the old
 *   content or the new, never a mix or a truncated file;
 * - {@link lines} streams files larger than memory, one line at a time;
 * - {@link forEachFile} processes many files with bounded concurrency and a
 *   typed outcome per file.
 *
 * These are functions that require `FileSystem` (and `Path` where paths are
 * built), like `@effect/platform`'s own file helpers, rather than a service of
 * their own: they hold no state and no settings, and the seam for swapping
 * the implementation (in-memory, fault injection) already exists at
 * `FileSystem`. Provide `NodeContext.layer` (or `NodeFileSystem.layer` and
 * `NodePath.layer`) from `@effect/platform-node`.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Schema, Stream } from "effect"
 * import { Files } from "@fiberkit/core"
 *
 * const State = Schema.Struct({ cursor: Schema.String, seen: Schema.Number })
 *
 * const program = Effect.gen(function*() {
 *   const state = yield* Files.readJson("state.json", State)
 *   const errors = yield* Files.lines("access.log").pipe(
 *     Stream.filter((line) => line.includes(" 500 ")),
 *     Stream.runCount
 *   )
 *   yield* Files.writeJson("state.json", State, { ...state, seen: state.seen + errors })
 * })
 *
 * program.pipe(Effect.provide(NodeContext.layer), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Schema from "effect/Schema"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as FilesError from "./FilesError.js"
import * as internal from "./internal/files.js"

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/**
 * Reads a whole file as bytes.
 *
 * @since 0.1.0
 * @category reading
 */
export const readBytes = (path: string): Effect.Effect<Uint8Array, FilesError.SystemFailure, FileSystem.FileSystem> =>
  internal.readBytes("Files.readBytes", path)

/**
 * Reads a whole file as UTF-8 text (a leading byte order mark is dropped;
 * invalid sequences become U+FFFD).
 *
 * @since 0.1.0
 * @category reading
 */
export const readText = (path: string): Effect.Effect<string, FilesError.SystemFailure, FileSystem.FileSystem> =>
  internal.readText("Files.readText", path)

/**
 * Reads a JSON file and decodes it with `schema`. Invalid JSON and values the
 * schema refuses are a `DecodeFailed` error (`at` says where in the value).
 *
 * @example
 * ```ts
 * const Config = Schema.Struct({ seeds: Schema.Array(Schema.String), depth: Schema.Int })
 * const config = Files.readJson("crawl.json", Config)
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const readJson: <A, I, R>(
  path: string,
  schema: Schema.Schema<A, I, R>
) => Effect.Effect<A, FilesError.SystemFailure | FilesError.DecodeFailed, FileSystem.FileSystem | R> = internal.readJson

/**
 * Options of {@link lines}.
 *
 * @since 0.1.0
 * @category models
 */
export interface LinesOptions {
  /** Bytes read at a time. Default 256 KiB. */
  readonly chunkSize?: number | undefined
  /**
   * Longest line accepted, in bytes; a longer one fails the stream with
   * `LineTooLong` rather than growing memory without bound. Default 64 MiB.
   */
  readonly maxLineBytes?: number | undefined
}

/**
 * Streams the lines of a UTF-8 file of any size with bounded memory: the
 * file is read in chunks and only the line in progress is kept between
 * reads. Lines end at `\n` or `\r\n` (neither is included); a last line
 * without a newline is emitted; a leading byte order mark is dropped.
 *
 * @example
 * ```ts
 * const count = Files.lines("huge.log").pipe(Stream.runCount)
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const lines = (
  path: string,
  options?: LinesOptions
): Stream.Stream<string, FilesError.SystemFailure | FilesError.LineTooLong, FileSystem.FileSystem> =>
  internal.lines(path, options)

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/**
 * How a file is written.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions {
  /**
   * Write to a temp file `.<name>.<random>.tmp` in the same directory and
   * rename it over the target, so that readers and crashes only ever see
   * the old content or the new. Default `true`. With `false` the target is
   * truncated and written in place: cheaper, but a crash can leave it
   * partly written.
   *
   * The new file gets `mode` (not the old file's mode), and a symbolic link
   * at the target is replaced, not followed. A crash can leave a temp file
   * behind: see {@link removeStaleTemps}.
   */
  readonly atomic?: boolean | undefined
  /**
   * Fsync the file before it becomes visible, and (atomic writes, not on
   * Windows) the directory after the rename, so that the write survives a
   * power loss, not only a crash of the process. Default `true`. Costs a few
   * milliseconds per write on a real disk.
   */
  readonly sync?: boolean | undefined
  /** Permissions of a new file. Default `0o666` less the umask. */
  readonly mode?: number | undefined
  /** Create missing parent directories. Default `false`. */
  readonly makeDirectories?: boolean | undefined
}

/**
 * {@link WriteOptions} plus the JSON indentation.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteJsonOptions extends WriteOptions {
  /** Spaces of indentation. Default `2`; `0` writes one line. */
  readonly space?: number | undefined
}

/**
 * Writes bytes to a file, atomically by default (see {@link WriteOptions}).
 *
 * @since 0.1.0
 * @category writing
 */
export const writeBytes = (
  path: string,
  bytes: Uint8Array,
  options?: WriteOptions
): Effect.Effect<void, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.writeBytes("Files.writeBytes", path, bytes, internal.resolveWriteOptions(options))

/**
 * Writes text as UTF-8, atomically by default (see {@link WriteOptions}).
 *
 * @since 0.1.0
 * @category writing
 */
export const writeText = (
  path: string,
  text: string,
  options?: WriteOptions
): Effect.Effect<void, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.writeBytes("Files.writeText", path, Buffer.from(text, "utf8"), internal.resolveWriteOptions(options))

/**
 * Encodes `value` with `schema` and writes it as JSON (indented, with a final
 * newline), atomically by default. A value the schema refuses, or whose
 * encoded form is not JSON, is an `EncodeFailed` error and nothing is
 * written.
 *
 * @example
 * ```ts
 * const Checkpoint = Schema.Struct({ page: Schema.Int, at: Schema.DateFromString })
 * const save = Files.writeJson("checkpoint.json", Checkpoint, { page: 12, at: new Date() })
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const writeJson: <A, I, R>(
  path: string,
  schema: Schema.Schema<A, I, R>,
  value: A,
  options?: WriteJsonOptions
) => Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed, FileSystem.FileSystem | Path.Path | R> = (
  path,
  schema,
  value,
  options
) => internal.writeJson(path, schema, value, options)

/**
 * A sink that writes a stream of bytes or strings (UTF-8) to a file,
 * atomically by default: the target changes only when the stream ends
 * successfully; a failure or interruption leaves it as it was and removes
 * the temp file. One write per chunk.
 *
 * @example
 * ```ts
 * const exported = Stream.make("id,name\r\n", "1,Ada\r\n").pipe(Stream.run(Files.sink("out.csv")))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const sink = (
  path: string,
  options?: WriteOptions
): Sink.Sink<void, Uint8Array | string, never, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.sink(path, internal.resolveWriteOptions(options))

/**
 * Removes the temp files that atomic writes killed mid-way left in
 * `directory` (names `.<name>.<12 hex>.tmp`), if they were last modified
 * more than `olderThan` ago (default one hour, so that writes in progress in
 * other processes are left alone). Returns the paths removed.
 *
 * @since 0.1.0
 * @category writing
 */
export const removeStaleTemps = (
  directory: string,
  options?: { readonly olderThan?: Duration.DurationInput | undefined }
): Effect.Effect<ReadonlyArray<string>, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.removeStaleTemps(directory, options?.olderThan ?? "1 hour")

// ---------------------------------------------------------------------------
// Many files
// ---------------------------------------------------------------------------

/**
 * Which files of a directory to take.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** Descend into subdirectories. Default `false`. */
  readonly recursive?: boolean | undefined
  /** Keep only the paths (directory joined with the name) this accepts. */
  readonly filter?: ((path: string) => boolean) | undefined
}

/**
 * A directory and which of its files to take, for {@link forEachFile}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selection extends ListOptions {
  readonly directory: string
}

/**
 * Lists the regular files of a directory (paths joined with `directory`),
 * sorted, optionally recursively and filtered.
 *
 * @since 0.1.0
 * @category many files
 */
export const listFiles = (
  directory: string,
  options?: ListOptions
): Effect.Effect<ReadonlyArray<string>, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  internal.listFiles(directory, options)

/**
 * The outcome of one file in {@link forEachFile}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileResult<A, E> {
  readonly path: string
  readonly result: Either.Either<A, E>
}

/**
 * Runs `f` on many files, at most `concurrency` at a time, and returns one
 * outcome per file in input order: a failing file does not stop the others.
 * `files` is a list of paths, or a directory {@link Selection} (listed with
 * {@link listFiles}; a listing failure fails the whole call).
 *
 * @example
 * ```ts
 * const counts = Files.forEachFile(
 *   { directory: "logs", filter: (p) => p.endsWith(".log") },
 *   (path) => Stream.runCount(Files.lines(path)),
 *   { concurrency: 4 }
 * )
 * ```
 *
 * @since 0.1.0
 * @category many files
 */
export const forEachFile: <A, E, R>(
  files: Iterable<string> | Selection,
  f: (path: string) => Effect.Effect<A, E, R>,
  options: { readonly concurrency: number }
) => Effect.Effect<Array<FileResult<A, E>>, FilesError.SystemFailure, R | FileSystem.FileSystem | Path.Path> =
  internal.forEachFile
