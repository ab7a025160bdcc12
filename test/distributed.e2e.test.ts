/**
 * A distributed crawl the way users run one: three crawler processes on one
 * PostgreSQL database (one seeds the crawl, two join with `crawl worker`)
 * crawl a synthetic site with latency, a Crawl-delay and a per-host cap,
 * and one of them is SIGKILLed mid-crawl. The others take over its work and
 * exit 0 with their summaries:
 *
 * - the stored result is the site's ground truth, each page once;
 * - the server never saw the host over its limits at any instant: never
 *   more requests in flight than the cap (its own counter, and again from
 *   the arrival and completion times of its log), never two request starts
 *   closer than the Crawl-delay;
 * - nothing is left pending or leased; `status` shows the dead worker and
 *   the two that finished; a worker joining the finished crawl exits at
 *   once; `worker` on SQLite is refused with exit code 2.
 *
 * Skipped, with the reason in its name, when Postgres does not answer at
 * 127.0.0.1:5432 (`TEST_DATABASE_URL` overrides), unless REQUIRE_POSTGRES=1.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Db } from "@fiberkit/core"
import { Frontier, type Page, Store, Workers } from "@fiberkit/crawler"
import { ChildProcess, SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = Path.join(root, "apps/crawler/src/bin/crawl.ts")
const postgresUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

const MAX_DEPTH = 6
const PER_HOST = 3
const CRAWL_DELAY_MS = 20

const admin = <A, E>(f: (db: Db.Service) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Db.make({ app: "crawl", url: postgresUrl, maxConnections: 1, poolMetricsInterval: 0, connectTimeout: "3 seconds" }), f))

const probe = await Effect.runPromise(Effect.either(admin((db) => db.typed(db.sql`SELECT 1`))))
const postgresDown: string | undefined = Either.isLeft(probe) ? probe.left.message : undefined
if (postgresDown !== undefined && process.env["REQUIRE_POSTGRES"] === "1") {
  throw new Error(`REQUIRE_POSTGRES=1 but Postgres is unreachable: ${postgresDown}`)
}

/** The crawler CLI as a child process, on the Postgres schema `schema`. */
const start = (args: ReadonlyArray<string>, schema: string): ChildProcess.Run => {
  const run = ChildProcess.tsx(bin, args, { cwd: root, env: { DATABASE_URL: "", DB_SCHEMA: schema } })
  // The server's arrival times are the measure: the crawlers yield the CPU to it.
  if (run.child.pid !== undefined) Os.setPriority(run.child.pid, 10)
  return run
}

const wait = <A>(promise: Promise<A>) => Effect.promise(() => promise)

/** A fresh schema for one test, dropped with the test's scope. */
const freshSchema = Effect.acquireRelease(
  Effect.orDie(Effect.gen(function*() {
    const schema = `dist_${Math.random().toString(36).slice(2, 10)}`
    yield* admin((db) => db.typed(db.sql.unsafe(`CREATE SCHEMA ${schema}`)))
    return schema
  })),
  (schema) => Effect.orDie(admin((db) => db.typed(db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))))
)

/** The documents the stored records stand for (canonical link, else final URL). */
const documents = (records: ReadonlyArray<Page.PageRecord>, origin: string): Array<string> =>
  Array.from(
    new Set(
      records
        .filter((r) => r.status === 200 && r.error_kind === null)
        .map((r) => (r.canonical ?? r.final_url ?? r.url).slice(origin.length))
    )
  ).sort()

/**
 * Waits until the worker process `pid` holds leases and has done pages (its
 * claims carry its worker id), and returns how many leases it holds.
 */
const victimLeases = (schema: string, pid: number) =>
  Effect.scoped(Effect.gen(function*() {
    const db = yield* Effect.orDie(Db.make({ app: "crawl", url: postgresUrl, schema, maxConnections: 1, poolMetricsInterval: 0 }))
    const count = Effect.orDie(db.typed(db.sql<{ readonly leased: number | string; readonly done: number | string }>`
      SELECT
        (SELECT count(*) FROM urls u WHERE u.state = 'leased' AND u.lease_token LIKE w.id || '.%') AS leased,
        (SELECT count(*) FROM urls u WHERE u.state = 'done') AS done
      FROM workers w WHERE w.pid = ${pid}`))
    const rows = yield* Effect.repeat(Effect.zipLeft(count, Effect.sleep("20 millis")), {
      until: (rows) => Number(rows[0]?.leased ?? 0) > 0 && Number(rows[0]?.done ?? 0) > 100
    })
    return Number(rows[0]?.leased ?? 0)
  }))

