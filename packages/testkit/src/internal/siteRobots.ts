/**
 * The synthetic site's robots.txt: the rules as data, the file rendered from
 * them, and the matcher ground truth uses, so the three cannot disagree.
 *
 * @internal
 */
import type * as SyntheticSite from "../SyntheticSite.js"
import * as Sitemap from "./siteSitemap.js"

interface Rule {
  readonly allow: boolean
  readonly prefix: string
}

/**
 * Rules of the `*` group. `Allow` comes first so that first-match parsers
 * (the original 1994 convention) and longest-match parsers (RFC 9309) agree.
 */
const rules: ReadonlyArray<Rule> = [
  { allow: true, prefix: "/private/public/" },
  { allow: false, prefix: "/private/" }
]

/** A user agent shut out entirely, to check crawlers pick their own group. */
export const excludedAgent = "ExcludedBot"

/**
 * Whether a crawler in the `*` group may fetch `path` (path and query,
 * root-relative). Longest matching rule wins; no rule means allowed.
 */
export const isAllowed = (options: SyntheticSite.Options, path: string): boolean => {
  if (!options.robots) return true
  let best: Rule | undefined
  for (const rule of rules) {
    if (path.startsWith(rule.prefix) && (best === undefined || rule.prefix.length > best.prefix.length)) best = rule
  }
  return best === undefined || best.allow
}

/** robots.txt for requests to `origin` (e.g. `http://127.0.0.1:8099`). */
export const render = (options: SyntheticSite.Options, origin: string): string => {
  const lines = [
    `# Synthetic site, seed ${options.seed}`,
    `User-agent: ${excludedAgent}`,
    "Disallow: /",
    "",
    "User-agent: *",
    ...rules.map((rule) => `${rule.allow ? "Allow" : "Disallow"}: ${rule.prefix}`)
  ]
  if (options.crawlDelay > 0) lines.push(`Crawl-delay: ${options.crawlDelay}`)
  if (options.sitemaps) {
    lines.push("")
    lines.push(`Sitemap: ${origin}${Sitemap.rootPath}`, `Sitemap: ${origin}${Sitemap.indexPath}`)
  }
  return lines.join("\n") + "\n"
}
