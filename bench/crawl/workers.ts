/**
 * Scale-out of the crawler on PostgreSQL: pages/s of 1, 2, 3… worker
 * processes crawling one crawl together, in a latency-bound setting (every
 * reply takes 100 ms, 4 requests in flight per worker, a per-host limit high
 * enough never to bind), so the figure measures coordination, not this
 * machine's cores. Then one worker at full speed (no latency, concurrency
 * 32) on PostgreSQL against SQLite.
 *
 * Each run crawls the benchmark's "plain" synthetic site (see `site.ts`),
 * served by its own process, into a fresh Postgres schema (or SQLite file):
 *
 * - scale-out: the crawl is created in the database (start URL and options,
 *   as `crawl <url>` would store them), then N `crawl worker` processes
 *   start together and crawl it; pages/s = pages stored / (last fetch −
 *   first fetch), from the database, so process start-up is left out;
 * - full speed: one `crawl <url>` process, pages/s the same way.
 *
 * The result is checked against the ground truth: every expected page
 * stored once (the `check` column).
 *
 *   tsx bench/crawl/workers.ts [--workers 1,2,3] [--pages 2000] [--page-kb 10] [--latency 100]
 *     [--concurrency 4] [--full-pages 5000] [--db postgres://postgres@127.0.0.1:5432/test]
 *
 * or through the crawl benchmark: `tsx bench/crawl/index.ts --workers 1,2,3`.
 */
import { Db } from "@fiberkit/core"
import { Frontier, Options, Url } from "@fiberkit/crawler"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as FS from "node:fs"
import * as OS from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import * as Site from "./site.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const root = Path.resolve(here, "../..")
const bin = Path.join(root, "apps/crawler/src/bin/crawl.ts")

/** What the scale-out benchmark varies. */
export interface Settings {
  readonly workers: ReadonlyArray<number>
  readonly pages: number
  readonly pageKb: number
  readonly latencyMs: number
  readonly concurrency: number
  readonly fullPages: number
  readonly db: string
  readonly timeoutMs: number
}

const startSite = (shape: Site.Shape): Promise<Site.Server> => Site.start(shape)

interface Exit {
  readonly code: number | null
  readonly stderr: string
}

const crawl = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<Exit> =>
  new Promise((resolve) => {
    const child = ChildProcess.spawn(process.execPath, ["--max-old-space-size=512", "--import", "tsx", bin, ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: "", ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })

const lastLine = (s: string): string => s.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? ""

interface Measured {
  readonly pages: number
  readonly seconds: number
  readonly check: string
}

/** Pages stored after `afterSeq`, their fetch span, and how they compare with the ground truth. */
const measure = (input: Db.Input, expected: ReadonlySet<string>, afterSeq: number): Promise<Measured> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const db = yield* Db.make({ ...input, app: "crawl", poolMetricsInterval: 0 })
    const [span] = yield* db.typed(db.sql<{ readonly n: number | string; readonly lo: number | string | null; readonly hi: number | string | null }>`
      SELECT count(*) AS n, min(fetched_ms) AS lo, max(fetched_ms) AS hi FROM pages WHERE seq > ${afterSeq}`)
    const rows = yield* db.typed(db.sql<{ readonly final_url: string | null; readonly url: string; readonly status: number | null }>`
      SELECT final_url, url, status FROM pages`)
    const found = new Map<string, number>()
    for (const r of rows) {
      if (r.status === null || r.status < 200 || r.status > 299) continue
      const u = new URL(r.final_url ?? r.url)
      const path = u.pathname + u.search
      found.set(path, (found.get(path) ?? 0) + 1)
    }
    let missing = 0
    for (const path of expected) if (!found.has(path)) missing++
    const duplicates = [...found.values()].filter((n) => n > 1).length
    const extra = [...found.keys()].filter((p) => !expected.has(p)).length
    const issues = [missing > 0 ? `missed ${missing}` : "", duplicates > 0 ? `${duplicates} dup` : "", extra > 0 ? `${extra} extra` : ""]
      .filter((s) => s !== "")
    return {
      pages: Number(span?.n ?? 0),
      seconds: (Number(span?.hi ?? 0) - Number(span?.lo ?? 0)) / 1000,
      check: issues.length === 0 ? "ok" : `WARNING: ${issues.join(", ")}`
    }
  })).pipe(Effect.orDie))

