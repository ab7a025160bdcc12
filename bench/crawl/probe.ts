/**
 * Measures the process it is preloaded into (`node --import tsx --import
 * probe.ts <subject>`), so every subject of the crawl benchmark, ours
 * included, is measured the same way without changing its code. When the
 * process exits it writes a {@link Report} as JSON to the file named by
 * `CRAWL_BENCH_PROBE`:
 *
 * - peak RSS: the kernel's high-water mark (`getrusage` `ru_maxrss`), exact,
 *   so there is nothing to sample and no peak to miss between samples;
 * - CPU: user + system seconds of the whole process (all threads);
 * - where the memory was: peaks of the V8 heap in use and of memory outside
 *   it (Buffers and other external allocations), sampled every 250 ms, to
 *   tell a heap that holds on to pages from native memory;
 * - when the first outbound TCP connection was opened (the
 *   `net.client.socket` diagnostics channel, which both undici and
 *   `node:http` publish to) and when the process exited, both in ms since the
 *   process started, so the crawl time excludes module loading and setup.
 *
 * Subjects add their own figures with {@link note}.
 */
import * as DiagnosticsChannel from "node:diagnostics_channel"
import * as FS from "node:fs"

/** What the probe writes. */
export interface Report {
  readonly exitCode: number
  /** ms from process start to the first outbound connection; `null` when none was made. */
  readonly firstConnectMs: number | null
  /** ms from process start to exit. */
  readonly exitMs: number
  readonly peakRssBytes: number
  readonly peakHeapUsedBytes: number
  readonly peakExternalBytes: number
  readonly cpuSeconds: number
  readonly notes: Readonly<Record<string, unknown>>
}

// A symbol on globalThis: the subject may load this module under another URL than `--import` did.
const notesKey = Symbol.for("fiberkit.bench.crawl.notes")

const notes = (): Record<string, unknown> => {
  const holder = globalThis as { [notesKey]?: Record<string, unknown> }
  const existing = holder[notesKey]
  if (existing !== undefined) return existing
  const created: Record<string, unknown> = {}
  holder[notesKey] = created
  return created
}

/** Adds a figure to the report (JSON-serializable). */
export const note = (key: string, value: unknown): void => {
  notes()[key] = value
}

const target = process.env.CRAWL_BENCH_PROBE
const installedKey = Symbol.for("fiberkit.bench.crawl.probe")
const installed = globalThis as { [installedKey]?: boolean }

if (target !== undefined && installed[installedKey] !== true) {
  installed[installedKey] = true
  let firstConnectMs: number | null = null
  const onSocket = (): void => {
    if (firstConnectMs === null) firstConnectMs = performance.now()
  }
  DiagnosticsChannel.subscribe("net.client.socket", onSocket)
  let peakHeapUsedBytes = 0
  let peakExternalBytes = 0
  const sample = (): void => {
    const memory = process.memoryUsage()
    if (memory.heapUsed > peakHeapUsedBytes) peakHeapUsedBytes = memory.heapUsed
    if (memory.external > peakExternalBytes) peakExternalBytes = memory.external
  }
  setInterval(sample, 250).unref()
  process.on("exit", (exitCode) => {
    sample()
    const usage = process.resourceUsage()
    const report: Report = {
      exitCode,
      firstConnectMs,
      exitMs: performance.now(),
      // ru_maxrss is in KiB on Linux.
      peakRssBytes: usage.maxRSS * 1024,
      peakHeapUsedBytes,
      peakExternalBytes,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      notes: notes()
    }
    FS.writeFileSync(target, JSON.stringify(report))
  })
}
