/**
 * The implementation of `Files`: platform error mapping, atomic writes,
 * JSON with `Schema`, line streaming and many-file processing.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import type * as Files from "../Files.js"
import * as FilesError from "../FilesError.js"
import { fromPlatform, jsonDecodeFailed, schemaDecodeFailed, schemaEncodeFailed, stringify } from "./filesError.js"
import { type LineReader, openLines, toBuffer } from "./filesLines.js"

// ---------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------

/** @internal */
export interface ResolvedWriteOptions {
  readonly atomic: boolean
  readonly sync: boolean
  readonly mode: number | undefined
  readonly makeDirectories: boolean
}

/** @internal */
export const resolveWriteOptions = (options: Files.WriteOptions | undefined): ResolvedWriteOptions => ({
  atomic: options?.atomic ?? true,
  sync: options?.sync ?? true,
  mode: options?.mode,
  makeDirectories: options?.makeDirectories ?? false
})

/** Temp files are `.<name>.<12 hex>.tmp`, next to their target. */
const TEMP_PATTERN = /^\..*\.[0-9a-f]{12}\.tmp$/

/** @internal */
export const isTempName = (name: string): boolean => TEMP_PATTERN.test(name)

/** @internal */
export const tempName = (base: string): string =>
  `.${truncateUtf8(base, 200)}.${Crypto.randomBytes(6).toString("hex")}.tmp`

/** At most `max` UTF-8 bytes of `text`, cut between characters: temp names must stay under NAME_MAX (255 bytes). */
const truncateUtf8 = (text: string, max: number): string => {
  if (Buffer.byteLength(text) <= max) return text
  const chars = Array.from(text)
  let bytes = Buffer.byteLength(text)
  while (bytes > max) bytes -= Buffer.byteLength(chars.pop() ?? "")
  return chars.join("")
}

/**
 * Fsyncs a directory so that a rename inside it survives a power loss. Windows
 * cannot open a directory as a file, and NTFS journals renames itself, so
 * there it is skipped.
 *
 * @internal
 */
export const syncDirectory = (fs: FileSystem.FileSystem, directory: string, operation: string): Effect.Effect<void, FilesError.SystemFailure> =>
  process.platform === "win32"
    ? Effect.void
    : Effect.scoped(Effect.flatMap(fs.open(directory, { flag: "r" }), (dir) => dir.sync)).pipe(
      Effect.mapError(fromPlatform(operation, directory))
    )

/**
 * A file being written. `write` appends bytes; `commit` makes them the
 * content of the target. Closing the scope without a commit leaves the
 * target untouched and removes the temp file.
 *
 * @internal
 */
export interface PendingFile {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, FilesError.SystemFailure>
  readonly commit: Effect.Effect<void, FilesError.SystemFailure>
}

class AtomicFile implements PendingFile {
  committed = false
  file: FileSystem.File | undefined = undefined
  constructor(
    readonly fs: FileSystem.FileSystem,
    readonly operation: string,
    readonly target: string,
    readonly directory: string,
    readonly temp: string,
    readonly fileScope: Scope.CloseableScope,
    readonly sync: boolean
  ) {}

  write(bytes: Uint8Array): Effect.Effect<void, FilesError.SystemFailure> {
    const file = this.file
    if (file === undefined) return Effect.dieMessage(`${this.operation}: write before open`)
    // The platform's writeAll reports an empty write as a failure (WriteZero).
    if (bytes.length === 0) return Effect.void
    return Effect.mapError(file.writeAll(bytes), fromPlatform(this.operation, this.target))
  }

