#!/usr/bin/env tsx
/**
 * Serves a synthetic site as a standalone process, for benchmarks and manual
 * crawls:
 *
 * ```sh
 * npm run site -- --pages 10000 --page-kb 30 --latency 20 --port 8099
 * ```
 *
 * Prints one line with the URL and the ground-truth sizes, then serves until
 * SIGINT or SIGTERM and exits 0. Bad flags exit 2. The request log is off so
 * memory stays flat however long it runs.
 *
 * `npm run` does not pass a SIGTERM sent to npm itself on to the server (a
 * terminal's Ctrl-C reaches the whole process group and works): harnesses
 * should spawn `tsx packages/testkit/src/bin/site.ts` directly, or signal the
 * process group.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Route from "../Route.js"
import * as SyntheticSite from "../SyntheticSite.js"
import * as TestServer from "../TestServer.js"

const d = SyntheticSite.defaults

const usage = `Usage: npm run site -- [options]

Serves a deterministic synthetic website (see SyntheticSite) on 127.0.0.1.

  --pages N          canonical HTML pages, / included (default ${d.pages})
  --page-kb KB       approximate size of each page in KiB (default ${d.pageBytes / 1024})
  --fan-out N        links from each page to other pages (default ${d.fanOut})
  --max-depth N      pages deeper in the link tree are unreachable orphans (default ${d.maxDepth})
  --latency MS       latency of every reply: MS or MIN-MAX milliseconds (default 0)
  --crawl-delay S    Crawl-delay in robots.txt, seconds (default: none)
  --seed N           seed of the generator (default ${d.seed})
  --port N           port; 0 picks a free one (default 8099)
  --host H           address to bind (default 127.0.0.1)
  --no-robots --no-sitemaps --no-variants --no-link-styles --no-redirects
  --no-broken --no-assets --no-search --no-external --no-trap
                     turn a feature off (all are on by default)
  -h, --help         show this help
`

/** Each `--no-*` flag and the feature it turns off. */
const toggles = {
  "no-robots": "robots",
  "no-sitemaps": "sitemaps",
  "no-variants": "variants",
  "no-link-styles": "linkStyles",
  "no-redirects": "redirects",
  "no-broken": "broken",
  "no-assets": "assets",
  "no-search": "search",
  "no-external": "external",
  "no-trap": "trap"
} as const satisfies Record<string, keyof SyntheticSite.Options>

const flags = {
  pages: { type: "string" },
  "page-kb": { type: "string" },
  "fan-out": { type: "string" },
  "max-depth": { type: "string" },
  latency: { type: "string" },
  "crawl-delay": { type: "string" },
  seed: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  help: { type: "boolean", short: "h" },
  "no-robots": { type: "boolean" },
  "no-sitemaps": { type: "boolean" },
  "no-variants": { type: "boolean" },
  "no-link-styles": { type: "boolean" },
  "no-redirects": { type: "boolean" },
  "no-broken": { type: "boolean" },
  "no-assets": { type: "boolean" },
  "no-search": { type: "boolean" },
  "no-external": { type: "boolean" },
  "no-trap": { type: "boolean" }
} as const

class UsageError extends Error {}

const integer = (flag: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got "${text}"`)
  }
  return n
}

const decimal = (flag: string, text: string): number => {
  const n = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n)) {
    throw new UsageError(`--${flag} must be a non-negative number, got "${text}"`)
  }
  return n
}

const latency = (text: string): Route.Latency => {
  const range = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(text)
  if (range === null) return decimal("latency", text)
  const min = Number(range[1])
  const max = Number(range[2])
  if (min > max) throw new UsageError(`--latency range must be MIN-MAX with MIN <= MAX, got "${text}"`)
  return { min, max }
}

interface Config {
  readonly site: Partial<SyntheticSite.Options>
  readonly port: number
  readonly host: string
}

const parse = (argv: ReadonlyArray<string>): Config | "help" => {
  const { values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: flags })
  if (values.help === true) return "help"
  const site: { -readonly [K in keyof SyntheticSite.Options]?: SyntheticSite.Options[K] } = {
    // The library defaults to a test site's 0.01 s; a benchmark server has none unless asked.
    crawlDelay: values["crawl-delay"] === undefined ? 0 : decimal("crawl-delay", values["crawl-delay"]),
    ...(values.pages === undefined ? {} : { pages: integer("pages", values.pages, 1, 10_000_000) }),
    ...(values["fan-out"] === undefined ? {} : { fanOut: integer("fan-out", values["fan-out"], 1, 1000) }),
    ...(values["max-depth"] === undefined ? {} : { maxDepth: integer("max-depth", values["max-depth"], 0, 100_000) }),
    ...(values["page-kb"] === undefined
      ? {}
      : { pageBytes: Math.round(decimal("page-kb", values["page-kb"]) * 1024) }),
    ...(values.latency === undefined ? {} : { latency: latency(values.latency) }),
    ...(values.seed === undefined
      ? {}
      : { seed: integer("seed", values.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) })
  }
  for (const flag of Object.keys(toggles) as Array<keyof typeof toggles>) site[toggles[flag]] = values[flag] !== true
  const port = values.port === undefined ? 8099 : integer("port", values.port, 0, 65535)
  const host = values.host ?? "127.0.0.1"
  if (host.length === 0) throw new UsageError("--host must not be empty")
  return { site, port, host }
}

function usageFailure(message: string): never {
  process.stderr.write(`site: ${message}\nRun with --help for usage.\n`)
  process.exit(2)
}

/** parseArgs reports unknown or malformed flags as errors with an `ERR_PARSE_ARGS_*` code. */
const isFlagError = (error: unknown): error is Error =>
  error instanceof UsageError || error instanceof SyntheticSite.InvalidOptions ||
  (error instanceof Error && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))

let config: Config | "help"
let site: SyntheticSite.Site
try {
  config = parse(process.argv.slice(2))
  if (config === "help") {
    process.stdout.write(usage)
    process.exit(0)
  }
  site = SyntheticSite.make(config.site)
} catch (error) {
  if (!isFlagError(error)) throw error
  usageFailure(error.message)
}
const { port, host } = config

const program = Effect.scoped(Effect.gen(function*() {
  const server = yield* TestServer.make({ routes: site.routes, port, hostname: host, log: false })
  const truth = site.groundTruth
  process.stdout.write(
    `synthetic site ${server.url} seed=${site.options.seed} pages=${site.options.pages} ` +
      `reachable=${truth.reachable.length} polite=${truth.reachablePolite.length} ` +
      `disallowed=${truth.disallowed.length} unreachable=${truth.unreachable.length} ` +
      `sitemap=${truth.sitemap.length} page-bytes=${site.options.pageBytes}\n`
  )
  return yield* Effect.never
}))

const fiber = Effect.runFork(program)
const stop = (): void => {
  Effect.runFork(Fiber.interrupt(fiber))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    process.stderr.write(`site: ${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
