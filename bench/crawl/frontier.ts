/**
 * The crawler's frontier at scale: 1,000,000 discovered URLs in a SQLite
 * frontier (`apps/crawler/src/Frontier.ts` on `Db`, durability as the
 * crawler uses it), then claimed and completed through in batches, while
 * RSS is sampled every 50 ms. The target: peak RSS under 300 MB, i.e. the
 * frontier lives in the database, not in memory.
 *
 * Discovery goes through the same path as a crawl: pages are claimed and
 * completed as `Done` with their links (`--links` per page, keys new, over
 * 100 hosts), so the links are inserted by the group-commit transaction. The
 * drain then claims `--batch` URLs at a time and completes each with a page
 * record and no links, until the frontier is finished (or `--drain` URLs
 * have been completed). Prints the figures; never fails the build (exit 0,
 * "skipped: …" when the Frontier module cannot be loaded).
 *
 *   node --import tsx bench/crawl/frontier.ts [--urls 1000000] [--links 100] [--batch 256] [--drain all]
 */
import * as FS from "node:fs"
import * as OS from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as FrontierModule from "../../apps/crawler/src/Frontier.js"
import type * as Page from "../../apps/crawler/src/Page.js"

const { values } = parseArgs({
  options: {
    urls: { type: "string", default: "1000000" },
    links: { type: "string", default: "100" },
    batch: { type: "string", default: "256" },
    drain: { type: "string", default: "all" }
  }
})
const URLS = Number(values.urls)
const LINKS = Number(values.links)
const BATCH = Number(values.batch)
const DRAIN = values.drain === "all" ? Number.POSITIVE_INFINITY : Number(values.drain)
const HOSTS = 100
const LEASE_MS = 600_000
const TARGET_MB = 300

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0)

let loaded: typeof FrontierModule
try {
  loaded = await import("../../apps/crawler/src/Frontier.js")
} catch (error) {
  console.log(`frontier: skipped: apps/crawler/src/Frontier.ts cannot be loaded (${String(error).split("\n")[0]})`)
  process.exit(0)
}
const Frontier = loaded

let peakSampled = 0
let peakHeapUsed = 0
let samples = 0
const sample = (): void => {
  const rss = process.memoryUsage.rss()
  if (rss > peakSampled) peakSampled = rss
  // The heap figure costs more to read: every 10th sample is enough to tell heap from native memory.
  // (Samples are taken between statements only: a synchronous SQLite statement blocks the timer; the
  // kernel's high-water mark, read at the end, catches what they miss.)
  if (samples++ % 10 === 0) {
    const heapUsed = process.memoryUsage().heapUsed
    if (heapUsed > peakHeapUsed) peakHeapUsed = heapUsed
  }
}
const sampler = setInterval(sample, 50)

const hostOf = (i: number): string => `h${i % HOSTS}.bench.example`
const urlOf = (i: number): string => `http://${hostOf(i)}/p/${i}`

const record = (lease: Page.Lease, linksOut: number): Page.PageRecord => ({
  url: lease.url,
  final_url: null,
  status: 200,
  content_type: "text/html",
  bytes: 30_720,
  title: `Page ${lease.id}`,
  canonical: null,
  depth: lease.depth,
  links_out: linksOut,
  fetched_at: new Date().toISOString(),
  elapsed_ms: 1,
  error_kind: null,
  error_message: null
})

