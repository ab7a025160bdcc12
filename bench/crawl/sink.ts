/**
 * The JSONL output of the ceiling and Crawlee subjects: one line per page,
 * buffered and written with a synchronous `write` every 256 KiB, as a crawler
 * exporting records would. Nothing is fsynced: the output is a product of
 * the crawl, not its durable state.
 */
import * as FS from "node:fs"

const flushAt = 256 * 1024

/** One page of output, the same fields in every subject. */
export interface Line {
  readonly url: string
  readonly status: number
  readonly title: string | null
  readonly links: ReadonlyArray<string>
}

export class Sink {
  private readonly fd: number
  private buffer = ""

  constructor(path: string) {
    this.fd = FS.openSync(path, "w")
  }

  write(line: Line): void {
    this.buffer += JSON.stringify(line) + "\n"
    if (this.buffer.length >= flushAt) this.flush()
  }

  flush(): void {
    if (this.buffer.length === 0) return
    FS.writeSync(this.fd, this.buffer)
    this.buffer = ""
  }

  close(): void {
    this.flush()
    FS.closeSync(this.fd)
  }
}
