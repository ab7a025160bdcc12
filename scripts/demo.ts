/**
 * `npm start`: the fiberkit demo, offline on loopback.
 *
 * 1. The crawler: a synthetic website (robots.txt, Crawl-delay, sitemaps,
 *    redirects, broken links, URL variants, a calendar trap) on a free local
 *    port, crawled with the progress display, into a SQLite file under
 *    `./data/` and a JSONL file next to it; then the summary.
 * 2. The HTTP layer on its own (`scripts/http-demo.ts`): concurrent fetches
 *    with per-host limits, retries and Retry-After against flaky local hosts.
 * 3. The aggregator (`npm run aggregator -- demo`): six simulated exchanges
 *    on loopback polled every second, aggregated, stored in
 *    `./data/aggregator.db` and served with the dashboard on
 *    http://127.0.0.1:8080/ (another free port when 8080 is taken) until
 *    Ctrl-C.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Db, Logging } from "@fiberkit/core"
import { Crawler, Frontier, Store } from "@fiberkit/crawler"
import { SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { formatSummary } from "../apps/crawler/src/cli.js"
import { main as aggregatorMain } from "../apps/aggregator/src/cli.js"
import { program as httpDemo } from "./http-demo.js"

const dataDir = Path.resolve("data")
const db = Path.join(dataDir, "demo-crawl.db")
const out = Path.join(dataDir, "demo-crawl.jsonl")

const dbLayer = Frontier.layer.pipe(Layer.provideMerge(Db.layerWith({ app: "crawl", filename: db })))

const crawlDemo = Effect.gen(function*() {
  // A demo starts from scratch each time (a real crawl would use --resume).
  for (const file of [db, `${db}-wal`, `${db}-shm`, out]) Fs.rmSync(file, { force: true })
  const site = SyntheticSite.make({ seed: 2026, pages: 800, pageBytes: 8 * 1024, latency: { min: 2, max: 15 }, crawlDelay: 0.004 })
  const server = yield* TestServer.make({ routes: site.routes, log: false })
  yield* Console.log(`fiberkit demo 1/3: crawling a synthetic site at ${server.url} (800 pages, robots.txt with Crawl-delay, traps, variants)\n`)
  const summary = yield* Crawler.crawl({
    seeds: [server.urlFor("/")],
    concurrency: 32,
    perHost: 8,
    maxDepth: 10,
    sitemaps: true,
    out
  }).pipe(Effect.provide(dbLayer))
  yield* Console.log(`\n${formatSummary(summary, { ms: summary.runMs, pages: summary.runPages })}`)
  // Pages are the same document when their canonical links match (URL variants, redirects).
  const records = yield* Stream.runCollect(Store.records()).pipe(Effect.provide(dbLayer))
  const documents = new Set<string>()
  for (const r of records) if (r.status === 200 && r.error_kind === null) documents.add(r.canonical ?? r.final_url ?? r.url)
  const expected = site.groundTruth.expected({ maxDepth: 10, polite: true }).length
  yield* Console.log(`documents  ${documents.size} distinct HTML documents stored; the site's ground truth: ${expected}`)
  yield* Console.log(`stored in  ${Path.relative(process.cwd(), db)} (try: npm run crawl -- status --db ${Path.relative(process.cwd(), db)})`)
  yield* Console.log(`records    ${Path.relative(process.cwd(), out)}\n`)
})

/** 8080 when it is free, else 0 (any free port): the demo must start on any machine. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const probe = Net.createServer()
    probe.once("error", () => resolve(0))
    probe.listen(8080, "127.0.0.1", () => probe.close(() => resolve(8080)))
  })
)

const main = Effect.gen(function*() {
  yield* Effect.gen(function*() {
    yield* Effect.scoped(crawlDemo)
    yield* Console.log("fiberkit demo 2/3: the HTTP layer alone\n")
    yield* Effect.scoped(httpDemo)
  }).pipe(Effect.provide(Logging.layerWith({})))
  yield* Console.log("\nfiberkit demo 3/3: the price aggregator on simulated exchanges\n")
  const port = yield* freePort
  // The aggregator's command line sets up its own logging.
  yield* Effect.scoped(aggregatorMain(["node", "aggregator", "demo", "--port", String(port)]))
}).pipe(Effect.provide(NodeContext.layer))

// runMain: Ctrl-C interrupts the program, so the aggregator drains its writer and closes the database.
NodeRuntime.runMain(main, { disablePrettyLogger: true })
