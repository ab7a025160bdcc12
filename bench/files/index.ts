/**
 * Line streaming of a file larger than it is sensible to hold in memory:
 * throughput and peak RSS of `Files.lines` against a raw Node `readline`
 * baseline (and the naive `@effect/platform` pipeline `FileSystem.stream` →
 * `Stream.decodeText` → `Stream.splitLines`), measured in the same run.
 *
 * The file (~1 GB by default, log-like lines of 40 to 200 bytes with some
 * multi-byte UTF-8 and some CRLF) is generated in a temp directory and
 * deleted afterwards. Each reader runs in its own child process so that peak
 * RSS is its own (sampled every 10 ms); every reader touches every line
 * (count and total length), and the counts must agree. readline and
 * `Files.lines` (consumed with `Stream.runFold`) run in interleaved rounds
 * and the best round of each is reported, with ratios to readline; CPU time
 * (all threads) is reported too, as it is steadier than wall time on a busy
 * machine. `Files.lines` consumed with an effect per line runs once, to show
 * what per-element effects cost on top. The file is read from the page cache
 * (it was just written), so this measures CPU cost per byte, not the disk.
 * Prints a table; never fails on figures.
 *
 *   tsx bench/files/index.ts [--mb 1024] [--rounds 2] [--naive-mb 256]
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as NFS from "node:fs"
import * as OS from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Files from "../../packages/core/src/Files.js"

const { values } = parseArgs({
  options: {
    mb: { type: "string", default: "1024" },
    rounds: { type: "string", default: "2" },
    "naive-mb": { type: "string", default: "256" },
    child: { type: "string" },
    file: { type: "string" },
    bytes: { type: "string" }
  }
})

interface Measurement {
  readonly lines: number
  readonly chars: number
  readonly ms: number
  /** CPU time of the process (all threads, user + system), ms. */
  readonly cpuMs: number
  readonly baseRss: number
  readonly peakRss: number
}

type Reader = "readline" | "Files.lines" | "Files.lines forEach" | "platform splitLines"

// ---------------------------------------------------------------------------
// Child: run one reader over the file and print a Measurement as JSON
// ---------------------------------------------------------------------------

const readers: Record<Reader, (file: string, bytes: number | undefined) => Promise<{ lines: number; chars: number }>> = {
  readline: (file, bytes) =>
    new Promise((resolve, reject) => {
      let lines = 0
      let chars = 0
      const input = NFS.createReadStream(file, bytes === undefined ? {} : { end: bytes - 1 })
      input.once("error", reject)
      const rl = Readline.createInterface({ input, crlfDelay: Infinity })
      rl.on("line", (line) => {
        lines++
        chars += line.length
      })
      rl.once("close", () => resolve({ lines, chars }))
    }),
  "Files.lines": (file) =>
    Files.lines(file).pipe(
      Stream.runFold({ lines: 0, chars: 0 }, (acc, line) => {
        acc.lines++
        acc.chars += line.length
        return acc
      }),
      Effect.provide(NodeFileSystem.layer),
      Effect.runPromise
    ),
  // An effect per line: what a consumer doing IO per line pays on top.
  "Files.lines forEach": (file) => {
    let lines = 0
    let chars = 0
    return Files.lines(file).pipe(
      Stream.runForEach((line) =>
        Effect.sync(() => {
          lines++
          chars += line.length
        })
      ),
      Effect.map(() => ({ lines, chars })),
      Effect.provide(NodeFileSystem.layer),
      Effect.runPromise
    )
  },
  "platform splitLines": (file, bytes) => {
    let lines = 0
    let chars = 0
    return Effect.flatMap(FileSystem.FileSystem, (fs) =>
      fs.stream(file, bytes === undefined ? {} : { bytesToRead: bytes }).pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            for (const line of chunk) {
              lines++
              chars += line.length
            }
          })
        )
      )).pipe(
        Effect.map(() => ({ lines, chars })),
        Effect.provide(NodeFileSystem.layer),
        Effect.runPromise
      )
  }
}

