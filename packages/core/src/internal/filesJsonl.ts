/**
 * The implementation of `Jsonl`: a batching append writer (and the sink on
 * it), the repair of a torn tail before appending, and a reader that skips a
 * torn last line.
 *
 * @internal
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as FilesError from "../FilesError.js"
import type * as Jsonl from "../Jsonl.js"
import { DEFAULT_MAX_LINE_BYTES, lineOptions } from "./files.js"
import { fromPlatform, jsonDecodeFailed, schemaDecodeFailed, schemaEncodeFailed, stringify } from "./filesError.js"
import { type LineReader, openLines } from "./filesLines.js"

const LF = 0x0a

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** @internal */
export const DEFAULT_MAX_RECORDS = 1000

/** @internal */
export const DEFAULT_MAX_BYTES = 1024 * 1024

class Writer<A, I> implements Jsonl.Writer<A> {
  private pending: Array<string> = []
  private pendingBytes = 0
  /** Set when an append failed: the file may end in a partial batch, so nothing more is appended. */
  private failure: FilesError.SystemFailure | undefined = undefined
  /** Bytes appended since the last fsync. */
  private unsynced = false
  private readonly lock = Effect.unsafeMakeSemaphore(1)
  private readonly encode: (a: A) => Either.Either<I, ParseResult.ParseError>
  readonly flush: Effect.Effect<void, FilesError.SystemFailure>
  readonly sync: Effect.Effect<void, FilesError.SystemFailure>

  constructor(
    readonly path: string,
    readonly file: FileSystem.File,
    schema: Schema.Schema<A, I, never>,
    readonly maxRecords: number,
    readonly maxBytes: number,
    readonly syncBatches: boolean
  ) {
    this.encode = Schema.encodeEither(schema)
    this.flush = this.lock.withPermits(1)(Effect.suspend(() => this.append()))
    this.sync = this.lock.withPermits(1)(Effect.suspend(() =>
      Effect.zipRight(this.append(), this.failure === undefined ? this.fsync() : Effect.fail(this.failure))
    ))
  }

  write(record: A): Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed> {
    return this.writeAll([record])
  }

  writeAll(records: Iterable<A>): Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed> {
    return Effect.suspend((): Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed> => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      // Encode all first: a record that fails leaves none of the others buffered.
      const lines: Array<string> = []
      let bytes = 0
      for (const record of records) {
        const encoded = this.encode(record)
        if (Either.isLeft(encoded)) return Effect.fail(schemaEncodeFailed("Jsonl.write", this.path, encoded.left))
        const line = stringify("Jsonl.write", this.path, encoded.right)
        if (Either.isLeft(line)) return Effect.fail(line.left)
        lines.push(line.right)
        bytes += Buffer.byteLength(line.right) + 1
      }
      for (const line of lines) this.pending.push(line)
      this.pendingBytes += bytes
      return this.pending.length >= this.maxRecords || this.pendingBytes >= this.maxBytes ? this.flush : Effect.void
    })
  }

  /** One write for everything buffered. Runs under the lock, so batches land in order. */
  private append(): Effect.Effect<void, FilesError.SystemFailure> {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.pending.length === 0) return Effect.void
    const data = Buffer.from(`${this.pending.join("\n")}\n`, "utf8")
    this.pending = []
    this.pendingBytes = 0
    this.unsynced = true
    return this.file.writeAll(data).pipe(
      Effect.zipRight(this.syncBatches ? this.fsyncRaw() : Effect.void),
      Effect.mapError(fromPlatform("Jsonl.write", this.path)),
      Effect.tapError((error) =>
        Effect.sync(() => {
          this.failure = error
        })
      )
    )
  }

  private fsync(): Effect.Effect<void, FilesError.SystemFailure> {
    return Effect.mapError(this.fsyncRaw(), fromPlatform("Jsonl.write", this.path))
  }

  private fsyncRaw(): Effect.Effect<void, PlatformError.PlatformError> {
    if (!this.unsynced) return Effect.void
    return Effect.tap(this.file.sync, () => {
      this.unsynced = false
    })
  }

  /** The scope's last word: whatever is still buffered is written (and synced unless `never`). */
  close(syncOnClose: boolean): Effect.Effect<void> {
    if (this.failure !== undefined) return Effect.void
    // A failure here cannot be returned to anyone: it becomes a defect, so it is never silent.
    return Effect.orDie(syncOnClose ? this.sync : this.flush)
  }
}

