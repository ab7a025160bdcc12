/**
 * `npm run bench`: runs every benchmark, each in its own process so that one
 * cannot warm up or disturb another. Each prints its own table with ratios to
 * a baseline measured in the same run. Benchmarks never fail the build; a
 * benchmark that crashes is reported and the others still run.
 *
 *   npm run bench                 # all
 *   npm run bench -- http         # only those whose name contains "http"
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

const benches: ReadonlyArray<{ readonly name: string; readonly file: string; readonly what: string }> = [
  { name: "http", file: "http/index.ts", what: "HTTP client throughput vs raw undici and the platform client" },
  { name: "keyed", file: "keyed.ts", what: "KeyedSemaphore / KeyedRateLimiter vs Effect's semaphore" },
  {
    name: "concurrency",
    file: "concurrency/index.ts",
    what: "100k tasks through KeyedSemaphore (1k keys) and WorkQueue: throughput and peak memory vs p-limit / p-queue"
  },
  { name: "db", file: "db/index.ts", what: "Db bulk insert vs raw better-sqlite3 and pg, batched vs one-by-one lookups, streaming memory" },
  { name: "files", file: "files/index.ts", what: "Files.lines over a ~1 GB file: throughput and peak RSS vs node:readline" },
  {
    name: "crawl",
    file: "crawl/index.ts",
    what: "crawl of a 10,000-page synthetic site at 0 and 20 ms: pages/s, peak RSS, CPU vs Crawlee and the ceiling; 1M-URL frontier RSS"
  },
  {
    name: "aggregator",
    file: "aggregator/index.ts",
    what: "50 symbols × 5 demo exchanges at 50 ms: tick concurrent vs sequential vs ideal; GET /api/prices/:symbol req/s and p99 vs bare node:http"
  }
]

const filter = process.argv[2]
let crashed = 0
for (const bench of benches) {
  if (filter !== undefined && !bench.name.includes(filter)) continue
  console.log(`\n### ${bench.name}: ${bench.what}`)
  const result = ChildProcess.spawnSync(process.execPath, ["--import", "tsx", Path.join(here, bench.file)], {
    stdio: "inherit",
    cwd: here
  })
  if (result.status !== 0) {
    crashed++
    console.log(`(${bench.name} exited with ${result.status ?? result.signal})`)
  }
}
if (crashed > 0) console.log(`\n${crashed} benchmark(s) crashed; see above.`)