const runChild = async (reader: Reader, file: string, bytes: number | undefined) => {
  const baseRss = process.memoryUsage().rss
  let peakRss = baseRss
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }, 10)
  const started = performance.now()
  const cpu = process.cpuUsage()
  const { chars, lines } = await readers[reader](file, bytes)
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  const cpuMs = (used.user + used.system) / 1000
  clearInterval(sampler)
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  const result: Measurement = { lines, chars, ms, cpuMs, baseRss, peakRss }
  process.stdout.write(JSON.stringify(result))
}

// ---------------------------------------------------------------------------
// Parent: generate the file, run each reader in a child, print the table
// ---------------------------------------------------------------------------

const words = ["GET", "POST", "/api/v1/items", "/index.html", "naïve", "café", "200", "404", "500", "Zürich", "日本語", "ok"]

/**
 * Writes ~`megabytes` MB of lines: one ~8 MB block of varied lines, repeated
 * (generating every line afresh would take longer than reading them).
 * Returns the exact size and the line count.
 */
const generate = (file: string, megabytes: number): { bytes: number; lines: number } => {
  let seed = 42
  const random = () => {
    // xorshift32: the same content on every run.
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 4294967296
  }
  const parts: Array<string> = []
  const BLOCK_LINES = 64_000
  for (let i = 0; i < BLOCK_LINES; i++) {
    const n = 4 + Math.floor(random() * 24)
    let line = `${i} ${new Date(1_700_000_000_000 + i * 1000).toISOString()}`
    for (let w = 0; w < n; w++) line += ` ${words[Math.floor(random() * words.length)]}`
    // Some Windows line endings, which every reader must strip.
    parts.push(line, i % 97 === 0 ? "\r\n" : "\n")
  }
  const block = Buffer.from(parts.join(""), "utf8")
  const target = megabytes * 1024 * 1024
  const fd = NFS.openSync(file, "w")
  let bytes = 0
  let lines = 0
  try {
    while (bytes < target) {
      NFS.writeSync(fd, block)
      bytes += block.length
      lines += BLOCK_LINES
    }
  } finally {
    NFS.closeSync(fd)
  }
  return { bytes, lines }
}

const here = Path.dirname(fileURLToPath(import.meta.url))

const measure = (reader: Reader, file: string, bytes: number | undefined): Measurement => {
  const args = ["--import", "tsx", Path.join(here, "index.ts"), "--child", reader, "--file", file]
  if (bytes !== undefined) args.push("--bytes", String(bytes))
  const result = ChildProcess.spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 20 })
  if (result.status !== 0) throw new Error(`${reader} exited with ${result.status ?? result.signal}: ${result.stderr}`)
  return JSON.parse(result.stdout) as Measurement
}

const MB = 1024 * 1024

