/**
 * Crawl throughput and memory: our crawler against Crawlee's CheerioCrawler
 * and a ceiling, crawling the same synthetic site served by a separate
 * process on loopback, at server latencies of 0 and 20 ms; then the 1M-URL
 * frontier check (`frontier.ts`).
 *
 * Subjects (each a script in this directory):
 *
 * - `ceiling`: undici `request` of the ground-truth URL list at the same
 *   concurrency + htmlparser2 extraction, no frontier, no storage: what any
 *   crawler could at best do here;
 * - `crawlee`: Crawlee 3.18 `CheerioCrawler` (a peer from `bench/peers`),
 *   robots.txt respected, its default persisted request queue;
 * - `ours`: `apps/crawler`'s CLI, SQLite frontier, durability on;
 * - `crawlee-memory` (not run by default): Crawlee with
 *   `CRAWLEE_PERSIST_STORAGE=false`, to show what its persistence costs.
 *
 * All crawl from `/` with global and per-host concurrency 32 (Crawlee has no
 * per-host limit; with one host its global limit is the same thing), the
 * same depth limit, and write title + links per page to JSONL. The site is
 * the "plain" one described in `site.ts` (robots.txt and every link style
 * on; redirects, variants, assets, broken links, search pages, sitemaps and
 * the trap off), so every request beyond robots.txt is one expected page.
 * After each run the JSONL is checked against the ground truth: every
 * expected page once, with its title (the `check` column says what is off).
 *
 * Each subject runs in its own child process, pinned to the CPUs the server
 * does not use (with `taskset`; the server gets the last CPU), with
 * `probe.ts` preloaded: peak RSS is the kernel's high-water mark of that
 * process, CPU is its user + system time, and the crawl time runs from its
 * first outbound connection to its exit (module loading and setup, shown as
 * `start s`, are left out; flushing and closing are in). pages/s = distinct
 * expected pages found / crawl time. One run per subject (Crawlee alone takes
 * over a minute per latency on this site); ratios are to the ceiling and to
 * Crawlee in the same run. Never fails the build: a subject that cannot run
 * is reported as skipped or failed and the others still run.
 *
 *   tsx bench/crawl/index.ts [--pages 10000] [--page-kb 30] [--latency 0,20] [--concurrency 32]
 *     [--subjects ceiling,crawlee,ours,frontier] [--frontier-urls 1000000] [--timeout 300]
 *
 * With `--workers 1,2,3` it runs the scale-out benchmark instead (`workers.ts`:
 * that many worker processes on PostgreSQL, latency-bound, then one worker at
 * full speed on PostgreSQL against SQLite); `--pages`, `--page-kb`,
 * `--latency` and `--concurrency` then default to 2000, 10, 100 and 4.
 */
import * as ChildProcess from "node:child_process"
import * as FS from "node:fs"
import * as OS from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import type { SyntheticSite } from "@fiberkit/testkit"
import { Agent } from "undici"
import type { Report } from "./probe.js"
import * as Site from "./site.js"
import * as Workers from "./workers.js"

