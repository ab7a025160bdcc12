/**
 * The crawler end to end, in process, against a synthetic site on a real
 * local server: the stored pages equal the site's ground truth, robots.txt
 * and Crawl-delay are obeyed as the server saw it, the per-host cap holds,
 * the calendar trap is cut by the depth limit, sitemaps are read, and
 * injected faults end every page fetched or failed with its kind. Every test
 * runs on SQLite and on Postgres.
 */
import { expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { BlobStore, Db } from "@fiberkit/core"
import { Faults, SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Crawler from "../src/Crawler.js"
import * as Frontier from "../src/Frontier.js"
import type * as Options from "../src/Options.js"
import type * as Page from "../src/Page.js"
import * as Store from "../src/Store.js"
import { forEachDialect, type Harness } from "./dbHarness.js"

const SITE = { seed: 11, pages: 150, pageBytes: 1500 } as const
const MAX_DEPTH = 6

/** The documents a set of records stands for: a page is known by its canonical link, else its final URL. */
const documents = (records: ReadonlyArray<Page.PageRecord>, origin: string): Array<string> =>
  Array.from(
    new Set(
      records
        .filter((r) => r.status === 200 && r.error_kind === null)
        .map((r) => (r.canonical ?? r.final_url ?? r.url).slice(origin.length))
    )
  ).sort()

const crawlSite = (
  h: Harness,
  site: SyntheticSite.Site,
  server: TestServer.TestServer["Type"],
  options: Partial<Options.Options>
) =>
  Effect.gen(function*() {
    const input = yield* h.fresh
    const layer = Frontier.layer.pipe(Layer.provideMerge(Db.layerWith(input)), Layer.provideMerge(NodeContext.layer))
    return yield* Effect.gen(function*() {
      const summary = yield* Crawler.crawl({
        seeds: [server.urlFor("/")],
        concurrency: 16,
        perHost: 4,
        maxDepth: MAX_DEPTH,
        progress: false,
        timeoutMs: 2000,
        ...options
      })
      const records = yield* runCollect(Store.records())
      return { summary, records, site }
    }).pipe(Effect.provide(layer))
  })

const runCollect = <A, E, R>(s: Stream.Stream<A, E, R>) => Effect.map(Stream.runCollect(s), Chunk.toReadonlyArray)

forEachDialect("crawl e2e", (h) => {
  it.scopedLive("stores exactly the ground truth, obeys robots.txt, Crawl-delay and the per-host cap", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make(SITE)
      const server = yield* TestServer.make({ routes: site.routes })
      const { records, summary } = yield* crawlSite(h, site, server, {})
      const expected = site.groundTruth.expected({ maxDepth: MAX_DEPTH, polite: true })
      expect(documents(records, server.url)).toEqual(expected)

      // At most one record per URL.
      const urls = records.map((r) => r.url)
      expect(new Set(urls).size).toBe(urls.length)

      const log = yield* server.requests
      // robots.txt fetched once; nothing it disallows was requested.
      expect(log.filter((r) => r.path === "/robots.txt").length).toBe(1)
      const forbidden = log.filter((r) => r.path.startsWith("/private/") && !r.path.startsWith("/private/public/"))
      expect(forbidden).toEqual([])
      // The per-host cap, as the server observed it.
      expect((yield* server.stats).maxInFlight).toBeLessThanOrEqual(4)
      // The calendar trap is cut by the depth limit: exactly the months within it.
      const months = log.filter((r) => r.path.startsWith("/calendar/")).map((r) => r.path)
      expect(new Set(months)).toEqual(new Set(site.groundTruth.trap?.within(MAX_DEPTH)))
      expect(summary.stopped).toBe(false)
      expect(summary.urls.pending + summary.urls.leased).toBe(0)
    }), { timeout: 60_000 })

  it.scopedLive("obeys Crawl-delay between request starts, as the server saw them", () =>
    Effect.gen(function*() {
      // 50 ms, so that the few milliseconds a new connection adds to one request's arrival stay well inside.
      const site = SyntheticSite.make({ ...SITE, pages: 40, crawlDelay: 0.05, trap: false })
      const server = yield* TestServer.make({ routes: site.routes })
      yield* crawlSite(h, site, server, { maxDepth: 3 })
      const starts = (yield* server.requests).filter((r) => r.path !== "/robots.txt").map((r) => r.arrivedAt).sort((a, b) => a - b)
      expect(starts.length).toBeGreaterThan(10)
      // The crawler spaces request starts; the server records arrivals, which a busy event loop (this test
      // runs both in one process) can shift by tens of milliseconds one way or the other. So no single gap
      // is checked against 50 ms: every run of k consecutive starts must span at least k × 50 ms, less one
      // fixed slack that does not grow with k. Without the delay, runs of 10 starts take a few milliseconds.
      const slack = 45
      let worst = Number.POSITIVE_INFINITY
      for (let i = 0; i < starts.length; i++) {
        for (let k = 1; k <= 10 && i + k < starts.length; k++) {
          worst = Math.min(worst, (starts[i + k] ?? 0) - (starts[i] ?? 0) - k * 50)
        }
      }
      expect(worst).toBeGreaterThanOrEqual(-slack)
    }), { timeout: 60_000 })

  it.scopedLive("reads the sitemaps robots.txt lists; the set of pages stays the same", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make(SITE)
      const server = yield* TestServer.make({ routes: site.routes })
      const { records } = yield* crawlSite(h, site, server, { sitemaps: true })
      const log = yield* server.requests
      expect(log.some((r) => r.path.startsWith("/sitemap"))).toBe(true)
      expect(documents(records, server.url)).toEqual(site.groundTruth.expected({ maxDepth: MAX_DEPTH, polite: true }))
    }), { timeout: 60_000 })

  it.scopedLive("faults end every page fetched or failed with its kind, with bounded retries", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make({ ...SITE, trap: false })
      const pages = site.groundTruth.reachablePolite.filter((p) => p.startsWith("/p/")).slice(0, 8)
      const [p503, p429, pReset, pStall, pTrunc, pDown] = pages
      // Routes added after the site's catch-all take precedence.
      const faults = [
        Faults.get(p503 ?? "/none", Faults.sequence(503, 503, Faults.ok("<title>late</title>", { "content-type": "text/html" }))),
        Faults.get(p429 ?? "/none", Faults.sequence(Faults.tooManyRequests({ seconds: 1 }), Faults.ok("<title>ok</title>", { "content-type": "text/html" }))),
        Faults.get(pReset ?? "/none", Faults.resetBeforeHeaders),
        Faults.get(pStall ?? "/none", Faults.stallBeforeHeaders),
        Faults.get(pTrunc ?? "/none", Faults.truncated("<html><title>cut", 5000)),
        Faults.get(pDown ?? "/none", Faults.status(500, "down"))
      ]
      const server = yield* TestServer.make({ routes: [...site.routes, ...faults] })
      const { records, summary } = yield* crawlSite(h, site, server, { retries: 2, timeoutMs: 500 })
      const byPath = new Map(records.map((r) => [r.url.slice(server.url.length), r]))
      expect(byPath.get(p503 ?? "")?.status).toBe(200)
      expect(byPath.get(p429 ?? "")?.status).toBe(200)
      expect(byPath.get(pReset ?? "")?.error_kind).toBe("transport")
      expect(byPath.get(pStall ?? "")?.error_kind).toBe("timeout")
      expect(byPath.get(pTrunc ?? "")?.error_kind).toBe("transport")
      expect(byPath.get(pDown ?? "")).toMatchObject({ status: 500, error_kind: "http_status" })
      // Retries bounded: at most 1 + retries requests per URL.
      const log = yield* server.requests
      for (const path of [p503, p429, pReset, pStall, pTrunc, pDown]) {
        const hits = log.filter((r) => r.path === path).length
        expect(hits).toBeLessThanOrEqual(3)
      }
      // Retry-After honoured: the second request for the 429 page came at least 1 s after the first answer.
      const tries = log.filter((r) => r.path === p429)
      expect((tries[1]?.arrivedAt ?? 0) - (tries[0]?.completedAt ?? 0)).toBeGreaterThanOrEqual(995)
      expect(summary.urls.pending + summary.urls.leased).toBe(0)
    }), { timeout: 60_000 })
  it.scopedLive("keeps every HTML body when asked; --include/--exclude narrow the crawl", () =>
    Effect.gen(function*() {
      const site = SyntheticSite.make({ ...SITE, trap: false })
      const server = yield* TestServer.make({ routes: site.routes })
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "crawl-bodies-" })
      const { records } = yield* crawlSite(h, site, server, {
        saveBodies: dir,
        include: ["/p/", "/$"],
        exclude: ["/p/[0-9]*7(\\?|$)"]
      })
      const fetched = records.filter((r) => r.status === 200 && r.error_kind === null)
      expect(fetched.length).toBeGreaterThan(10)
      for (const r of records) {
        const path = new URL(r.url).pathname
        expect(path === "/" || path.includes("/p/")).toBe(true)
        expect(/\/p\/[0-9]*7(\?|$)/.test(r.url) ? r.url : "ok").toBe("ok")
      }
      // Each kept body is the exact bytes the server sent for that page.
      const store = yield* BlobStore.make({ root: dir })
      for (const r of fetched) {
        expect(r.body_key).toEqual(expect.any(String))
        const body = yield* store.get(r.body_key ?? "")
        const served = yield* Effect.promise(() => fetch(r.final_url ?? r.url).then((res) => res.arrayBuffer()))
        expect(Buffer.from(body).equals(Buffer.from(served))).toBe(true)
      }
    }).pipe(Effect.provide(NodeContext.layer)), { timeout: 60_000 })
})
