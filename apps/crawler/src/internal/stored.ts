/**
 * The options a crawl was started with, as `init` stored them in `meta`,
 * turned back into crawl options: what a worker joining the crawl runs
 * with, so every worker crawls the same scope with the same limits.
 *
 * @internal
 */
import type * as Frontier from "../Frontier.js"
import * as Options from "../Options.js"

/**
 * Options that belong to one process, not to the crawl: a joining worker
 * gives its own (or the defaults), never the seeding process's. `maxPages`
 * counts the pages of one process.
 */
const PER_PROCESS: ReadonlySet<string> = new Set(["out", "resume", "progress", "seeds", "maxPages"])

/**
 * The stored options known to this version (unknown keys, left by another
 * version, are dropped; `null` is the default), with the crawl's start URLs.
 * `Options.make` validates them like any other input.
 *
 * @internal
 */
export const options = (crawl: Frontier.Crawl): Partial<Options.Options> => {
  const stored = typeof crawl.options === "object" && crawl.options !== null ? crawl.options : {}
  const picked: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(stored)) {
    if (key in Options.defaults && !PER_PROCESS.has(key) && value !== null) picked[key] = value
  }
  return { ...(picked as Partial<Options.Options>), seeds: crawl.seeds }
}