/**
 * When this process's event loop last ran, tick by tick (every ~1 ms). The
 * server stamps a request when its loop gets to it: on a loaded machine the
 * loop may not have run for a while, and the request may have arrived at
 * any time since the loop last ran. `lastRunBefore(t)` is that earliest
 * possible arrival of a request stamped `t`; with a responsive loop it is
 * about `t - 1 ms`.
 */
const loopMonitor = Effect.acquireRelease(
  Effect.sync(() => {
    const ticks: Array<number> = []
    const now = () => performance.timeOrigin + performance.now()
    const timer = setInterval(() => ticks.push(now()), 1)
    const lastRunBefore = (t: number): number => {
      let lo = 0
      let hi = ticks.length - 1
      if (hi < 0 || (ticks[0] ?? 0) >= t) return Number.NEGATIVE_INFINITY
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if ((ticks[mid] ?? 0) < t) lo = mid
        else hi = mid - 1
      }
      return ticks[lo] ?? Number.NEGATIVE_INFINITY
    }
    return { timer, lastRunBefore }
  }),
  ({ timer }) => Effect.sync(() => clearInterval(timer))
)

/**
 * The fewest requests that were certainly in flight together at some
 * instant: each request taken as short as its stamps allow (arrived at its
 * arrival stamp, completed as early as the loop's stall before its
 * completion stamp allows).
 */
const peakConcurrency = (
  log: ReadonlyArray<TestServer.RequestRecord>,
  lastRunBefore: (t: number) => number
): number => {
  const events: Array<[number, number]> = []
  for (const r of log) {
    // A request still pending at the end counts as in flight to the end.
    const completed = r.completedAt === undefined ? Number.POSITIVE_INFINITY : Math.max(r.arrivedAt, lastRunBefore(r.completedAt))
    if (completed <= r.arrivedAt) continue
    events.push([r.arrivedAt, 1])
    events.push([completed, -1])
  }
  // At equal times, completions first: a request that ends as another arrives does not overlap it.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let current = 0
  let peak = 0
  for (const [, delta] of events) {
    current += delta
    peak = Math.max(peak, current)
  }
  return peak
}

const suite = postgresDown === undefined ? describe : describe.skip
const name = postgresDown === undefined
  ? "distributed crawl on Postgres"
  : `distributed crawl on Postgres (skipped: ${postgresDown})`

