/**
 * Reading a file as UTF-8 lines with bounded memory.
 *
 * Lines are found with `Buffer.indexOf` (a native byte search) on the raw
 * bytes and decoded one at a time: `\n` (0x0A) never occurs inside a
 * multi-byte UTF-8 sequence, so a character split across two reads is always
 * reassembled before it is decoded. Reads go into one buffer that is reused
 * for the whole file (a fresh buffer per read costs page faults and GC: in
 * the bench, reusing it brought CPU time and RSS down to `readline`'s); only
 * the line in progress is copied out between reads, and never more than
 * `maxLineBytes` of it.
 *
 * Each line is decoded on its own rather than the whole read decoded once
 * and split: V8 makes substrings of 13+ characters views of their parent, so
 * one line kept by a consumer would pin its whole read (up to twice the
 * chunk size) in memory. Decoding per line costs the same for log-sized
 * lines and about twice as much for lines of a few bytes.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as FilesError from "../FilesError.js"
import { fromPlatform } from "./filesError.js"

const LF = 0x0a
const CR = 0x0d
const BOM = 0xfeff

/** @internal */
export const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * A line splitter. Lines end at `\n` or `\r\n` (the `\r` is dropped); a UTF-8
 * byte order mark at the very start is dropped. The bytes pushed may be
 * overwritten after `push` returns.
 *
 * @internal
 */
export class LineSplitter {
  /** Copies of the bytes of the line in progress, from earlier pushes. */
  private parts: Array<Buffer> = []
  private partsLength = 0
  /** Lines completed so far; the line in progress is number `lines + 1`. */
  lines = 0

  constructor(readonly maxLineBytes: number) {}

  /**
   * Appends the lines `bytes` completes to `out`. Returns `false` when the
   * line in progress has grown past `maxLineBytes` (its number is
   * `lines + 1`); the splitter must not be used after that.
   */
  push(bytes: Uint8Array, out: Array<string>): boolean {
    const buf = toBuffer(bytes)
    const max = this.maxLineBytes
    let start = 0
    let nl = buf.indexOf(LF, 0)
    if (this.partsLength > 0) {
      if (nl === -1) return this.carry(buf, 0)
      const length = this.partsLength + nl
      const last = nl > 0 ? buf[nl - 1] : lastByte(this.parts)
      if (length - (last === CR ? 1 : 0) > max) return false
      this.parts.push(buf.subarray(0, nl))
      const line = Buffer.concat(this.parts, length)
      this.parts = []
      this.partsLength = 0
      out.push(this.decode(line, 0, length))
      start = nl + 1
      nl = buf.indexOf(LF, start)
    }
    while (nl !== -1) {
      if (nl - start > max && nl - start - (buf[nl - 1] === CR ? 1 : 0) > max) return false
      out.push(this.decode(buf, start, nl))
      start = nl + 1
      nl = buf.indexOf(LF, start)
    }
    return start < buf.length ? this.carry(buf, start) : true
  }

  /**
   * The final line when the input did not end with a newline (for an
   * append-only file: possibly a torn line), or `undefined` when it did.
   */
  end(): string | undefined {
    if (this.partsLength === 0) return undefined
    const line = this.parts.length === 1 ? this.parts[0] as Buffer : Buffer.concat(this.parts, this.partsLength)
    const length = this.partsLength
    this.parts = []
    this.partsLength = 0
    return this.decode(line, 0, length)
  }

  private carry(buf: Buffer, start: number): boolean {
    // A copy: the caller reuses its buffer.
    this.parts.push(Buffer.from(buf.subarray(start)))
    this.partsLength += buf.length - start
    // One byte of slack: a trailing `\r` is not part of the line.
    return this.partsLength <= this.maxLineBytes + 1
  }

  private decode(buf: Buffer, start: number, end: number): string {
    if (end > start && buf[end - 1] === CR) end--
    this.lines++
    const line = buf.toString("utf8", start, end)
    return this.lines === 1 && line.charCodeAt(0) === BOM ? line.slice(1) : line
  }
}

const lastByte = (parts: ReadonlyArray<Buffer>): number | undefined => {
  const last = parts[parts.length - 1]
  return last === undefined ? undefined : last[last.length - 1]
}

/**
 * Most lines handed out at once. A read of short lines can complete tens of
 * thousands of them, and some stream operators recurse once per element of
 * a chunk (`Stream.runFold` overflows the stack near 10,000), so chunks stay
 * at Effect's usual size.
 *
 * @internal
 */
export const MAX_LINES_PER_CHUNK = 4096

/**
 * Pulls the lines of an open file, one read at a time, at most
 * {@link MAX_LINES_PER_CHUNK} at once.
 *
 * @internal
 */
export class LineReader {
  private readonly buffer: Buffer
  private readonly splitter: LineSplitter
  private failure: FilesError.LineTooLong | undefined = undefined
  private done = false
  /** Lines of the last read not handed out yet, from `next` on. */
  private queue: Array<string> = []
  private next = 0
  /** Lines handed out so far: the number of the last line `pull` returned. */
  lines = 0
  /** After `pull` returned `undefined`: the final line if the file did not end with a newline. */
  rest: string | undefined = undefined

  constructor(
    readonly file: FileSystem.File,
    readonly operation: string,
    readonly path: string,
    chunkSize: number,
    readonly maxLineBytes: number
  ) {
    this.buffer = Buffer.allocUnsafe(chunkSize)
    this.splitter = new LineSplitter(maxLineBytes)
  }

  /**
   * The next complete lines (possibly none), or `undefined` at the end of
   * the file. A line over the limit fails the pull after the lines before it
   * were handed out.
   */
  pull(): Effect.Effect<Array<string> | undefined, FilesError.SystemFailure | FilesError.LineTooLong> {
    if (this.next < this.queue.length) return Effect.succeed(this.take())
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.done) return Effect.succeed(undefined)
    return Effect.map(
      Effect.mapError(this.file.read(this.buffer), fromPlatform(this.operation, this.path)),
      (size) => this.split(Number(size))
    )
  }

  private take(): Array<string> {
    const queue = this.queue
    const start = this.next
    const end = Math.min(queue.length, start + MAX_LINES_PER_CHUNK)
    const lines = start === 0 && end === queue.length ? queue : queue.slice(start, end)
    this.next = end
    this.lines += lines.length
    return lines
  }

  private split(size: number): Array<string> | undefined {
    if (size === 0) {
      this.done = true
      this.rest = this.splitter.end()
      return undefined
    }
    const out: Array<string> = []
    if (!this.splitter.push(this.buffer.subarray(0, size), out)) {
      this.failure = new FilesError.LineTooLong({
        operation: this.operation,
        path: this.path,
        line: this.splitter.lines + 1,
        limit: this.maxLineBytes
      })
    }
    this.queue = out
    this.next = 0
    return this.take()
  }
}

/**
 * Opens `path` for reading lines; the file is closed with the scope.
 *
 * @internal
 */
export const openLines = (
  operation: string,
  path: string,
  chunkSize: number,
  maxLineBytes: number
): Effect.Effect<LineReader, FilesError.SystemFailure, FileSystem.FileSystem | Scope.Scope> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.map(
      Effect.mapError(fs.open(path, { flag: "r" }), fromPlatform(operation, path)),
      (file) => new LineReader(file, operation, path, chunkSize, maxLineBytes)
    ))