/** @internal */
export const writer = <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options: Jsonl.WriterOptions | undefined
): Effect.Effect<Jsonl.Writer<A>, FilesError.SystemFailure | FilesError.LineTooLong, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const operation = "Jsonl.writer"
    const maxRecords = options?.maxRecords ?? DEFAULT_MAX_RECORDS
    const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES
    const policy = options?.sync ?? "close"
    if (!(maxRecords >= 1) || !(maxBytes >= 1)) {
      return yield* Effect.dieMessage(`${operation}: maxRecords and maxBytes must be at least 1, got ${maxRecords} and ${maxBytes}`)
    }
    const fs = yield* FileSystem.FileSystem
    if (options?.makeDirectories === true) {
      const directory = (yield* Path.Path).dirname(path)
      yield* Effect.mapError(fs.makeDirectory(directory, { recursive: true }), fromPlatform(operation, directory))
    }
    yield* repairTail(fs, operation, path, options?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)
    const file = yield* Effect.mapError(fs.open(path, { flag: "a" }), fromPlatform(operation, path))
    const writer = new Writer(path, file, schema, maxRecords, maxBytes, policy === "batch")
    yield* Effect.addFinalizer(() => writer.close(policy !== "never"))
    if (options?.maxDelay !== undefined) {
      const every = Duration.decode(options.maxDelay)
      // A failed append poisons the writer, which returns the error to every later call; it is
      // logged here too, as nobody may call again, and the loop stops.
      yield* Effect.forkScoped(
        Effect.forever(Effect.zipRight(Effect.sleep(every), writer.flush)).pipe(
          Effect.catchAll((error) =>
            Effect.logError(`Jsonl.writer: appending to ${path} failed; later writes fail with the same error`, error)
          )
        )
      )
    }
    return writer
  })

/** @internal */
export const sink = <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options: Jsonl.WriterOptions | undefined
): Sink.Sink<
  void,
  A,
  never,
  FilesError.SystemFailure | FilesError.EncodeFailed | FilesError.LineTooLong,
  FileSystem.FileSystem | Path.Path
> =>
  Sink.unwrapScoped<
    void,
    A,
    never,
    FilesError.SystemFailure | FilesError.EncodeFailed | FilesError.LineTooLong,
    FileSystem.FileSystem | Path.Path | Scope.Scope
  >(
    Effect.map(writer(path, schema, options), (w) =>
      Sink.forEachChunk((chunk: Chunk.Chunk<A>) => w.writeAll(chunk)).pipe(
        // At the end of the stream, so that a failing last write fails the stream.
        Sink.mapEffect(() => options?.sync === "never" ? w.flush : w.sync)
      ))
  )

/**
 * Before appending: if the file does not end with a newline, its last line
 * was torn by a crash (or written by a tool that omits the final newline).
 * A tail that is valid JSON is completed with a newline; anything else is cut
 * off, with a warning, so that the next record does not glue onto it.
 */
const repairTail = (
  fs: FileSystem.FileSystem,
  operation: string,
  path: string,
  maxLineBytes: number
): Effect.Effect<void, FilesError.SystemFailure | FilesError.LineTooLong> =>
  Effect.scoped(Effect.gen(function*() {
    const fail = fromPlatform(operation, path)
    const opened = yield* fs.open(path, { flag: "r+" }).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none())),
      Effect.mapError(fail)
    )
    if (Option.isNone(opened)) return
    const file = opened.value
    const size = Number((yield* Effect.mapError(file.stat, fail)).size)
    if (size === 0) return
    const blocks: Array<Buffer> = []
    let tailStart = 0
    let end = size
    while (end > 0) {
      const start = Math.max(0, end - 64 * 1024)
      const block = yield* Effect.mapError(readAt(file, start, end - start), fail)
      if (end === size && block[block.length - 1] === LF) return
      const nl = block.lastIndexOf(LF)
      blocks.unshift(nl === -1 ? block : block.subarray(nl + 1))
      if (nl !== -1) {
        tailStart = start + nl + 1
        break
      }
      end = start
      if (size - end > maxLineBytes) break
    }
    if (size - tailStart > maxLineBytes) {
      return yield* new FilesError.LineTooLong({ operation, path, line: undefined, limit: maxLineBytes })
    }
    const tail = Buffer.concat(blocks).toString("utf8")
    if (isJson(tail)) {
      yield* Effect.mapError(Effect.zipRight(file.seek(size, "start"), file.writeAll(Buffer.from("\n"))), fail)
      return
    }
    yield* Effect.mapError(file.truncate(tailStart), fail)
    yield* Effect.logWarning(
      `${operation}: ${path} ended in a torn line (${size - tailStart} bytes, no newline, not JSON), ` +
        `most likely a write cut short by a crash; it was cut off before appending.`
    ).pipe(Effect.annotateLogs({ path, droppedBytes: size - tailStart }))
  }))

const readAt = (
  file: FileSystem.File,
  position: number,
  length: number
): Effect.Effect<Buffer, PlatformError.PlatformError> =>
  Effect.suspend(() => {
    const buffer = Buffer.alloc(length)
    const loop = (offset: number): Effect.Effect<Buffer, PlatformError.PlatformError> =>
      offset >= length
        ? Effect.succeed(buffer)
        : Effect.flatMap(
          file.read(buffer.subarray(offset)),
          (n) => n === BigInt(0) ? Effect.succeed(buffer.subarray(0, offset)) : loop(offset + Number(n))
        )
    return Effect.zipRight(file.seek(position, "start"), loop(0))
  })

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

type ReadError = FilesError.SystemFailure | FilesError.LineTooLong | FilesError.DecodeFailed

/** A line that is not JSON: the last line of a torn write, unless another line follows it. */
interface Suspect {
  readonly line: number
  readonly error: FilesError.DecodeFailed
}

