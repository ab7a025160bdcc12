/**
 * The crawler as users run it, killed with SIGKILL at ten points chosen by a
 * seeded PRNG (set `KILL_SEED` to try others) and resumed each time with
 * `--resume`, on SQLite: the final result equals the site's ground truth and
 * an uninterrupted crawl, every URL is stored once in the database and once
 * in the JSONL output, and the database passes SQLite's integrity check.
 *
 * Kill points are counts of requests the site has received, up to 90% of
 * what an uninterrupted crawl needs, so every kill lands mid-crawl; the
 * site's latency keeps pages in flight (and leases open) at each kill.
 */
import { describe, expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import type { Page } from "@fiberkit/crawler"
import { ChildProcess, SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { crawlFresh, crawlLayer, documents, prng, sqlite, storedRecords } from "./support.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = Path.join(root, "apps/crawler/src/bin/crawl.ts")
const SEED = Number(process.env["KILL_SEED"] ?? 424_242)
const KILLS = 10
const MAX_DEPTH = 5

const start = (args: ReadonlyArray<string>): ChildProcess.Run =>
  ChildProcess.tsx(bin, args, { cwd: root, env: { DATABASE_URL: "" } })

/** `count` distinct whole numbers in [from, to], ascending, from the seeded PRNG. */
const killPoints = (seed: number, count: number, from: number, to: number): ReadonlyArray<number> => {
  const random = prng(seed)
  const points = new Set<number>()
  while (points.size < count) points.add(from + Math.floor(random() * (to - from + 1)))
  return [...points].sort((a, b) => a - b)
}

describe(`SIGKILL at ${KILLS} random points (seed ${SEED})`, () => {
  it.scopedLive("resumed each time: the ground truth, each URL once in the db and the JSONL, an intact database", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make({ seed: 13, pages: 160, pageBytes: 900, latency: 15 })
      const options = { concurrency: 4, perHost: 4, maxDepth: MAX_DEPTH }

      // An uninterrupted crawl, in process: what the killed one must end with, and how many requests it takes.
      const reference = yield* TestServer.make({ routes: site.routes })
      const clean = yield* crawlFresh(sqlite, { seeds: [reference.urlFor("/")], ...options })
      const total = (yield* reference.stats).total
      const expectedDocs = site.groundTruth.expected({ maxDepth: MAX_DEPTH, polite: true })
      expect(documents(clean.records, reference.url)).toEqual(expectedDocs)

      const server = yield* TestServer.make({ routes: site.routes })
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-sigkill-"))
      const db = Path.join(dir, "crawl.db")
      const out = Path.join(dir, "out.jsonl")
      const args = [
        server.urlFor("/"), "--db", db, "--out", out, "--no-progress",
        "--max-depth", String(MAX_DEPTH), "--concurrency", String(options.concurrency), "--per-host", String(options.perHost)
      ]
      const points = killPoints(SEED, KILLS, 5, Math.floor(total * 0.9))
      const started = performance.now()
      for (const [i, point] of points.entries()) {
        const run = start(i === 0 ? args : [...args, "--resume"])
        // Kill once the site has seen `point` requests in all; a run that ends first is a failed premise, not a pass.
        const reached = yield* Effect.raceFirst(
          Effect.as(server.awaitRequests(point), true),
          Effect.as(Effect.promise(() => run.done), false)
        )
        expect(reached, `run ${i + 1} ended before request ${point}`).toBe(true)
        run.child.kill("SIGKILL")
        const ended = yield* Effect.promise(() => run.done)
        expect(ended.signal, ended.stderr).toBe("SIGKILL")
      }
      const last = yield* Effect.promise(() => start([...args, "--resume"]).done)
      expect(last.code, last.stderr).toBe(0)
      const elapsed = performance.now() - started

      const records = yield* storedRecords.pipe(Effect.provide(crawlLayer({ filename: db })))
      expect(documents(records, server.url)).toEqual(expectedDocs)
      // The same URLs, with the same outcomes, as the uninterrupted crawl.
      const outcome = (r: Page.PageRecord, origin: string) => `${r.url.slice(origin.length)} ${r.status} ${r.error_kind}`
      expect(records.map((r) => outcome(r, server.url)).sort()).toEqual(clean.records.map((r) => outcome(r, reference.url)).sort())
      // Zero duplicates in the database…
      const urls = records.map((r) => r.url)
      expect(new Set(urls).size).toBe(urls.length)
      // …and in the JSONL output, which holds each stored record exactly once.
      const lines = Fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Page.PageRecord)
      expect(lines.length).toBe(records.length)
      expect(new Set(lines.map((l) => l.url))).toEqual(new Set(urls))

      const integrity = yield* Effect.scoped(
        Effect.flatMap(Db.make({ filename: db }), (conn) => conn.typed(conn.sql.unsafe<{ integrity_check: string }>("PRAGMA integrity_check")))
      )
      expect(integrity).toEqual([{ integrity_check: "ok" }])

      const requests = (yield* server.stats).total
      console.log(
        `sigkill seed ${SEED}: kills at requests ${points.join(", ")} of ${total}; ${requests} requests in all ` +
          `(${requests - total} repeated after kills), ${records.length} records, ${Math.round(elapsed)} ms`
      )
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 180_000 })
})