const main = () => {
  const megabytes = Number(values.mb)
  const rounds = Number(values.rounds)
  const naiveMb = Math.min(Number(values["naive-mb"]), megabytes)
  const directory = NFS.mkdtempSync(Path.join(OS.tmpdir(), "fiberkit-bench-files-"))
  const file = Path.join(directory, "lines.txt")
  try {
    const generatedAt = performance.now()
    const generated = generate(file, megabytes)
    console.log(
      `\nGenerated ${(generated.bytes / MB).toFixed(0)} MB, ${generated.lines} lines in ${
        ((performance.now() - generatedAt) / 1000).toFixed(1)
      } s (${file})`
    )

    const best = new Map<Reader, Measurement>()
    const keep = (reader: Reader, m: Measurement) => {
      const previous = best.get(reader)
      // Best round by wall time; peak RSS is the worst seen.
      if (previous === undefined) best.set(reader, m)
      else best.set(reader, { ...(m.ms < previous.ms ? m : previous), peakRss: Math.max(m.peakRss, previous.peakRss) })
    }
    for (let round = 0; round < rounds; round++) {
      for (const reader of ["readline", "Files.lines"] as const) keep(reader, measure(reader, file, undefined))
    }
    // Once: it is the slowest, and it measures the consumer's per-line effect more than the reader.
    keep("Files.lines forEach", measure("Files.lines forEach", file, undefined))
    // The naive pipeline is far slower; it reads a prefix so the run stays short, and
    // is compared to readline over the same prefix.
    const naiveBytes = naiveMb * MB
    const naive = measure("platform splitLines", file, naiveBytes)
    const readlinePrefix = measure("readline", file, naiveBytes)

    const baseline = best.get("readline")
    const ours = best.get("Files.lines")
    const oursForEach = best.get("Files.lines forEach")
    if (baseline === undefined || ours === undefined || oursForEach === undefined) throw new Error("no measurement")
    const mismatch = [ours, oursForEach, baseline].filter((m) => m.lines !== generated.lines || m.chars !== baseline.chars)
    if (mismatch.length > 0 || naive.lines !== readlinePrefix.lines || naive.chars !== readlinePrefix.chars) {
      console.log(`!! line counts disagree: generated ${generated.lines}, readline ${baseline.lines}/${baseline.chars}, ` +
        `Files.lines ${ours.lines}/${ours.chars}; prefix readline ${readlinePrefix.lines}, naive ${naive.lines}`)
    }

    const rows: Array<[string, number, Measurement, Measurement]> = [
      ["node:readline (baseline)", generated.bytes, baseline, baseline],
      ["Files.lines + Stream.runFold", generated.bytes, ours, baseline],
      ["Files.lines + Stream.runForEach (effect/line)", generated.bytes, oursForEach, baseline],
      [`platform decodeText+splitLines (${naiveMb} MB)`, naiveBytes, naive, readlinePrefix]
    ]
    console.log(`\nStreaming lines, best of ${rounds} rounds, each reader in its own process (page-cached file)\n`)
    console.log(
      `${"reader".padEnd(47)}${"lines".padStart(11)}${"s".padStart(7)}${"MB/s".padStart(7)}${"MB/CPU-s".padStart(10)}${
        "peak RSS MB".padStart(13)
      }${"RSS growth MB".padStart(15)}${"speed vs readline".padStart(19)}${"CPU vs readline".padStart(17)}${"RSS vs readline".padStart(17)}`
    )
    for (const [name, bytes, m, base] of rows) {
      const rate = bytes / MB / (m.ms / 1000)
      const baseRate = bytes / MB / (base.ms / 1000)
      const cpuRate = bytes / MB / (m.cpuMs / 1000)
      console.log(
        `${name.padEnd(47)}${String(m.lines).padStart(11)}${(m.ms / 1000).toFixed(2).padStart(7)}${rate.toFixed(0).padStart(7)}${
          cpuRate.toFixed(0).padStart(10)
        }${(m.peakRss / MB).toFixed(0).padStart(13)}${((m.peakRss - m.baseRss) / MB).toFixed(0).padStart(15)}${
          (rate / baseRate).toFixed(2).padStart(18)
        }x${(m.cpuMs / base.cpuMs).toFixed(2).padStart(16)}x${(m.peakRss / base.peakRss).toFixed(2).padStart(16)}x`
      )
    }
    console.log(`\n(the naive row is compared with readline over the same ${naiveMb} MB prefix: ` +
      `${(readlinePrefix.ms / 1000).toFixed(2)} s, peak RSS ${(readlinePrefix.peakRss / MB).toFixed(0)} MB)`)
    console.log(`target: Files.lines >= 1.0x readline throughput (runFold), peak RSS flat in the file size`)
  } finally {
    NFS.rmSync(directory, { recursive: true, force: true })
  }
}

if (values.child !== undefined) {
  const reader = values.child as Reader
  const file = values.file
  if (file === undefined || !(reader in readers)) {
    console.error(`--child needs one of ${Object.keys(readers).join(", ")} and --file`)
    process.exit(2)
  }
  runChild(reader, file, values.bytes === undefined ? undefined : Number(values.bytes)).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
} else {
  try {
    main()
  } catch (error) {
    console.error(error)
    process.exitCode = 1
  }
}
