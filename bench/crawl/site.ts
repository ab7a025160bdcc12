/**
 * The site every subject of the crawl benchmark crawls, described once so
 * that the served site (the `site` bin's flags), the ceiling's URL list and
 * the orchestrator's check all agree.
 *
 * A "plain" synthetic site: robots.txt on (it disallows `/private/`, so a
 * polite crawler reaches about two thirds of the pages) and links written
 * in every style (relative, `../`, absolute, protocol-relative, `HTTP://`,
 * dot segments, fragments, `<base href>`), so link resolution is real work.
 * Everything that would make a crawler request URLs that are not pages is
 * off: URL variants, redirects, broken links, assets, search pages,
 * off-site links, sitemaps and the calendar trap. Those are correctness
 * features, and the crawlers treat them differently by design (Crawlee does
 * not dedup by `<link rel=canonical>`, follows no sitemaps by default, has no
 * depth limit for the trap in its defaults), so keeping them would measure
 * different amounts of work, not throughput. With them off, every request a
 * crawler makes beyond robots.txt is one expected page, and the ceiling
 * fetches exactly the same set.
 */
import { SyntheticSite } from "@fiberkit/testkit"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** Seed of the generated site; fixed so every run crawls the same graph. */
export const seed = 1

/**
 * Depth limit given to every crawler. With the trap off nothing is deeper
 * than a few links, so it only has to be large enough never to bind.
 */
export const maxDepth = 1000

/** What the benchmark varies. */
export interface Shape {
  readonly pages: number
  readonly pageKb: number
  readonly latencyMs: number
}

/** The `SyntheticSite` options of the benchmark site. */
export const options = (shape: Shape): Partial<SyntheticSite.Options> => ({
  seed,
  pages: shape.pages,
  // Same rounding as the `site` bin's `--page-kb`.
  pageBytes: Math.round(shape.pageKb * 1024),
  latency: shape.latencyMs,
  crawlDelay: 0,
  robots: true,
  linkStyles: true,
  sitemaps: false,
  variants: false,
  redirects: false,
  broken: false,
  assets: false,
  search: false,
  external: false,
  trap: false
})

/** The flags of `packages/testkit/src/bin/site.ts` that serve {@link options}. */
export const binFlags = (shape: Shape): Array<string> => [
  "--pages",
  String(shape.pages),
  "--page-kb",
  String(shape.pageKb),
  "--latency",
  String(shape.latencyMs),
  "--seed",
  String(seed),
  "--port",
  "0",
  "--no-sitemaps",
  "--no-variants",
  "--no-redirects",
  "--no-broken",
  "--no-assets",
  "--no-search",
  "--no-external",
  "--no-trap"
]

/** The generated site (pure; about 0.1 s for 10,000 pages). */
export const make = (shape: Shape): SyntheticSite.Site => SyntheticSite.make(options(shape))

/** Root-relative paths of the pages a polite crawl from `/` ends with. */
export const expectedPaths = (site: SyntheticSite.Site): ReadonlyArray<string> =>
  site.groundTruth.expected({ maxDepth, polite: true })

/** A site server running in its own process. */
export interface Server {
  readonly url: string
  readonly stop: () => Promise<void>
}

const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/**
 * Starts `npm run site` for `shape` in a child process (its command passed
 * through `wrap`, e.g. to pin it to a CPU) and resolves once it serves.
 */
export const start = (
  shape: Shape,
  wrap: (command: ReadonlyArray<string>) => ReadonlyArray<string> = (command) => command
): Promise<Server> =>
  new Promise((resolve, reject) => {
    const node = [process.execPath, "--import", "tsx", Path.join(repoRoot, "packages/testkit/src/bin/site.ts"), ...binFlags(shape)]
    const [command, ...args] = wrap(node)
    const child = ChildProcess.spawn(command ?? process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    let out = ""
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const match = /synthetic site (\S+)/.exec(out)
      if (match?.[1] === undefined) return
      child.stdout.off("data", onData)
      resolve({
        url: match[1].endsWith("/") ? match[1] : `${match[1]}/`,
        stop: () => {
          child.kill("SIGTERM")
          return exited
        }
      })
    }
    child.stdout.on("data", onData)
    child.once("exit", (code) => reject(new Error(`the site exited with ${code} before serving: ${out}`)))
  })
