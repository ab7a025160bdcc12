/**
 * `Jsonl`: append-only JSON Lines files of records encoded and decoded with
 * a `Schema` — crawl results, event logs, checkpoints of a pipeline.
 *
 * - {@link sink} / {@link writer}: records are buffered and appended in
 *   batches, one write per batch, when `maxRecords` or `maxBytes` is reached,
 *   every `maxDelay` if set, at the end of the stream and when the scope
 *   closes; fsync per batch, at close, or never.
 * - {@link read} / {@link readAll}: a `Stream` of decoded records with
 *   bounded memory. A crash while appending can leave the last line torn
 *   (cut short, or garbage such as zeros on some file systems): that line is
 *   reported through `onSkipped` (a warning log by default) and skipped, not
 *   fatal. A bad line anywhere else is bad data, not a crash: a
 *   `DecodeFailed` error by default, or skipped and reported with
 *   `invalidLines: "skip"`.
 *
 * A writer opening a file whose last line is torn cuts that line off first
 * (with a warning), so that new records never glue onto it. One writer per
 * file at a time: appends from several processes are not coordinated.
 *
 * Schemas used here have no requirements (`R = never`): records are encoded
 * and decoded synchronously, which keeps the per-record cost low.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Schema, Stream } from "effect"
 * import { Jsonl } from "@fiberkit/core"
 *
 * const Page = Schema.Struct({ url: Schema.String, status: Schema.Number })
 *
 * const program = Effect.gen(function*() {
 *   yield* Stream.make({ url: "https://a.example/", status: 200 }).pipe(
 *     Stream.run(Jsonl.sink("pages.jsonl", Page, { maxRecords: 500, sync: "batch" }))
 *   )
 *   const { records, skipped } = yield* Jsonl.readAll("pages.jsonl", Page)
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
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as Files from "./Files.js"
import type * as FilesError from "./FilesError.js"
import * as internal from "./internal/filesJsonl.js"

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/**
 * How records are batched and made durable.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriterOptions {
  /** Append when this many records are buffered. Default `1000`. */
  readonly maxRecords?: number | undefined
  /** Append when this many bytes are buffered. Default 1 MiB. */
  readonly maxBytes?: number | undefined
  /**
   * Also append every `maxDelay`, so that records arriving slowly are not
   * held back (and lost in a crash) for long. Default: none.
   */
  readonly maxDelay?: Duration.DurationInput | undefined
  /**
   * When to fsync: after every batch (`"batch"`: a batch that was appended
   * survives a power loss), once when the writer closes (`"close"`, the
   * default), or `"never"` (a crash of the process loses nothing appended,
   * a crash of the machine may).
   */
  readonly sync?: "batch" | "close" | "never" | undefined
  /** Create missing parent directories. Default `false`. */
  readonly makeDirectories?: boolean | undefined
  /** Longest torn last line the writer looks back over when repairing the file. Default 64 MiB. */
  readonly maxLineBytes?: number | undefined
}

/**
 * An open JSONL file that records are appended to. Closing its scope writes
 * whatever is still buffered.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writer<A> {
  readonly path: string
  /** Buffers one record; appends the batch when a bound is reached. */
  readonly write: (record: A) => Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed>
  /**
   * Buffers records; appends when a bound is reached. If one record cannot
   * be encoded, none of them is buffered.
   */
  readonly writeAll: (records: Iterable<A>) => Effect.Effect<void, FilesError.SystemFailure | FilesError.EncodeFailed>
  /** Appends what is buffered now (and fsyncs it with `sync: "batch"`). */
  readonly flush: Effect.Effect<void, FilesError.SystemFailure>
  /** Appends what is buffered and fsyncs the file, whatever the `sync` option. */
  readonly sync: Effect.Effect<void, FilesError.SystemFailure>
}

/**
 * Opens a JSONL file for appending records, in a scope. After a failed
 * append every later call fails with the same error: the file may end in a
 * partial batch, which the next writer to open it repairs.
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const log = yield* Jsonl.writer("events.jsonl", Event, { maxDelay: "1 second" })
 *   yield* log.write({ type: "started", at: new Date() })
 * }))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const writer: <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options?: WriterOptions
) => Effect.Effect<
  Writer<A>,
  FilesError.SystemFailure | FilesError.LineTooLong,
  FileSystem.FileSystem | Path.Path | Scope.Scope
> = (path, schema, options) => internal.writer(path, schema, options)

/**
 * A sink appending every record of a stream to a JSONL file, in batches (see
 * {@link WriterOptions}). The stream succeeds only once everything is
 * appended (and, unless `sync: "never"`, fsynced); when it fails or is
 * interrupted, the records already received are still appended.
 *
 * @since 0.1.0
 * @category writing
 */
export const sink: <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options?: WriterOptions
) => Sink.Sink<
  void,
  A,
  never,
  FilesError.SystemFailure | FilesError.EncodeFailed | FilesError.LineTooLong,
  FileSystem.FileSystem | Path.Path
> = (path, schema, options) => internal.sink(path, schema, options)

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/**
 * A line that was skipped while reading:
 * - `Torn`: the last line of the file is not JSON (cut short by a crash, or
 *   garbage the file system left); expected after a crash, never fatal;
 * - `Invalid`: a line elsewhere that is not JSON, or a line that does not
 *   match the schema; skipped only with `invalidLines: "skip"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Skipped {
  readonly path: string
  /** 1-based line number. */
  readonly line: number
  readonly reason: "Torn" | "Invalid"
  readonly error: FilesError.DecodeFailed
}

/**
 * How to read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions extends Files.LinesOptions {
  /** What to do with an invalid line that is not a torn last line. Default `"fail"`. */
  readonly invalidLines?: "fail" | "skip" | undefined
  /** Called for every skipped line. Default: a warning log, annotated with path, line and reason. */
  readonly onSkipped?: ((skipped: Skipped) => Effect.Effect<void>) | undefined
}

/**
 * Streams the records of a JSONL file, decoded with `schema`, with bounded
 * memory. Blank lines are ignored. A torn last line is reported and skipped;
 * a last line without a newline that decodes is a record (some tools omit
 * the final newline).
 *
 * @example
 * ```ts
 * const failures = Jsonl.read("pages.jsonl", Page).pipe(
 *   Stream.filter((page) => page.status >= 500),
 *   Stream.runCount
 * )
 * ```
 *
 * @since 0.1.0
 * @category reading
 */
export const read: <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options?: ReadOptions
) => Stream.Stream<
  A,
  FilesError.SystemFailure | FilesError.LineTooLong | FilesError.DecodeFailed,
  FileSystem.FileSystem
> = (path, schema, options) => internal.read(path, schema, options)

/**
 * The records of a file and the lines skipped.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadResult<A> {
  readonly records: Array<A>
  readonly skipped: Array<Skipped>
}

/**
 * Reads a whole JSONL file into memory: the records, and the lines skipped
 * (instead of logging them; `onSkipped` is still called when given).
 *
 * @since 0.1.0
 * @category reading
 */
export const readAll: <A, I>(
  path: string,
  schema: Schema.Schema<A, I, never>,
  options?: ReadOptions
) => Effect.Effect<
  ReadResult<A>,
  FilesError.SystemFailure | FilesError.LineTooLong | FilesError.DecodeFailed,
  FileSystem.FileSystem
> = (path, schema, options) => internal.readAll(path, schema, options)