class Decoder<A, I> {
  private suspect: Suspect | undefined = undefined
  private failure: ReadError | undefined = undefined
  private finished = false
  private skipped: Array<Jsonl.Skipped> = []
  private readonly decode: (u: unknown) => Either.Either<A, ParseResult.ParseError>

  constructor(
    readonly reader: LineReader,
    readonly path: string,
    schema: Schema.Schema<A, I, never>,
    readonly failOnInvalid: boolean,
    readonly onSkipped: (skipped: Jsonl.Skipped) => Effect.Effect<void>
  ) {
    this.decode = Schema.decodeUnknownEither(schema)
  }

  pull(): Effect.Effect<Chunk.Chunk<A>, Option.Option<ReadError>> {
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (this.finished) return Effect.fail(Option.none())
    return Effect.matchEffect(this.reader.pull(), {
      onFailure: (error) => Effect.fail(Option.some(error)),
      onSuccess: (lines) => {
        const out: Array<A> = []
        if (lines === undefined) this.end(out)
        else this.lines(lines, this.reader.lines - lines.length + 1, out)
        return this.report(Chunk.unsafeFromArray(out))
      }
    })
  }

  private lines(lines: ReadonlyArray<string>, first: number, out: Array<A>): void {
    for (let i = 0; i < lines.length && this.failure === undefined; i++) {
      this.line(lines[i] as string, first + i, out)
    }
  }

  private line(text: string, line: number, out: Array<A>): void {
    if (isBlank(text)) return
    if (this.suspect !== undefined) {
      // Another line follows: not a torn tail but bad data in the middle.
      this.invalid(this.suspect)
      this.suspect = undefined
      if (this.failure !== undefined) return
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (error) {
      this.suspect = { line, error: jsonDecodeFailed("Jsonl.read", this.path, line, error) }
      return
    }
    const decoded = this.decode(json)
    if (Either.isRight(decoded)) out.push(decoded.right)
    else this.invalid({ line, error: schemaDecodeFailed("Jsonl.read", this.path, line, decoded.left) })
  }

  private end(out: Array<A>): void {
    this.finished = true
    const rest = this.reader.rest
    // The final line, without newline: decoded like any other, so a suspect before it is invalid
    // and a rest that is not JSON becomes the suspect.
    if (rest !== undefined) this.line(rest, this.reader.lines + 1, out)
    if (this.suspect !== undefined && this.failure === undefined) {
      this.skipped.push({ path: this.path, line: this.suspect.line, reason: "Torn", error: this.suspect.error })
      this.suspect = undefined
    }
  }

  private invalid(bad: Suspect): void {
    if (this.failOnInvalid) this.failure = bad.error
    else this.skipped.push({ path: this.path, line: bad.line, reason: "Invalid", error: bad.error })
  }

  private report(out: Chunk.Chunk<A>): Effect.Effect<Chunk.Chunk<A>> {
    if (this.skipped.length === 0) return Effect.succeed(out)
    const skipped = this.skipped
    this.skipped = []
    return Effect.as(Effect.forEach(skipped, this.onSkipped, { discard: true }), out)
  }
}

const isBlank = (line: string): boolean => line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim().length === 0)

/** @internal */
export const logSkipped = (skipped: Jsonl.Skipped): Effect.Effect<void> =>
  Effect.logWarning(
    skipped.reason === "Torn"
      ? `Jsonl.read: skipped the torn last line ${skipped.line} of ${skipped.path} (a write cut short by a crash): ${skipped.error.detail}`
      : `Jsonl.read: skipped invalid line ${skipped.line} of ${skipped.path}: ${skipped.error.message}`
  ).pipe(Effect.annotateLogs({ path: skipped.path, line: skipped.line, reason: skipped.reason }))

/** @internal */
export const read = <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options: Jsonl.ReadOptions | undefined
): Stream.Stream<A, ReadError, FileSystem.FileSystem> => {
  const operation = "Jsonl.read"
  return Stream.unwrapScoped(
    Effect.flatMap(lineOptions(operation, options), ({ chunkSize, maxLineBytes }) =>
      Effect.map(openLines(operation, path, chunkSize, maxLineBytes), (reader) => {
        const decoder = new Decoder(
          reader,
          path,
          schema,
          (options?.invalidLines ?? "fail") === "fail",
          options?.onSkipped ?? logSkipped
        )
        return Stream.repeatEffectChunkOption(Effect.suspend(() => decoder.pull()))
      }))
  )
}

/** @internal */
export const readAll = <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options: Jsonl.ReadOptions | undefined
): Effect.Effect<Jsonl.ReadResult<A>, ReadError, FileSystem.FileSystem> =>
  Effect.suspend(() => {
    const records: Array<A> = []
    const skipped: Array<Jsonl.Skipped> = []
    const also = options?.onSkipped
    return read(path, schema, {
      ...options,
      onSkipped: (s) => {
        skipped.push(s)
        return also === undefined ? Effect.void : also(s)
      }
    }).pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const record of chunk) records.push(record)
        })
      ),
      Effect.as({ records, skipped })
    )
  })