  get commit(): Effect.Effect<void, FilesError.SystemFailure> {
    const file = this.file
    if (file === undefined) return Effect.dieMessage(`${this.operation}: commit before open`)
    const fail = fromPlatform(this.operation, this.target)
    return (this.sync ? Effect.mapError(file.sync, fail) : Effect.void).pipe(
      // Closed before the rename: Windows cannot rename an open file.
      Effect.zipRight(Scope.close(this.fileScope, Exit.void)),
      Effect.zipRight(Effect.mapError(this.fs.rename(this.temp, this.target), fail)),
      Effect.tap(() => {
        this.committed = true
      }),
      Effect.zipRight(this.sync ? syncDirectory(this.fs, this.directory, this.operation) : Effect.void)
    )
  }

  abort(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    if (this.committed) return Effect.void
    return Scope.close(this.fileScope, exit).pipe(
      Effect.zipRight(this.fs.remove(this.temp, { force: true })),
      Effect.catchAll((error) =>
        Effect.logWarning(`${this.operation}: could not remove the temp file ${this.temp}; it is safe to delete`, error)
      )
    )
  }
}

/**
 * Opens `target` for writing. Atomic: a temp file `.<name>.<random>.tmp` in
 * the same directory (so the rename never crosses a file system), created
 * exclusively; `commit` fsyncs it, renames it over the target and fsyncs the
 * directory. Not atomic: the target is truncated and written in place.
 *
 * @internal
 */
export const open = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  operation: string,
  target: string,
  options: ResolvedWriteOptions
): Effect.Effect<PendingFile, FilesError.SystemFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const directory = path.dirname(target)
    if (options.makeDirectories) {
      yield* Effect.mapError(fs.makeDirectory(directory, { recursive: true }), fromPlatform(operation, directory))
    }
    const fileScope = yield* Scope.make()
    if (!options.atomic) {
      yield* Effect.addFinalizer((exit) => Scope.close(fileScope, exit))
      const file = yield* fs.open(target, { flag: "w", ...(options.mode !== undefined ? { mode: options.mode } : {}) }).pipe(
        Scope.extend(fileScope),
        Effect.mapError(fromPlatform(operation, target))
      )
      return new InPlaceFile(file, operation, target, options.sync)
    }
    const temp = path.join(directory, tempName(path.basename(target)))
    const pending = new AtomicFile(fs, operation, target, directory, temp, fileScope, options.sync)
    yield* Effect.addFinalizer((exit) => pending.abort(exit))
    pending.file = yield* fs.open(temp, { flag: "wx", ...(options.mode !== undefined ? { mode: options.mode } : {}) }).pipe(
      Scope.extend(fileScope),
      Effect.mapError(fromPlatform(operation, target))
    )
    return pending
  })

class InPlaceFile implements PendingFile {
  constructor(
    readonly file: FileSystem.File,
    readonly operation: string,
    readonly target: string,
    readonly sync: boolean
  ) {}
  write(bytes: Uint8Array): Effect.Effect<void, FilesError.SystemFailure> {
    if (bytes.length === 0) return Effect.void
    return Effect.mapError(this.file.writeAll(bytes), fromPlatform(this.operation, this.target))
  }
  get commit(): Effect.Effect<void, FilesError.SystemFailure> {
    return this.sync ? Effect.mapError(this.file.sync, fromPlatform(this.operation, this.target)) : Effect.void
  }
}

/** @internal */
export const writeBytes = (
  operation: string,
  target: string,
  bytes: Uint8Array,
  options: ResolvedWriteOptions
): Effect.Effect<void, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(
    Effect.all([FileSystem.FileSystem, Path.Path]),
    ([fs, path]) =>
      Effect.scoped(
        Effect.flatMap(open(fs, path, operation, target, options), (file) => Effect.zipRight(file.write(bytes), file.commit))
      )
  )

/** @internal */
export const sink = (
  target: string,
  options: ResolvedWriteOptions
): Sink.Sink<void, Uint8Array | string, never, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Sink.unwrapScoped(
    Effect.map(
      Effect.flatMap(
        Effect.all([FileSystem.FileSystem, Path.Path]),
        ([fs, path]) => open(fs, path, "Files.sink", target, options)
      ),
      (file) =>
        Sink.forEachChunk((chunk: Chunk.Chunk<Uint8Array | string>) => file.write(concat(chunk))).pipe(
          Sink.mapEffect(() => file.commit)
        )
    )
  )