const admin = (url: string, statement: string): Promise<void> =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(
    Db.make({ app: "crawl", url, maxConnections: 1, poolMetricsInterval: 0 }),
    (db) => db.typed(db.sql.unsafe(statement))
  )).pipe(Effect.asVoid, Effect.orDie))

type Row = { readonly label: string } & ({ readonly _tag: "ok"; readonly m: Measured } | { readonly _tag: "failed"; readonly reason: string })

/** Creates the crawl of `url` in `input` with the options `crawl <url> …` would store, fetching nothing. */
const seed = (input: Db.Input, url: string, concurrency: number): Promise<void> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const db = yield* Db.make({ ...input, app: "crawl", poolMetricsInterval: 0 })
    const frontier = yield* Effect.provideService(Frontier.make, Db.Db, db)
    const options = Either.getOrThrow(Options.make({ seeds: [url], concurrency, perHost: 64, maxDepth: Site.maxDepth, progress: false }))
    const start = Either.getOrThrow(Url.normalize(url))
    yield* frontier.init({
      seeds: [{ key: start.href, url: start.href, host: start.host }],
      options: { ...options, saveBodies: null }
    })
  })).pipe(Effect.orDie))

/** One scale-out run: the crawl created, then `n` workers together. */
const scaleOut = async (s: Settings, url: string, expected: ReadonlySet<string>, n: number): Promise<Row> => {
  const schema = `bench_workers_${n}_${process.pid}`
  await admin(s.db, `DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  const env = { DB_SCHEMA: schema }
  const label = `${n} worker${n > 1 ? "s" : ""}`
  try {
    await seed({ url: s.db, schema }, url, s.concurrency)
    const runs = await Promise.all(
      Array.from({ length: n }, () => crawl(["worker", "--db", s.db, "--no-progress"], env, s.timeoutMs))
    )
    const bad = runs.find((r) => r.code !== 0)
    if (bad !== undefined) return { label, _tag: "failed", reason: `a worker exited ${bad.code}: ${lastLine(bad.stderr)}` }
    return { label, _tag: "ok", m: await measure({ url: s.db, schema }, expected, 0) }
  } finally {
    await admin(s.db, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  }
}

/** One worker at full speed on `target` (a Postgres URL or a SQLite file). */
const fullSpeed = async (s: Settings, url: string, expected: ReadonlySet<string>, dialect: "pg" | "sqlite"): Promise<Row> => {
  const schema = `bench_full_${process.pid}`
  const dir = FS.mkdtempSync(Path.join(OS.tmpdir(), "crawl-bench-workers-"))
  const file = Path.join(dir, "crawl.db")
  const label = dialect === "pg" ? "1 worker, PostgreSQL" : "1 worker, SQLite"
  if (dialect === "pg") await admin(s.db, `DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
  try {
    const ran = await crawl(
      [url, "--db", dialect === "pg" ? s.db : file, "--concurrency", "32", "--per-host", "32", "--max-depth", String(Site.maxDepth), "--no-progress"],
      dialect === "pg" ? { DB_SCHEMA: schema } : {},
      s.timeoutMs
    )
    if (ran.code !== 0) return { label, _tag: "failed", reason: `exited ${ran.code}: ${lastLine(ran.stderr)}` }
    return { label, _tag: "ok", m: await measure(dialect === "pg" ? { url: s.db, schema } : { filename: file }, expected, 0) }
  } finally {
    if (dialect === "pg") await admin(s.db, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    FS.rmSync(dir, { recursive: true, force: true })
  }
}

const rate = (r: Row): number | undefined => (r._tag === "ok" && r.m.seconds > 0 ? r.m.pages / r.m.seconds : undefined)

const print = (title: string, rows: ReadonlyArray<Row>, base: Row | undefined): void => {
  console.log(`\n${title}\n`)
  console.log(`${"run".padEnd(26)}${"pages".padStart(7)}${"crawl s".padStart(9)}${"pages/s".padStart(9)}${"ratio".padStart(8)}  check`)
  const b = base === undefined ? undefined : rate(base)
  for (const r of rows) {
    if (r._tag === "failed") {
      console.log(`${r.label.padEnd(26)}failed: ${r.reason}`)
      continue
    }
    const pps = rate(r)
    console.log(
      `${r.label.padEnd(26)}${String(r.m.pages).padStart(7)}${r.m.seconds.toFixed(1).padStart(9)}${(pps ?? 0).toFixed(1).padStart(9)}${
        (pps !== undefined && b !== undefined ? `${(pps / b).toFixed(2)}x` : "-").padStart(8)
      }  ${r.m.check}`
    )
  }
}

/**
 * Runs both parts and prints their tables.
 *
 * @internal
 */
export const run = async (s: Settings): Promise<void> => {
  const reachable = await admin(s.db, "SELECT 1").then(() => undefined, (e: unknown) => String(e))
  if (reachable !== undefined) {
    console.log(`\nworkers: skipped: PostgreSQL at ${s.db} does not answer (${reachable})`)
    return
  }
  // Scale-out, latency-bound.
  const shape: Site.Shape = { pages: s.pages, pageKb: s.pageKb, latencyMs: s.latencyMs }
  const site = Site.make(shape)
  const expected = new Set(Site.expectedPaths(site))
  let server = await startSite(shape)
  const rows: Array<Row> = []
  try {
    for (const n of s.workers) {
      process.stdout.write(`  ${n} worker(s) … `)
      const row = await scaleOut(s, server.url, expected, n)
      process.stdout.write(row._tag === "ok" ? `${row.m.seconds.toFixed(1)} s\n` : `${row.reason}\n`)
      rows.push(row)
    }
  } finally {
    await server.stop()
  }
  print(
    `Scale-out on PostgreSQL: ${expected.size} pages reachable politely (~${s.pageKb} KB each), server latency ${s.latencyMs} ms, ` +
      `concurrency ${s.concurrency} per worker, per-host limit 64 (not binding); ${OS.availableParallelism()} CPUs`,
    rows,
    rows.find((r) => r.label === "1 worker")
  )
  const one = rows.find((r) => r.label === "1 worker")
  const three = rows.find((r) => r.label === "3 workers")
  if (one !== undefined && three !== undefined) {
    const q = (rate(three) ?? 0) / (rate(one) ?? Number.POSITIVE_INFINITY)
    console.log(`\ntarget: 3 workers >= 2.5x one worker: ${q.toFixed(2)}x ${q >= 2.5 ? "met" : "NOT met"}`)
  }

  // One worker at full speed: Postgres against SQLite.
  const fullShape: Site.Shape = { pages: s.fullPages, pageKb: 30, latencyMs: 0 }
  const fullSite = Site.make(fullShape)
  const fullExpected = new Set(Site.expectedPaths(fullSite))
  server = await startSite(fullShape)
  const full: Array<Row> = []
  try {
    for (const dialect of ["sqlite", "pg"] as const) {
      process.stdout.write(`  full speed, ${dialect} … `)
      const row = await fullSpeed(s, server.url, fullExpected, dialect)
      process.stdout.write(row._tag === "ok" ? `${row.m.seconds.toFixed(1)} s\n` : `${row.reason}\n`)
      full.push(row)
    }
  } finally {
    await server.stop()
  }
  print(
    `One worker at full speed: ${fullExpected.size} pages (~30 KB each), no latency, concurrency 32, per host 32`,
    full,
    full[0]
  )
}

/** The settings from command-line flags (shared with `index.ts`). @internal */
export const settingsFrom = (values: {
  readonly workers?: string | undefined
  readonly pages?: string | undefined
  readonly "page-kb"?: string | undefined
  readonly latency?: string | undefined
  readonly concurrency?: string | undefined
  readonly "full-pages"?: string | undefined
  readonly db?: string | undefined
  readonly timeout?: string | undefined
}): Settings => ({
  workers: (values.workers ?? "1,2,3").split(",").map((n) => Number(n.trim())).filter((n) => Number.isInteger(n) && n >= 1),
  pages: Number(values.pages ?? 2000),
  pageKb: Number(values["page-kb"] ?? 10),
  latencyMs: Number(values.latency ?? 100),
  concurrency: Number(values.concurrency ?? 4),
  fullPages: Number(values["full-pages"] ?? 5000),
  db: values.db ?? process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test",
  timeoutMs: Number(values.timeout ?? 300) * 1000
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      workers: { type: "string" },
      pages: { type: "string" },
      "page-kb": { type: "string" },
      latency: { type: "string" },
      concurrency: { type: "string" },
      "full-pages": { type: "string" },
      db: { type: "string" },
      timeout: { type: "string" }
    }
  })
  run(settingsFrom(values)).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
