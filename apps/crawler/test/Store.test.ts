/**
 * `Store` on SQLite and Postgres: records read back exactly as committed,
 * in commit order, page by page; JSONL export byte-identical to a `Jsonl`
 * writer's output; JSONL regeneration on resume; CSV export; the summary;
 * the refusal of databases that hold no crawl.
 */
import { NodeContext } from "@effect/platform-node"
import { expect, it } from "@effect/vitest"
import { Db, Jsonl } from "@fiberkit/core"
import type { DbError } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Frontier from "../src/Frontier.js"
import * as Page from "../src/Page.js"
import * as Store from "../src/Store.js"
import { forEachDialect, openDb, openFrontier } from "./dbHarness.js"

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-store-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const seed = (i: number): Frontier.Seed => {
  const url = `https://h${i % 2}.test/p${i}`
  return { key: url, url, host: `h${i % 2}.test` }
}

/** The record committed for page `i`: every kind of value a record holds. */
const recordOf = (lease: Page.Lease, i: number): Page.PageRecord => {
  const base: Page.PageRecord = {
    url: lease.url,
    final_url: i % 3 === 0 ? `${lease.url}?moved` : null,
    status: [200, 404, 301, 200, 503][i % 5] ?? 200,
    content_type: "text/html; charset=utf-8",
    bytes: 1_000 + i,
    title: [`Plain ${i}`, `日本語 — ✓ 😀 ${i}`, `quote " comma , newline\nend ${i}`, ` padded ${i} `, `nul\u0000inside ${i}`][i % 5] ?? null,
    canonical: i % 2 === 0 ? lease.url : null,
    depth: lease.depth,
    links_out: i,
    fetched_at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
    elapsed_ms: 12.345 + i,
    error_kind: i % 5 === 1 ? "http_status" : i % 5 === 4 ? "http_status" : null,
    error_message: i % 5 === 1 ? "404 Not Found" : i % 5 === 4 ? "503 Service Unavailable" : null
  }
  if (i % 4 === 0) return { ...base, data: { price: i * 1.5, tags: ["a", "b"], nested: { ok: true, none: null } } }
  if (i % 4 === 1) return { ...base, data: `text ${i}`, body_key: `sha256-${i}` }
  if (i % 4 === 2) return { ...base, data: null }
  return base
}

/** What reading back gives: NUL is stored as U+FFFD (Postgres text cannot hold it). */
const asStored = (r: Page.PageRecord): Page.PageRecord => ({ ...r, title: r.title === null ? null : r.title.replaceAll("\u0000", "\uFFFD") })

const orDie = <A>(effect: Effect.Effect<A, DbError.DbError>): Effect.Effect<A> =>
  Effect.orDieWith(effect, (e) => new Error(e.message))

/** A crawl database with `n` pages committed in batches of 3 (in page order); returns the records as committed. */
const crawled = (input: Db.Input, n: number) =>
  Effect.gen(function*() {
    const { db, frontier } = yield* openFrontier(input)
    yield* Effect.orDie(frontier.init({ seeds: Array.from({ length: n }, (_, i) => seed(i)), options: { n } }))
    const committed: Array<Page.PageRecord> = []
    while (true) {
      const leases = yield* orDie(frontier.claim(3, 60_000))
      if (leases.length === 0) break
      const batch: Array<Page.Completion> = leases.map((lease) => {
        const i = Number(lease.url.slice(lease.url.lastIndexOf("/p") + 2))
        return { _tag: "Done", lease, record: recordOf(lease, i), links: [] }
      })
      const result = yield* orDie(frontier.complete(batch))
      expect(result.committed.every((c) => c)).toBe(true)
      for (const c of batch) if (c._tag === "Done") committed.push(c.record)
    }
    return { db, frontier, committed }
  })

const provideDb = (db: Db.Service) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provideService(Db.Db, db), Effect.provide(NodeContext.layer))

