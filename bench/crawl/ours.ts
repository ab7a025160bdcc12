/**
 * Our crawler as a subject of the crawl benchmark: runs the crawler's CLI
 * (`apps/crawler/src/bin/crawl.ts`) in this very process, so the probe
 * preloaded by the orchestrator measures the crawler itself, with the
 * benchmark's flags turned into the CLI's:
 *
 *   crawl <url> --db <db-dir>/crawl.db --out <jsonl> --concurrency N --per-host N --max-depth D
 *
 * SQLite frontier, durability as the CLI defaults to (on). Exits 3 with
 * "skipped: …" on stderr when the CLI does not exist yet.
 *
 *   node --import tsx bench/crawl/ours.ts --url http://127.0.0.1:PORT/ --out pages.jsonl --db-dir /tmp/x \
 *     [--concurrency 32] [--max-depth 1000]
 */
import * as FS from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    out: { type: "string" },
    "db-dir": { type: "string" },
    concurrency: { type: "string", default: "32" },
    "max-depth": { type: "string", default: "1000" }
  }
})
if (values.url === undefined || values.out === undefined || values["db-dir"] === undefined) {
  process.stderr.write("ours: --url, --out and --db-dir are required\n")
  process.exit(2)
}

const cli = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../apps/crawler/src/bin/crawl.ts")
if (!FS.existsSync(cli)) {
  process.stderr.write("skipped: crawler CLI not available yet (apps/crawler/src/bin/crawl.ts)\n")
  process.exit(3)
}

// The CLI reads its arguments from process.argv, as when started as `tsx crawl.ts …`.
process.argv = [
  process.argv[0] ?? process.execPath,
  cli,
  values.url,
  "--db",
  Path.join(values["db-dir"], "crawl.db"),
  "--out",
  values.out,
  "--concurrency",
  values.concurrency,
  "--per-host",
  values.concurrency,
  "--max-depth",
  values["max-depth"]
]
await import(pathToFileURL(cli).href)
