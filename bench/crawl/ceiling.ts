/**
 * The ceiling subject of the crawl benchmark: what any crawler of this site
 * could at best achieve on this machine. It knows the answer in advance (the
 * ground-truth list of pages a polite crawl ends with, one root-relative path
 * a line in the `--list` file the orchestrator writes, so this process loads
 * nothing but undici and htmlparser2) and fetches exactly those URLs with undici `request` through one `Agent` (`connections` =
 * concurrency) from `concurrency` workers, extracts title and same-host links
 * of each page with htmlparser2 and appends them to a JSONL file. No
 * frontier, no dedup, no robots.txt, no storage: the cost of fetching and
 * parsing alone.
 *
 *   node --import tsx bench/crawl/ceiling.ts --url http://127.0.0.1:PORT/ --out pages.jsonl \
 *     --list paths.txt [--concurrency 32]
 */
import * as FS from "node:fs"
import { parseArgs } from "node:util"
import { Agent } from "undici"
import { Extractor } from "./extract.js"
import { note } from "./probe.js"
import { Sink } from "./sink.js"

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    out: { type: "string" },
    list: { type: "string" },
    concurrency: { type: "string", default: "32" }
  }
})
if (values.url === undefined || values.out === undefined || values.list === undefined) {
  process.stderr.write("ceiling: --url, --out and --list are required\n")
  process.exit(2)
}
const concurrency = Number(values.concurrency)
const base = new URL(values.url)
const urls = FS.readFileSync(values.list, "utf8").split("\n").filter((path) => path.length > 0).map((path) =>
  new URL(path, base)
)

const agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 10_000 })
const sink = new Sink(values.out)
const maxAttempts = 4

let next = 0
let failures = 0

const fetchOne = async (url: URL, extractor: Extractor): Promise<void> => {
  for (let attempt = 1;; attempt++) {
    try {
      const response = await agent.request({ origin: url.origin, path: url.pathname + url.search, method: "GET" })
      const html = await response.body.text()
      const { links, title } = extractor.page(url, html)
      sink.write({ url: url.href, status: response.statusCode, title, links })
      return
    } catch (error) {
      if (attempt >= maxAttempts) {
        failures++
        process.stderr.write(`ceiling: ${url.href}: ${String(error)}\n`)
        return
      }
    }
  }
}

const worker = async (): Promise<void> => {
  const extractor = new Extractor()
  while (next < urls.length) {
    const url = urls[next++]
    if (url !== undefined) await fetchOne(url, extractor)
  }
}

await Promise.all(Array.from({ length: concurrency }, worker))
sink.close()
note("failures", failures)
await agent.close()
process.exit(0)
