/**
 * The typed failures of {@link Files}, {@link Jsonl}, {@link BlobStore} and
 * {@link Csv}. Every error carries the `operation` that failed (e.g.
 * `Files.writeText`, `BlobStore.get`) and the `path` it concerns, and its
 * `message` says what failed, where, and what to do about it.
 *
 * System errors from `@effect/platform` `FileSystem` are mapped by reason:
 * `ENOENT` → {@link FileNotFound}, `EACCES`/`EPERM` → {@link PermissionDenied},
 * `EEXIST` → {@link AlreadyExists}, `ENOTDIR` → {@link NotADirectory},
 * `EISDIR` → {@link IsADirectory}, anything else → {@link IoError} (which keeps
 * the platform reason and the system error code).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Files } from "@fiberkit/core"
 *
 * const Settings = Schema.Struct({ depth: Schema.Number })
 *
 * const settings = Files.readJson("settings.json", Settings).pipe(
 *   Effect.catchTag("FileNotFound", () => Effect.succeed({ depth: 3 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@fiberkit/core/FilesError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Fields every file error has.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  /** The fiberkit operation that failed, e.g. `Files.writeText`, `Jsonl.read`, `BlobStore.put`. */
  readonly operation: string
  /** The file or directory the failure concerns (for `BlobStore` key errors: the store's root). */
  readonly path: string
}

const where = (e: Context): string => `${e.operation} ${JSON.stringify(e.path)}`

/**
 * The file, or a directory on its path, does not exist (`ENOENT`).
 *
 * @since 0.1.0
 * @category errors
 */
export class FileNotFound extends Data.TaggedError("FileNotFound")<Context & {
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: no such file or directory. Check the path, or create the file (or its parent directory) first.`
  }
}

/**
 * The process may not read, write or list the path (`EACCES`, `EPERM`).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<Context & {
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: permission denied. Check the owner and mode of the file and of the directories above it.`
  }
}

/**
 * The path already exists where the operation needed it not to (`EEXIST`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<Context & {
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: already exists. Remove it first, or choose another path.`
  }
}

/**
 * A component of the path that must be a directory is a file (`ENOTDIR`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotADirectory extends Data.TaggedError("NotADirectory")<Context & {
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: a component of the path is not a directory. Check that every parent of the path is a directory, not a file.`
  }
}

/**
 * The path is a directory where a file was expected (`EISDIR`).
 *
 * @since 0.1.0
 * @category errors
 */
export class IsADirectory extends Data.TaggedError("IsADirectory")<Context & {
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: is a directory, but a file was expected. Pass the path of a file.`
  }
}

/**
 * Content could not be decoded: not valid JSON (`reason: "Json"`), or not
 * what the `Schema` expects (`reason: "Schema"`, `at` says where inside the
 * value). For line-oriented files, `line` is the 1-based line number.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeFailed extends Data.TaggedError("DecodeFailed")<Context & {
  readonly reason: "Json" | "Schema"
  /** 1-based line number, for JSONL and other line-oriented reads. */
  readonly line?: number | undefined
  /** Where inside the decoded value the first problem is, e.g. `["items", 3, "price"]`. */
  readonly at: ReadonlyArray<PropertyKey>
  readonly detail: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const line = this.line !== undefined ? ` line ${this.line}` : ""
    const at = this.at.length > 0 ? ` at ${this.at.map((p) => `[${JSON.stringify(String(p))}]`).join("")}` : ""
    const fix = this.reason === "Json" ? "The file is not valid JSON there" : "The value does not match the schema"
    return `${where(this)}${line}: could not decode (${this.reason})${at}: ${this.detail}. ${fix}: fix the data or the schema.`
  }
}

/**
 * A value could not be encoded for writing: the `Schema` refused it, or the
 * encoded form is not JSON-serialisable (a `bigint`, a cycle).
 *
 * @since 0.1.0
 * @category errors
 */
export class EncodeFailed extends Data.TaggedError("EncodeFailed")<Context & {
  /** Where inside the value the first problem is. */
  readonly at: ReadonlyArray<PropertyKey>
  readonly detail: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const at = this.at.length > 0 ? ` at ${this.at.map((p) => `[${JSON.stringify(String(p))}]`).join("")}` : ""
    return `${where(this)}: could not encode the value${at}: ${this.detail}. Nothing was written; fix the value or the schema.`
  }
}

/**
 * A line is longer than the configured limit, so reading it would need
 * unbounded memory.
 *
 * @since 0.1.0
 * @category errors
 */
export class LineTooLong extends Data.TaggedError("LineTooLong")<Context & {
  /** 1-based number of the offending line; `undefined` for the last line of a file read from its end. */
  readonly line: number | undefined
  readonly limit: number
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const line = this.line === undefined ? "the last line" : `line ${this.line}`
    return `${where(this)}: ${line} is longer than the ${this.limit}-byte limit. Raise maxLineBytes, or check that the file is line-oriented text.`
  }
}

/**
 * A `BlobStore` key is not a 64-character lowercase hex SHA-256 digest. Keys
 * are checked before any file is touched, so a key can never name a path
 * outside the store.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidKey extends Data.TaggedError("InvalidKey")<Context & {
  /** The rejected key, truncated to 100 characters. */
  readonly key: string
  readonly reason: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: invalid blob key ${JSON.stringify(this.key)}: ${this.reason}. A key is the 64-character lowercase hex SHA-256 that put returned.`
  }
}

/**
 * Stored content failed its integrity check: it does not decompress, or its
 * SHA-256 differs from its key.
 *
 * @since 0.1.0
 * @category errors
 */
export class Corrupt extends Data.TaggedError("Corrupt")<Context & {
  readonly detail: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${where(this)}: stored content is corrupt (${this.detail}). Remove the file and store the content again.`
  }
}

/**
 * Any other file system failure (disk full, too many open files, a busy
 * resource, an invalid argument such as a path containing a NUL byte).
 *
 * @since 0.1.0
 * @category errors
 */
export class IoError extends Data.TaggedError("IoError")<Context & {
  /** The `@effect/platform` reason (`Unknown`, `Busy`, `BadResource`, … or `BadArgument`). */
  readonly reason: string
  /** The system error code when there is one, e.g. `ENOSPC`, `EMFILE`. */
  readonly code: string | undefined
  readonly detail: string
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const hint = this.code === "ENOSPC"
      ? " The disk is full: free space and retry."
      : this.code === "EMFILE" || this.code === "ENFILE"
      ? " Too many open files: lower the concurrency or raise the limit (ulimit -n)."
      : ""
    return `${where(this)}: ${this.reason}${this.code ? ` (${this.code})` : ""}: ${this.detail}.${hint}`
  }
}

/**
 * Any error produced by the file modules.
 *
 * @since 0.1.0
 * @category models
 */
export type FilesError =
  | FileNotFound
  | PermissionDenied
  | AlreadyExists
  | NotADirectory
  | IsADirectory
  | DecodeFailed
  | EncodeFailed
  | LineTooLong
  | InvalidKey
  | Corrupt
  | IoError

/**
 * The errors a plain file system call can produce (no decoding, no keys).
 *
 * @since 0.1.0
 * @category models
 */
export type SystemFailure = FileNotFound | PermissionDenied | AlreadyExists | NotADirectory | IsADirectory | IoError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isFilesError = (u: unknown): u is FilesError => Predicate.hasProperty(u, TypeId)