forEachDialect("Store", (h) => {
  it.scoped("records come back as committed, in commit order, one page of rows per statement", () =>
    Effect.gen(function*() {
      const { committed, db } = yield* crawled(yield* h.fresh, 10)
      let statements = 0
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) => ({
          _tag: "Span",
          name,
          spanId: "s",
          traceId: "t",
          parent,
          context,
          status: { _tag: "Started", startTime },
          attributes: new Map(),
          links,
          sampled: true,
          kind,
          end: () => {},
          attribute: (key, value) => {
            if (key === "db.query.text" && String(value).startsWith("SELECT seq, url")) statements++
          },
          event: () => {},
          addLinks: () => {}
        }),
        context: (f) => f()
      })
      const all = yield* Stream.runCollect(Store.records({ pageSize: 3 })).pipe(provideDb(db), Effect.withTracer(tracer))
      const expected = committed.map(asStored).map((r) => {
        // A null body_key reads back as absent (both are "no body").
        const { body_key, ...rest } = r
        return body_key === null || body_key === undefined ? rest : r
      })
      expect(Array.from(all)).toEqual(expected)
      expect(statements).toBe(4)

      const rest = yield* Stream.runCollect(Store.records({ afterSeq: 7 })).pipe(provideDb(db))
      expect(Array.from(rest)).toEqual(expected.slice(7))
      const bad = yield* Effect.flip(Stream.runCollect(Store.records({ pageSize: 0 })).pipe(provideDb(db)))
      expect(bad.message).toContain("pageSize must be an integer >= 1, got 0")
    }))

  it.scoped("exportJsonl writes exactly what a Jsonl writer of the committed records writes, atomically", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { committed, db } = yield* crawled(yield* h.fresh, 9)
      const out = Path.join(dir, "pages.jsonl")
      Fs.writeFileSync(out, "old content\n")
      const n = yield* Store.exportJsonl(out).pipe(provideDb(db))
      expect(n).toBe(9)
      const reference = Path.join(dir, "reference.jsonl")
      yield* Stream.fromIterable(committed.map(asStored)).pipe(
        Stream.run(Jsonl.sink(reference, Page.PageRecord)),
        Effect.provide(NodeContext.layer)
      )
      expect(Fs.readFileSync(out, "utf8")).toBe(Fs.readFileSync(reference, "utf8"))
      expect(Fs.readdirSync(dir).sort()).toEqual(["pages.jsonl", "reference.jsonl"])
    }))

  it.scoped("regenerateJsonl makes a stopped crawl's output exactly-once before resuming", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { committed, db } = yield* crawled(yield* h.fresh, 7)
      // What a stopped process left: the first 4 records appended, then a torn line.
      const out = Path.join(dir, "out.jsonl")
      yield* Stream.fromIterable(committed.slice(0, 4).map(asStored)).pipe(
        Stream.run(Jsonl.sink(out, Page.PageRecord)),
        Effect.provide(NodeContext.layer)
      )
      Fs.appendFileSync(out, "{\"url\":\"https://h1.test/p4\",\"final_u")

      const n = yield* Store.regenerateJsonl(out).pipe(provideDb(db))
      expect(n).toBe(7)
      const read = yield* Jsonl.readAll(out, Page.PageRecord).pipe(Effect.provide(NodeContext.layer))
      expect(read.skipped).toEqual([])
      expect(read.records.map((r) => r.url)).toEqual(committed.map((r) => r.url))
      expect(new Set(read.records.map((r) => r.url)).size).toBe(7)
      expect(Fs.readdirSync(dir)).toEqual(["out.jsonl"])
    }))

  it.scoped("exportCsv writes a header in field order and quotes what needs quoting", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { db } = yield* crawled(yield* h.fresh, 5)
      const out = Path.join(dir, "pages.csv")
      const n = yield* Store.exportCsv(out, { newline: "\n" }).pipe(provideDb(db))
      expect(n).toBe(5)
      const text = Fs.readFileSync(out, "utf8")
      const [header] = text.split("\n")
      expect(header).toBe(
        "url,final_url,status,content_type,bytes,title,canonical,depth,links_out,fetched_at,elapsed_ms,error_kind,error_message,data,body_key"
      )
      expect(text).toContain(
        "https://h0.test/p0,https://h0.test/p0?moved,200,text/html; charset=utf-8,1000,Plain 0,https://h0.test/p0,0,0,2024-01-01T00:00:00.000Z,12.345,,,\"{\"\"price\"\":0,\"\"tags\"\":[\"\"a\"\",\"\"b\"\"],\"\"nested\"\":{\"\"ok\"\":true,\"\"none\"\":null}}\",\n"
      )
      expect(text).toContain(",\"quote \"\" comma , newline\nend 2\",")
      expect(text).toContain(",\" padded 3 \",")
      expect(text).toContain(",\"\"\"text 1\"\"\",sha256-1\n")
    }))

  it.scoped("summary counts statuses, errors and bytes, and the rate over the fetch time range", () =>
    Effect.gen(function*() {
      const { db } = yield* crawled(yield* h.fresh, 10)
      yield* TestClock.setTime(Date.UTC(2024, 0, 2))
      const s = yield* Store.summary.pipe(provideDb(db))
      expect(s.crawl?.options).toEqual({ n: 10 })
      expect(s.urls).toEqual({ pending: 0, leased: 0, done: 10, failed: 0, skipped: 0, total: 10 })
      expect(s.pages).toBe(10)
      expect(s.byStatus).toEqual({ "200": 4, "301": 2, "404": 2, "503": 2 })
      expect(s.byStatusClass).toEqual({ "2xx": 4, "3xx": 2, "4xx": 2, "5xx": 2 })
      expect(s.byErrorKind).toEqual({ http_status: 4 })
      expect(s.bytes).toBe(10 * 1_000 + 45)
      expect(s.firstFetchedAt).toBe(Date.UTC(2024, 0, 1, 0, 0, 0))
      expect(s.lastFetchedAt).toBe(Date.UTC(2024, 0, 1, 0, 0, 9))
      expect(s.elapsedMs).toBe(9_000)
      expect(s.pagesPerSecond).toBeCloseTo(10 / 9, 10)
    }))

  it.scoped("refuses databases that hold no crawl: empty, or another tool's", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const empty = yield* openDb(yield* h.fresh)
      const none = yield* Effect.flip(Store.summary.pipe(provideDb(empty)))
      expect(none._tag).toBe("NoCrawl")
      const noExport = yield* Effect.flip(Store.exportJsonl(Path.join(dir, "x.jsonl")).pipe(provideDb(empty)))
      expect(noExport._tag).toBe("NoCrawl")
      expect(Fs.readdirSync(dir)).toEqual([])

      yield* orDie(empty.typed(empty.sql`CREATE TABLE things (id INTEGER PRIMARY KEY)`))
      const foreign = yield* Effect.flip(Stream.runCollect(Store.records()).pipe(provideDb(empty)))
      expect(foreign._tag).toBe("IncompatibleDatabase")
      expect(foreign.message).toContain("tables (things) but no crawl metadata")
    }))
})
