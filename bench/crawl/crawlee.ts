/**
 * The Crawlee subject of the crawl benchmark: Crawlee 3's `CheerioCrawler`
 * (a benchmark peer from `bench/peers`, never a product dependency) crawling
 * the site from `/`, configured as its users would for a polite crawl at a
 * fixed concurrency:
 *
 * - `minConcurrency` = `maxConcurrency` = `--concurrency`, so the
 *   AutoscaledPool cannot scale below it for CPU or event-loop reasons (the
 *   pool's concurrency is sampled every 250 ms and reported, to show whether
 *   it ever ran below);
 * - `maxRequestRetries: 3`, `respectRobotsTxtFile: true`,
 *   `maxCrawlDepth` the same as every subject's;
 * - `enqueueLinks({ strategy: "same-hostname" })`: Crawlee's own link
 *   extraction (which honours `<base href>`) and robots filtering;
 * - its storage (request queue, persisted to disk as Crawlee does by
 *   default) under `CRAWLEE_STORAGE_DIR`, which the orchestrator sets to a
 *   fresh directory per run; `purgeOnStart` stays at its default (on).
 *
 * Output: one JSONL line per page (title + the links it enqueued, as their
 * unique keys) through the same buffered writer as the ceiling, not
 * Crawlee's `Dataset`: `Dataset.pushData` writes one JSON file per record,
 * which would charge Crawlee for an output format the others do not use.
 * This is the kinder choice for Crawlee.
 *
 *   CRAWLEE_STORAGE_DIR=/tmp/x node --import tsx bench/crawl/crawlee.ts --url http://127.0.0.1:PORT/ \
 *     --out pages.jsonl [--concurrency 32] [--max-depth 1000]
 */
import { CheerioCrawler, log } from "crawlee"
import { parseArgs } from "node:util"
import { note } from "./probe.js"
import { Sink } from "./sink.js"

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    out: { type: "string" },
    concurrency: { type: "string", default: "32" },
    "max-depth": { type: "string", default: "1000" }
  }
})
if (values.url === undefined || values.out === undefined) {
  process.stderr.write("crawlee: --url and --out are required\n")
  process.exit(2)
}
if (process.env.CRAWLEE_STORAGE_DIR === undefined) {
  process.stderr.write("crawlee: set CRAWLEE_STORAGE_DIR to a scratch directory\n")
  process.exit(2)
}
const concurrency = Number(values.concurrency)
const sink = new Sink(values.out)
let failed = 0

log.setLevel(log.LEVELS.WARNING)

const crawler = new CheerioCrawler({
  minConcurrency: concurrency,
  maxConcurrency: concurrency,
  maxRequestRetries: 3,
  respectRobotsTxtFile: true,
  maxCrawlDepth: Number(values["max-depth"]),
  // Its periodic status line would only add noise to the benchmark's output.
  statusMessageLoggingInterval: 3600,
  async requestHandler({ $, enqueueLinks, request, response }) {
    const title = $("title").first().text().trim()
    const { processedRequests } = await enqueueLinks({ strategy: "same-hostname" })
    sink.write({
      url: request.loadedUrl ?? request.url,
      status: response.statusCode ?? 0,
      title: title.length > 0 ? title : null,
      links: processedRequests.map((r) => r.uniqueKey)
    })
  },
  failedRequestHandler({ request }, error) {
    failed++
    process.stderr.write(`crawlee: ${request.url}: ${error.message}\n`)
  }
})

const samples: Array<number> = []
const sampler = setInterval(() => {
  const pool = crawler.autoscaledPool
  if (pool !== undefined) samples.push(pool.currentConcurrency)
}, 250)

const stats = await crawler.run([values.url])
clearInterval(sampler)
sink.close()

// The first and last samples are ramp-up and drain, not throttling.
const steady = samples.slice(1, -1)
note("failed", failed)
note("requestsFinished", stats.requestsFinished)
note("concurrencyMin", steady.length === 0 ? null : Math.min(...steady))
note("concurrencyMean", steady.length === 0 ? null : steady.reduce((a, b) => a + b, 0) / steady.length)
process.exit(0)