const { values } = parseArgs({
  options: {
    pages: { type: "string", default: "10000" },
    "page-kb": { type: "string", default: "30" },
    latency: { type: "string", default: "0,20" },
    concurrency: { type: "string", default: "32" },
    subjects: { type: "string", default: "ceiling,crawlee,ours,frontier" },
    "frontier-urls": { type: "string", default: "1000000" },
    timeout: { type: "string", default: "300" },
    workers: { type: "string" }
  }
})
const scaleOut = values.workers === undefined ? undefined : (() => {
  // The scale-out benchmark's own defaults for the flags it shares (see workers.ts).
  const given = (name: string) => process.argv.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`))
  return Workers.settingsFrom({
    workers: values.workers,
    pages: given("pages") ? values.pages : undefined,
    "page-kb": given("page-kb") ? values["page-kb"] : undefined,
    latency: given("latency") ? values.latency : undefined,
    concurrency: given("concurrency") ? values.concurrency : undefined,
    timeout: values.timeout
  })
})()
const PAGES = Number(values.pages)
const PAGE_KB = Number(values["page-kb"])
const LATENCIES = values.latency.split(",").map(Number)
const CONCURRENCY = Number(values.concurrency)
const SELECTED = new Set(values.subjects.split(",").map((s) => s.trim()))
const TIMEOUT_MS = Number(values.timeout) * 1000

const here = Path.dirname(fileURLToPath(import.meta.url))
const root = Path.resolve(here, "../..")
const probe = Path.join(here, "probe.ts")

const cpus = OS.availableParallelism()
const hasTaskset = cpus > 1 && ChildProcess.spawnSync("taskset", ["-p", String(process.pid)]).status === 0
const serverCpu = String(cpus - 1)
const clientCpus = cpus > 2 ? `0-${cpus - 2}` : "0"
const pinned = (cpuList: string, command: ReadonlyArray<string>): Array<string> =>
  hasTaskset ? ["taskset", "-c", cpuList, ...command] : [...command]

// ---------------------------------------------------------------------------
// Subjects
// ---------------------------------------------------------------------------

interface RunContext {
  readonly url: string
  readonly out: string
  /** An empty directory of this run, deleted afterwards. */
  readonly scratch: string
  /** The expected paths, one a line. */
  readonly list: string
}

interface Subject {
  readonly name: string
  readonly label: string
  readonly script: string
  readonly args: (ctx: RunContext) => ReadonlyArray<string>
  readonly env: (ctx: RunContext) => Readonly<Record<string, string>>
  /** Node flags the subject runs with (ours: those of `npm run crawl`). */
  readonly nodeFlags?: ReadonlyArray<string>
}

/**
 * The Node flags `npm run crawl` gives the crawler: a heap cap. The crawl's
 * live heap is bounded (the frontier is in SQL); without a cap V8 on a large
 * machine collects lazily and lets RSS grow with garbage.
 */
const CRAWLER_NODE_FLAGS = ["--max-old-space-size=512"]

const none = (): Readonly<Record<string, string>> => ({})

const crawleeStorage = (ctx: RunContext) => ({ CRAWLEE_STORAGE_DIR: Path.join(ctx.scratch, "storage") })

const subjects: ReadonlyArray<Subject> = [
  {
    name: "ceiling",
    label: "ceiling (undici + htmlparser2, URL list)",
    script: "ceiling.ts",
    args: (ctx) => ["--list", ctx.list],
    env: none
  },
  {
    name: "crawlee",
    label: "Crawlee 3.18 CheerioCrawler",
    script: "crawlee.ts",
    args: () => ["--max-depth", String(Site.maxDepth)],
    env: crawleeStorage
  },
  {
    name: "crawlee-memory",
    label: "Crawlee, storage not persisted",
    script: "crawlee.ts",
    args: () => ["--max-depth", String(Site.maxDepth)],
    env: (ctx) => ({ ...crawleeStorage(ctx), CRAWLEE_PERSIST_STORAGE: "false" })
  },
  {
    name: "ours",
    label: "@fiberkit/crawler (SQLite, fsync/commit)",
    script: "ours.ts",
    args: (ctx) => ["--db-dir", ctx.scratch, "--max-depth", String(Site.maxDepth)],
    env: none,
    nodeFlags: CRAWLER_NODE_FLAGS
  }
]

// ---------------------------------------------------------------------------
// Checking the output against the ground truth
// ---------------------------------------------------------------------------

interface Check {
  /** Distinct expected pages with a 2xx status and the right title. */
  readonly found: number
  readonly missing: number
  readonly duplicates: number
  /** Lines for URLs that are not expected pages. */
  readonly extra: number
  readonly badTitles: number
  /** Lines without a 2xx status. */
  readonly errors: number
}

const field = (record: Record<string, unknown>, name: string): unknown => record[name]
const text = (value: unknown): string | null => (typeof value === "string" ? value : null)

const check = (file: string, site: SyntheticSite.Site, expected: ReadonlySet<string>): Check => {
  const seen = new Set<string>()
  let duplicates = 0
  let extra = 0
  let badTitles = 0
  let errors = 0
  const content = FS.existsSync(file) ? FS.readFileSync(file, "utf8") : ""
  for (const line of content.split("\n")) {
    if (line.trim().length === 0) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      errors++
      continue
    }
    if (typeof parsed !== "object" || parsed === null) {
      errors++
      continue
    }
    const record = parsed as Record<string, unknown>
    // Our records carry the URL after redirects in `final_url`; the others' `url` is that already.
    const url = text(field(record, "final_url")) ?? text(field(record, "url"))
    const status = field(record, "status")
    if (url === null || typeof status !== "number" || status < 200 || status > 299) {
      errors++
      continue
    }
    let path: string
    try {
      const parsedUrl = new URL(url)
      path = parsedUrl.pathname + parsedUrl.search
    } catch {
      errors++
      continue
    }
    if (!expected.has(path)) {
      extra++
      continue
    }
    if (seen.has(path)) {
      duplicates++
      continue
    }
    seen.add(path)
    if (text(field(record, "title")) !== site.groundTruth.page(path)?.title) badTitles++
  }
  return { found: seen.size - badTitles, missing: expected.size - seen.size, duplicates, extra, badTitles, errors }
}

const describeCheck = (c: Check): string => {
  const issues = [
    c.missing > 0 ? `missed ${c.missing}` : "",
    c.duplicates > 0 ? `${c.duplicates} dup` : "",
    c.extra > 0 ? `${c.extra} extra` : "",
    c.badTitles > 0 ? `${c.badTitles} bad title` : "",
    c.errors > 0 ? `${c.errors} errors` : ""
  ].filter((s) => s.length > 0)
  return issues.length === 0 ? "ok" : `WARNING: ${issues.join(", ")}`
}

// ---------------------------------------------------------------------------
// Running things
// ---------------------------------------------------------------------------

type Outcome =
  | { readonly _tag: "Measured"; readonly report: Report; readonly check: Check }
  | { readonly _tag: "NotRun"; readonly reason: string }

/** The last `n` characters of a growing string, for error messages. */
const tail = (previous: string, chunk: Buffer, n = 8192): string => (previous + chunk.toString()).slice(-n)

const lastLine = (s: string): string =>
  s.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? ""

const runSubject = (subject: Subject, ctx: RunContext, site: SyntheticSite.Site, expected: ReadonlySet<string>) =>
  new Promise<Outcome>((resolve) => {
    const probeFile = Path.join(ctx.scratch, "probe.json")
    const node = [
      process.execPath,
      ...(subject.nodeFlags ?? []),
      "--import",
      "tsx",
      "--import",
      probe,
      Path.join(here, subject.script),
      "--url",
      ctx.url,
      "--out",
      ctx.out,
      "--concurrency",
      String(CONCURRENCY),
      ...subject.args(ctx)
    ]
    const [command, ...args] = pinned(clientCpus, node)
    const child = ChildProcess.spawn(command ?? process.execPath, args, {
      cwd: root,
      env: { ...process.env, ...subject.env(ctx), CRAWL_BENCH_PROBE: probeFile },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout = tail(stdout, chunk)
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = tail(stderr, chunk)
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, TIMEOUT_MS)
    child.once("error", (error) => {
      clearTimeout(timer)
      resolve({ _tag: "NotRun", reason: `failed: cannot start: ${error.message}` })
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      if (timedOut) return resolve({ _tag: "NotRun", reason: `failed: timed out after ${TIMEOUT_MS / 1000} s` })
      const skipped = stderr.split("\n").find((l) => l.startsWith("skipped: "))
      if (code === 3 && skipped !== undefined) return resolve({ _tag: "NotRun", reason: skipped })
      if (code !== 0) {
        const detail = lastLine(stderr) || lastLine(stdout)
        return resolve({ _tag: "NotRun", reason: `failed: exit ${code ?? signal}${detail ? `: ${detail}` : ""}` })
      }
      if (!FS.existsSync(probeFile)) return resolve({ _tag: "NotRun", reason: "failed: the probe wrote no report" })
      const report = JSON.parse(FS.readFileSync(probeFile, "utf8")) as Report
      if (report.firstConnectMs === null) return resolve({ _tag: "NotRun", reason: "failed: made no connection" })
      resolve({ _tag: "Measured", report, check: check(ctx.out, site, expected) })
    })
  })

type Server = Site.Server

const startSite = (shape: Site.Shape): Promise<Server> => Site.start(shape, (node) => pinned(serverCpu, node))

/** Fetches some pages first, so the server's code is warm before the first subject measures it. */
const warmUp = async (url: string, paths: ReadonlyArray<string>): Promise<void> => {
  const agent = new Agent({ connections: CONCURRENCY })
  const origin = new URL(url).origin
  const list = ["/robots.txt", ...paths.slice(0, 1000)]
  let next = 0
  const worker = async () => {
    while (next < list.length) {
      const path = list[next++] ?? "/"
      const response = await agent.request({ origin, path, method: "GET" })
      await response.body.dump()
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await agent.close()
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const mb = (bytes: number): number => bytes / 1024 / 1024
const pad = (s: string, n: number): string => s.padStart(n)
const fixed = (n: number | undefined, digits: number): string => (n === undefined ? "-" : n.toFixed(digits))
const ratio = (a: number | undefined, b: number | undefined): string => {
  const q = quotient(a, b)
  return q === undefined ? "-" : `${q.toFixed(2)}x`
}

interface Row {
  readonly subject: Subject
  readonly outcome: Outcome
}

const crawlSeconds = (r: Report): number => (r.exitMs - (r.firstConnectMs ?? 0)) / 1000

/** A figure of a measured outcome; `undefined` for a subject that did not run. */
const figure = (o: Outcome | undefined, f: (measured: Extract<Outcome, { _tag: "Measured" }>) => number) =>
  o?._tag === "Measured" ? f(o) : undefined
const pagesPerSecond = (o: Outcome | undefined): number | undefined =>
  figure(o, (m) => m.check.found / crawlSeconds(m.report))
const rss = (o: Outcome | undefined): number | undefined => figure(o, (m) => m.report.peakRssBytes)
const cpu = (o: Outcome | undefined): number | undefined => figure(o, (m) => m.report.cpuSeconds)
const quotient = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

const printTable = (shape: Site.Shape, expectedCount: number, rows: ReadonlyArray<Row>): void => {
  const find = (name: string) => rows.find((r) => r.subject.name === name)?.outcome
  const ceiling = find("ceiling")
  const crawlee = find("crawlee")
  console.log(
    `\nCrawl from / of a synthetic site on loopback: ${expectedCount.toLocaleString("en-US")} pages reachable politely of ${
      shape.pages.toLocaleString("en-US")
    } (~${shape.pageKb} KB each), server latency ${shape.latencyMs} ms, in its own process${
      hasTaskset ? ` on CPU ${serverCpu}, crawlers on CPU ${clientCpus}` : ""
    }; concurrency ${CONCURRENCY}, per host ${CONCURRENCY}\n`
  )
  console.log(
    `${"subject".padEnd(40)}${pad("pages/s", 9)}${pad("/ceil", 8)}${pad("/Crawlee", 9)}${pad("RSS MB", 8)}${
      pad("/Crawlee", 9)
    }${pad("CPU s", 7)}${pad("/Crawlee", 9)}${pad("crawl s", 9)}${pad("start s", 9)}  check`
  )
  for (const { outcome, subject } of rows) {
    if (outcome._tag === "NotRun") {
      console.log(`${subject.label.padEnd(40)}${outcome.reason}`)
      continue
    }
    const r = outcome.report
    console.log(
      `${subject.label.padEnd(40)}${pad(fixed(pagesPerSecond(outcome), 0), 9)}${
        pad(ratio(pagesPerSecond(outcome), pagesPerSecond(ceiling)), 8)
      }${pad(ratio(pagesPerSecond(outcome), pagesPerSecond(crawlee)), 9)}${pad(fixed(mb(r.peakRssBytes), 0), 8)}${
        pad(ratio(r.peakRssBytes, rss(crawlee)), 9)
      }${pad(fixed(r.cpuSeconds, 1), 7)}${pad(ratio(r.cpuSeconds, cpu(crawlee)), 9)}${
        pad(fixed(crawlSeconds(r), 1), 9)
      }${pad(fixed((r.firstConnectMs ?? 0) / 1000, 1), 9)}  ${describeCheck(outcome.check)}`
    )
  }
  console.log("")
  for (const { outcome, subject } of rows) {
    if (outcome._tag !== "Measured") continue
    const r = outcome.report
    const notes = Object.entries(r.notes).map(([k, v]) =>
      `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`
    )
    console.log(
      `  ${subject.name}: V8 heap in use peaked at ${fixed(mb(r.peakHeapUsedBytes), 0)} MB, external ${
        fixed(mb(r.peakExternalBytes), 0)
      } MB${notes.length > 0 ? `; ${notes.join(", ")}` : ""}`
    )
  }
  const ours = find("ours")
  if (ours?._tag === "Measured") {
    const target = (label: string, q: number | undefined, ok: (q: number) => boolean) =>
      `${label}: ${q === undefined ? "n/a" : `${q.toFixed(2)}x ${ok(q) ? "met" : "NOT met"}`}`
    console.log(
      `\ntargets (ours): ${
        [
          target(">= 0.60x ceiling pages/s", quotient(pagesPerSecond(ours), pagesPerSecond(ceiling)), (q) => q >= 0.6),
          target(">= 4x Crawlee pages/s", quotient(pagesPerSecond(ours), pagesPerSecond(crawlee)), (q) => q >= 4),
          target("<= 0.25x Crawlee peak RSS", quotient(rss(ours), rss(crawlee)), (q) => q <= 0.25)
        ].join("; ")
      }`
    )
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const benchLatency = async (latencyMs: number, tmp: string): Promise<void> => {
  const shape: Site.Shape = { pages: PAGES, pageKb: PAGE_KB, latencyMs }
  const site = Site.make(shape)
  const paths = Site.expectedPaths(site)
  const expected = new Set(paths)
  const list = Path.join(tmp, `expected-${latencyMs}.txt`)
  FS.writeFileSync(list, paths.join("\n") + "\n")
  const server = await startSite(shape)
  const rows: Array<Row> = []
  try {
    await warmUp(server.url, paths)
    for (const subject of subjects) {
      if (!SELECTED.has(subject.name)) continue
      const scratch = FS.mkdtempSync(Path.join(tmp, `${subject.name}-${latencyMs}-`))
      const ctx: RunContext = { url: server.url, out: Path.join(scratch, "pages.jsonl"), scratch, list }
      process.stdout.write(`  ${subject.name} at ${latencyMs} ms … `)
      const outcome = await runSubject(subject, ctx, site, expected)
      process.stdout.write(
        outcome._tag === "Measured"
          ? `${crawlSeconds(outcome.report).toFixed(1)} s\n`
          : `${outcome.reason}\n`
      )
      rows.push({ subject, outcome })
      FS.rmSync(scratch, { recursive: true, force: true })
    }
  } finally {
    await server.stop()
  }
  printTable(shape, paths.length, rows)
}

const runFrontier = (): void => {
  console.log(`\nFrontier check: ${Number(values["frontier-urls"]).toLocaleString("en-US")} discovered URLs in SQLite`)
  const node = [process.execPath, ...CRAWLER_NODE_FLAGS, "--import", "tsx", Path.join(here, "frontier.ts"), "--urls", values["frontier-urls"]]
  const [command, ...args] = pinned(clientCpus, node)
  const result = ChildProcess.spawnSync(command ?? process.execPath, args, {
    cwd: root,
    stdio: "inherit",
    timeout: TIMEOUT_MS
  })
  if (result.status !== 0) console.log(`frontier: failed: exit ${result.status ?? result.signal}`)
}

const main = async () => {
  if (scaleOut !== undefined) return Workers.run(scaleOut)
  if (hasTaskset) ChildProcess.spawnSync("taskset", ["-p", "-c", clientCpus, String(process.pid)])
  const unknown = [...SELECTED].filter((s) => s !== "frontier" && !subjects.some((x) => x.name === s))
  if (unknown.length > 0) console.log(`(unknown subjects ignored: ${unknown.join(", ")})`)
  const tmp = FS.mkdtempSync(Path.join(OS.tmpdir(), "crawl-bench-"))
  try {
    if (subjects.some((s) => SELECTED.has(s.name))) {
      for (const latencyMs of LATENCIES) await benchLatency(latencyMs, tmp)
    }
    if (SELECTED.has("frontier")) runFrontier()
  } finally {
    FS.rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