suite(name, () => {
  it.scopedLive("three workers, one SIGKILLed mid-crawl: the ground truth, each page once, no host over its limits", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const site = SyntheticSite.make({
        seed: 21,
        pages: 260,
        pageBytes: 1200,
        latency: { min: 50, max: 110 },
        crawlDelay: CRAWL_DELAY_MS / 1000
      })
      const monitor = yield* loopMonitor
      const server = yield* TestServer.make({ routes: site.routes })
      const db = ["--db", postgresUrl]
      // A short lease, so that a worker killed on another machine would be found dead within seconds.
      const seeder = start(
        [server.urlFor("/"), ...db, "--max-depth", String(MAX_DEPTH), "--concurrency", "4", "--per-host", String(PER_HOST), "--lease", "6", "--no-progress"],
        schema
      )
      // The crawl exists once its first page was asked for.
      yield* server.awaitRequests(2)
      const victim = start(["worker", ...db, "--no-progress"], schema)
      const other = start(["worker", ...db, "--no-progress"], schema)

      // Mid-crawl, once the victim holds leases (it is fetching) and has committed pages.
      yield* server.awaitRequests(100)
      const held = yield* victimLeases(schema, victim.child.pid ?? -1)
      victim.child.kill("SIGKILL")
      expect(held).toBeGreaterThan(0)
      const killed = yield* wait(victim.done)
      expect(killed.signal).toBe("SIGKILL")

      for (const survivor of [seeder, other]) {
        const ended = yield* wait(survivor.done)
        expect(ended.code, ended.stderr).toBe(0)
        expect(ended.stderr).toMatch(/this run +\d+ pages/)
      }

      const input: Db.Input = { app: "crawl", url: postgresUrl, schema, poolMetricsInterval: 0 }
      const layer = Frontier.layer.pipe(Layer.provideMerge(Db.layerWith(input)), Layer.provideMerge(NodeContext.layer))
      const { records, summary, workers } = yield* Effect.gen(function*() {
        const records = yield* Effect.map(Stream.runCollect(Store.records()), Chunk.toReadonlyArray)
        const summary = yield* Store.summary
        const workers = yield* Workers.list
        return { records, summary, workers }
      }).pipe(Effect.provide(layer), Effect.orDie)

      // Exactly the ground truth, each URL once.
      expect(documents(records, server.url)).toEqual(site.groundTruth.expected({ maxDepth: MAX_DEPTH, polite: true }))
      const urls = records.map((r) => r.url)
      expect(new Set(urls).size).toBe(urls.length)
      expect(summary.urls.pending + summary.urls.leased).toBe(0)

      // The killed one is recorded dead, the others done, each with its part of the pages.
      expect(workers.map((w) => w.state).sort()).toEqual(["dead", "done", "done"])
      expect(workers.filter((w) => w.state === "done").every((w) => w.pages > 0)).toBe(true)

      // The host's limits, as the server saw them.
      const log = yield* server.requests
      expect((yield* server.stats).maxInFlight).toBeLessThanOrEqual(PER_HOST)
      expect(peakConcurrency(log, monitor.lastRunBefore)).toBeLessThanOrEqual(PER_HOST)
      // Request starts (the first robots.txt request comes before anyone knows the Crawl-delay).
      // The workers space their starts by the Crawl-delay (exactly: see Distributed.test.ts); what
      // the server sees also carries the machine's scheduling: with three crawlers and Postgres on
      // few cores, an odd request reaches the server tens of milliseconds after it was sent, and
      // its gap to the next one looks short. So: the rate, in every window of ten Crawl-delays,
      // never above one request per Crawl-delay (plus one: a window may start on a request);
      // and gaps, each taken as the most the two requests can have been apart (the first may
      // have waited for the server's loop, see `loopMonitor`), almost all at least the delay.
      const starts = log.filter((r) => r.path !== "/robots.txt").map((r) => r.arrivedAt).sort((a, b) => a - b)
      expect(starts.length).toBeGreaterThan(200)
      const window = 10 * CRAWL_DELAY_MS
      let busiest = 0
      for (let i = 0, j = 0; i < starts.length; i++) {
        while (j < starts.length && (starts[j] ?? 0) < (starts[i] ?? 0) + window) j++
        busiest = Math.max(busiest, j - i)
      }
      expect(busiest).toBeLessThanOrEqual(11)
      const gaps = starts.slice(1).map((t, i) => t - Math.max(monitor.lastRunBefore(starts[i] ?? 0), (starts[i] ?? 0) - 1000))
      const spaced = gaps.filter((g) => g >= CRAWL_DELAY_MS - 2).length
      expect(spaced / gaps.length).toBeGreaterThanOrEqual(0.9)
      // robots.txt was fetched once: the joined workers read it from the database.
      expect(log.filter((r) => r.path === "/robots.txt").length).toBe(1)

      // status: the crawl's numbers and one row per worker.
      const status = yield* wait(start(["status", ...db], schema).done)
      expect(status.code, status.stderr).toBe(0)
      expect(status.stdout).toMatch(/workers +3: 0 alive/)
      expect(status.stdout.match(/^ {2}[0-9a-f]{12} /gm)?.length).toBe(3)
      expect(status.stdout).toContain(" dead")

      // A worker joining the finished crawl exits at once, saying so.
      const t0 = Date.now()
      const late = yield* wait(start(["worker", ...db, "--no-progress"], schema).done)
      expect(late.code, late.stderr).toBe(0)
      expect(late.stderr).toMatch(/is finished \(\d+ pages\): nothing left to do/)
      expect(Date.now() - t0).toBeLessThan(15_000)
      expect((yield* server.stats).total).toBe(log.length)
    }), { timeout: 90_000 })

  it.live("worker refuses a SQLite database with one line and exit code 2", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-dist-"))
      const ended = yield* wait(start(["worker", "--db", Path.join(dir, "crawl.db")], "public").done)
      expect(ended.code, ended.stderr).toBe(2)
      const lines = ended.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/needs PostgreSQL/)
      // Nothing was created.
      expect(Fs.readdirSync(dir)).toEqual([])
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 30_000 })
})
