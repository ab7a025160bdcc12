/**
 * The crawler as a separate process, the way users run it: killed with
 * SIGKILL at several points and resumed, the result is the site's ground
 * truth with every page stored once (in the database and in the JSONL
 * output); stopped with SIGINT it exits 130, leaves a consistent database
 * and prints the resume command. Bad input exits 2 with one line on stderr.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Db } from "@fiberkit/core"
import { ChildProcess, SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Frontier from "../src/Frontier.js"
import type * as Page from "../src/Page.js"
import * as Store from "../src/Store.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = Path.join(root, "apps/crawler/src/bin/crawl.ts")
const MAX_DEPTH = 6

const start = (args: ReadonlyArray<string>): ChildProcess.Run =>
  ChildProcess.tsx(bin, args, { cwd: root, env: { DATABASE_URL: "" } })

const wait = <A>(promise: Promise<A>) => Effect.promise(() => promise)

/** The documents the stored records stand for (canonical link, else final URL). */
const documents = (records: ReadonlyArray<Page.PageRecord>, origin: string): Array<string> =>
  Array.from(
    new Set(
      records
        .filter((r) => r.status === 200 && r.error_kind === null)
        .map((r) => (r.canonical ?? r.final_url ?? r.url).slice(origin.length))
    )
  ).sort()

const storedRecords = (file: string) =>
  Effect.map(Stream.runCollect(Store.records()), Chunk.toReadonlyArray).pipe(
    Effect.provide(Frontier.layer.pipe(Layer.provideMerge(Db.layerWith({ filename: file })), Layer.provideMerge(NodeContext.layer)))
  )

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-crawl-proc-"))

describe("crawler process", () => {
  it.scopedLive("SIGKILL at three points, resumed each time: the ground truth, each page once, in the db and the JSONL", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make({ seed: 5, pages: 260, pageBytes: 1200, latency: 15 })
      const server = yield* TestServer.make({ routes: site.routes })
      const dir = tempDir()
      const db = Path.join(dir, "crawl.db")
      const out = Path.join(dir, "out.jsonl")
      const args = [server.urlFor("/"), "--db", db, "--out", out, "--max-depth", String(MAX_DEPTH), "--concurrency", "4", "--per-host", "4", "--no-progress"]

      let first = true
      for (const killAt of [40, 130, 230]) {
        const run = start(first ? args : [...args, "--resume"])
        first = false
        yield* server.awaitRequests(killAt)
        run.child.kill("SIGKILL")
        const ended = yield* wait(run.done)
        expect(ended.signal).toBe("SIGKILL")
      }
      const last = yield* wait(start([...args, "--resume"]).done)
      expect(last.code, last.stderr).toBe(0)

      const records = yield* storedRecords(db)
      expect(documents(records, server.url)).toEqual(site.groundTruth.expected({ maxDepth: MAX_DEPTH, polite: true }))
      const urls = records.map((r) => r.url)
      expect(new Set(urls).size).toBe(urls.length)
      // The JSONL output holds every stored record exactly once.
      const lines = Fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Page.PageRecord)
      expect(lines.length).toBe(records.length)
      expect(new Set(lines.map((l) => l.url))).toEqual(new Set(urls))
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 120_000 })

  it.scopedLive("SIGINT: exit 130, the resume command, nothing leased; resuming completes the crawl", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make({ seed: 6, pages: 120, pageBytes: 1000, latency: 20, trap: false })
      const server = yield* TestServer.make({ routes: site.routes })
      const dir = tempDir()
      const db = Path.join(dir, "crawl.db")
      const args = [server.urlFor("/"), "--db", db, "--concurrency", "4", "--per-host", "4", "--no-progress"]
      const run = start(args)
      yield* server.awaitRequests(30)
      run.child.kill("SIGINT")
      const ended = yield* wait(run.done)
      expect(ended.code, ended.stderr).toBe(130)
      expect(ended.stderr).toContain("--resume")
      const summary = yield* Store.summary.pipe(
        Effect.provide(Frontier.layer.pipe(Layer.provideMerge(Db.layerWith({ filename: db })), Layer.provideMerge(NodeContext.layer)))
      )
      expect(summary.urls.leased).toBe(0)
      expect(summary.urls.pending).toBeGreaterThan(0)

      const resumed = yield* wait(start([...args, "--resume"]).done)
      expect(resumed.code, resumed.stderr).toBe(0)
      const records = yield* storedRecords(db)
      expect(documents(records, server.url)).toEqual(site.groundTruth.expected({ maxDepth: 1000, polite: true }))
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 120_000 })

  it.live("bad input: one line on stderr, exit code 2", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const cases: ReadonlyArray<[ReadonlyArray<string>, RegExp]> = [
        [["not a url", "--db", Path.join(dir, "a.db")], /invalid start URL/],
        [["http://127.0.0.1:9/", "--db", Path.join(dir, "b.db"), "--concurrency", "0"], /--concurrency/],
        [["--db", Path.join(dir, "c.db"), "--resume"], /no crawl/i]
      ]
      for (const [args, message] of cases) {
        const ended = yield* wait(start(args).done)
        expect(ended.code, ended.stderr).toBe(2)
        const lines = ended.stderr.trim().split("\n")
        expect(lines.length, ended.stderr).toBe(1)
        expect(lines[0]).toMatch(message)
      }
      // A file that is not a crawl database.
      const foreign = Path.join(dir, "foreign.db")
      Fs.writeFileSync(foreign, "this is not a database")
      const ended = yield* wait(start(["http://127.0.0.1:9/", "--db", foreign]).done)
      expect(ended.code, ended.stderr).toBe(2)
      expect(ended.stderr.trim().split("\n").length).toBe(1)
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 60_000 })
})