/** One write per chunk: strings are encoded as UTF-8 and everything is joined. */
const concat = (chunk: Chunk.Chunk<Uint8Array | string>): Uint8Array => {
  if (chunk.length === 1) {
    const only = Chunk.unsafeHead(chunk)
    return typeof only === "string" ? Buffer.from(only, "utf8") : only
  }
  const buffers: Array<Buffer> = []
  let length = 0
  for (const item of chunk) {
    const buffer = typeof item === "string" ? Buffer.from(item, "utf8") : toBuffer(item)
    buffers.push(buffer)
    length += buffer.length
  }
  return Buffer.concat(buffers, length)
}

/** @internal */
export const removeStaleTemps = (
  directory: string,
  olderThan: Duration.DurationInput
): Effect.Effect<ReadonlyArray<string>, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const operation = "Files.removeStaleTemps"
    const names = yield* Effect.mapError(fs.readDirectory(directory), fromPlatform(operation, directory))
    const cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(Duration.decode(olderThan))
    const removed: Array<string> = []
    for (const name of names.filter(isTempName).sort()) {
      const file = path.join(directory, name)
      const info = yield* fs.stat(file).pipe(
        Effect.map(Option.some),
        // Gone since the listing: its writer committed or cleaned up.
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none())),
        Effect.mapError(fromPlatform(operation, file))
      )
      if (Option.isNone(info) || info.value.type !== "File") continue
      const mtime = Option.getOrElse(Option.map(info.value.mtime, (d) => d.getTime()), () => 0)
      if (mtime > cutoff) continue
      yield* Effect.mapError(fs.remove(file, { force: true }), fromPlatform(operation, file))
      removed.push(file)
    }
    return removed
  })

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/** @internal */
export const readBytes = (operation: string, file: string): Effect.Effect<Uint8Array, FilesError.SystemFailure, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.mapError(fs.readFile(file), fromPlatform(operation, file)))

/** @internal */
export const readText = (operation: string, file: string): Effect.Effect<string, FilesError.SystemFailure, FileSystem.FileSystem> =>
  Effect.map(readBytes(operation, file), (bytes) => {
    const text = toBuffer(bytes).toString("utf8")
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  })

/** @internal */
export const readJson = <A, I, R>(
  file: string,
  schema: Schema.Schema<A, I, R>
): Effect.Effect<A, FilesError.SystemFailure | FilesError.DecodeFailed, FileSystem.FileSystem | R> => {
  const operation = "Files.readJson"
  const decode = Schema.decodeUnknown(schema)
  return Effect.flatMap(readText(operation, file), (text) => {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return Effect.fail(jsonDecodeFailed(operation, file, undefined, error))
    }
    return Effect.mapError(decode(value), (error) => schemaDecodeFailed(operation, file, undefined, error))
  })
}

/** @internal */
export const writeJson = <A, I, R>(
  file: string,
  schema: Schema.Schema<A, I, R>,
  value: A,
  options: Files.WriteJsonOptions | undefined
): Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed, FileSystem.FileSystem | Path.Path | R> => {
  const operation = "Files.writeJson"
  return Schema.encode(schema)(value).pipe(
    Effect.mapError((error) => schemaEncodeFailed(operation, file, error)),
    Effect.flatMap((encoded) => stringify(operation, file, encoded, options?.space ?? 2)),
    Effect.flatMap((text) => writeBytes(operation, file, Buffer.from(`${text}\n`, "utf8"), resolveWriteOptions(options)))
  )
}

/** @internal */
export const DEFAULT_CHUNK_SIZE = 256 * 1024

/** @internal */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024