const program = Effect.gen(function*() {
  const frontier = yield* Frontier.Frontier
  const seed = urlOf(0)
  yield* frontier.init({ seeds: [{ key: seed, url: seed, host: hostOf(0) }], options: { bench: "frontier" } })
  // What the process holds before the frontier grows: modules, the open database.
  const rssAtStart = process.memoryUsage.rss()

  // Phase 1: discover URLS URLs, LINKS per completed page, in group commits of a batch of pages each.
  let discovered = 1
  let completed = 0
  const discoverStarted = performance.now()
  while (discovered < URLS) {
    const pagesNeeded = Math.min(BATCH, Math.ceil((URLS - discovered) / LINKS))
    const leases = yield* frontier.claim(pagesNeeded, LEASE_MS)
    if (leases.length === 0) return yield* Effect.dieMessage("frontier: nothing to claim while discovering")
    const batch: Array<Page.Completion> = []
    for (const lease of leases) {
      const links: Array<Page.Discovered> = []
      for (let k = 0; k < LINKS && discovered < URLS; k++) {
        const url = urlOf(discovered++)
        links.push({ key: url, url, host: hostOf(discovered - 1), depth: lease.depth + 1, parentId: lease.id })
      }
      batch.push({ _tag: "Done", lease, record: record(lease, links.length), links })
    }
    const result = yield* frontier.complete(batch)
    completed += batch.length - result.lost
  }
  const discoverMs = performance.now() - discoverStarted
  sample()
  const rssAfterDiscovery = peakSampled

  // Phase 2: claim and complete through the frontier.
  const drainStarted = performance.now()
  let drained = 0
  while (drained < DRAIN) {
    const leases = yield* frontier.claim(Math.min(BATCH, DRAIN - drained), LEASE_MS)
    if (leases.length === 0) break
    const batch: Array<Page.Completion> = leases.map((lease) => ({
      _tag: "Done",
      lease,
      record: record(lease, 0),
      links: []
    }))
    const result = yield* frontier.complete(batch)
    drained += batch.length - result.lost
  }
  const drainMs = performance.now() - drainStarted
  const stats = yield* frontier.stats()
  return { discoverMs, drainMs, drained, completed, rssAtStart, rssAfterDiscovery, stats }
})

const dir = FS.mkdtempSync(Path.join(OS.tmpdir(), "crawl-bench-frontier-"))
try {
  const dbLayer = Db.layerWith({ app: "crawl", filename: Path.join(dir, "frontier.db"), poolMetricsInterval: 0 })
  const r = await Effect.runPromise(program.pipe(Effect.provide(Frontier.layer.pipe(Layer.provide(dbLayer)))))
  clearInterval(sampler)
  sample()
  const peakRss = Math.max(peakSampled, process.resourceUsage().maxRSS * 1024)
  const dbBytes = FS.readdirSync(dir).reduce((sum, f) => sum + FS.statSync(Path.join(dir, f)).size, 0)
  console.log(
    `\nFrontier: ${r.stats.urls.total.toLocaleString("en-US")} URLs discovered through ${
      (r.completed + 1).toLocaleString("en-US")
    } completions of ${LINKS} links each in ${(r.discoverMs / 1000).toFixed(1)} s (${
      Math.round(URLS / (r.discoverMs / 1000)).toLocaleString("en-US")
    } URLs/s); ${r.drained.toLocaleString("en-US")} claimed and completed in batches of ${BATCH} in ${
      (r.drainMs / 1000).toFixed(1)
    } s (${Math.round(r.drained / (r.drainMs / 1000)).toLocaleString("en-US")} URLs/s). SQLite file ${mb(dbBytes)} MB.`
  )
  console.log(
    `peak RSS ${mb(peakRss)} MB (${mb(r.rssAtStart)} MB at start, ${
      mb(r.rssAfterDiscovery)
    } MB by the end of discovery; V8 heap in use peaked at ${mb(peakHeapUsed)} MB); left pending ${
      r.stats.urls.pending.toLocaleString("en-US")
    }, done ${r.stats.urls.done.toLocaleString("en-US")}`
  )
  console.log(`target: peak RSS < ${TARGET_MB} MB: ${peakRss < TARGET_MB * 1024 * 1024 ? "met" : "NOT met"}`)
} catch (error) {
  clearInterval(sampler)
  console.log(`frontier: failed: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  FS.rmSync(dir, { recursive: true, force: true })
}