/** @internal */
export const lineOptions = (
  operation: string,
  options: Files.LinesOptions | undefined
): Effect.Effect<{ readonly chunkSize: number; readonly maxLineBytes: number }> => {
  const chunkSize = options?.chunkSize ?? DEFAULT_CHUNK_SIZE
  const maxLineBytes = options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
  return Number.isSafeInteger(chunkSize) && chunkSize > 0 && Number.isSafeInteger(maxLineBytes) && maxLineBytes > 0
    ? Effect.succeed({ chunkSize, maxLineBytes })
    : Effect.dieMessage(`${operation}: chunkSize and maxLineBytes must be positive integers, got ${chunkSize} and ${maxLineBytes}`)
}

/** @internal */
export const lines = (
  file: string,
  options: Files.LinesOptions | undefined
): Stream.Stream<string, FilesError.SystemFailure | FilesError.LineTooLong, FileSystem.FileSystem> => {
  const operation = "Files.lines"
  return Stream.unwrapScoped(
    Effect.flatMap(lineOptions(operation, options), ({ chunkSize, maxLineBytes }) =>
      Effect.map(
        openLines(operation, file, chunkSize, maxLineBytes),
        (reader) => Stream.repeatEffectChunkOption(pullLines(reader))
      ))
  )
}

const pullLines = (
  reader: LineReader
): Effect.Effect<Chunk.Chunk<string>, Option.Option<FilesError.SystemFailure | FilesError.LineTooLong>> =>
  Effect.suspend(() =>
    Effect.matchEffect(reader.pull(), {
      onFailure: (error) => Effect.fail(Option.some(error)),
      onSuccess: (lines) => {
        if (lines !== undefined) return Effect.succeed(Chunk.unsafeFromArray(lines))
        const rest = reader.rest
        if (rest === undefined) return Effect.fail(Option.none())
        reader.rest = undefined
        return Effect.succeed(Chunk.of(rest))
      }
    })
  )

// ---------------------------------------------------------------------------
// Many files
// ---------------------------------------------------------------------------

/** @internal */
export const listFiles = (
  directory: string,
  options: Files.ListOptions | undefined
): Effect.Effect<ReadonlyArray<string>, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const operation = "Files.listFiles"
    const names = yield* Effect.mapError(
      fs.readDirectory(directory, { recursive: options?.recursive ?? false }),
      fromPlatform(operation, directory)
    )
    const filter = options?.filter
    const candidates = names.map((name) => path.join(directory, name)).filter((file) => filter === undefined || filter(file))
    const types = yield* Effect.forEach(
      candidates,
      (file) => Effect.mapError(fs.stat(file), fromPlatform(operation, file)),
      { concurrency: 16 }
    )
    return candidates.filter((_, i) => types[i]?.type === "File").sort()
  })

/** @internal */
export const forEachFile = <A, E, R>(
  files: Iterable<string> | Files.Selection,
  f: (path: string) => Effect.Effect<A, E, R>,
  options: { readonly concurrency: number }
): Effect.Effect<Array<Files.FileResult<A, E>>, FilesError.SystemFailure, R | FileSystem.FileSystem | Path.Path> => {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    return Effect.dieMessage(`Files.forEachFile: concurrency must be a positive integer, got ${options.concurrency}`)
  }
  const paths: Effect.Effect<ReadonlyArray<string>, FilesError.SystemFailure, FileSystem.FileSystem | Path.Path> =
    isSelection(files) ? listFiles(files.directory, files) : Effect.sync(() => Array.from(files))
  return Effect.flatMap(paths, (list) =>
    Effect.forEach(
      list,
      (file) => Effect.map(Effect.either(f(file)), (result): Files.FileResult<A, E> => ({ path: file, result })),
      { concurrency: options.concurrency }
    ))
}

const isSelection = (u: Iterable<string> | Files.Selection): u is Files.Selection =>
  Predicate.hasProperty(u, "directory") && typeof u.directory === "string"
