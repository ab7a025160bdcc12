/**
 * A deterministic website generated from a seed, with the ground truth a
 * crawler's result can be compared against. It is a crawler's test bed:
 * robots.txt, sitemaps (plain, index, gzipped), canonical links and URL
 * variants, links written in every style (relative, root-relative, absolute,
 * protocol-relative, under `<base href>`, with dot segments, fragments and
 * percent-encoding), non-HTML assets, broken links, redirects and an
 * infinite calendar trap.
 *
 * ## The site
 *
 * - Page `0` is `/`; page `id` lives at `/p/<id>`, or under `/private/<id>`
 *   (disallowed by robots.txt), or `/private/public/<id>` (re-allowed by an
 *   `Allow` line). Every page has a unique seeded `<title>` and a
 *   `<link rel="canonical">` with an absolute URL.
 * - Pages form a spanning tree in breadth-first order with
 *   `ceil(fanOut / 2)` children each; the rest of the `fanOut` links are
 *   cross links to random reachable pages. Pages deeper than `maxDepth` in
 *   that tree are orphans: served on request, linked from no reachable page,
 *   listed in `groundTruth.unreachable`. (With the defaults a 4-ary tree to
 *   depth 8 holds 87,381 pages, so smaller sites have no orphans; lower
 *   `maxDepth` to get some.) Cross links never enter the subtree of a
 *   private page, so its descendants are reachable only through it.
 * - URL variants serve a page's content under another URL and declare the
 *   canonical one: `?ref=…`/`?utm_…` queries, `/index.html`, and `/p/%312`
 *   for `/p/12` (a percent-encoded unreserved character, only in the last
 *   segment so relative links resolve as on the canonical page). Links
 *   written with `/./`, `/q/../`, `HTTP://` or a `#fragment` resolve (WHATWG
 *   URL) straight to the canonical URL.
 * - Redirects: `/go/<k>` (301 to a page), `/moved/<k>` (302 to `/go/<k>`, two
 *   hops) and `/p/<id>/` (301 to `/p/<id>`). Broken links: `/p/<pages + k>`,
 *   `/missing/<k>` (404). Assets: PNG, CSS and PDF under `/assets/`. Off-site
 *   links: `mailto:`, `tel:`, `javascript:` and `http://127.0.0.1:1/…`.
 * - `/search?q=…&page=…` is linked with its parameters in both orders and has
 *   no canonical link: the two orders are one page only for a crawler that
 *   sorts query parameters.
 * - The home page links `/calendar/2024-01`, whose previous and next months
 *   link on forever. The trap is not disallowed, so only a depth (or page)
 *   limit stops a crawler; it is kept out of `reachable`, and
 *   `groundTruth.trap.within(maxDepth)` lists the months a crawler limited
 *   to `maxDepth` fetches.
 * - Sitemaps list a subset (about half) of the pages a polite crawler
 *   reaches that robots.txt allows, never anything else, so seeding a crawl
 *   from them changes depths but not the set of pages.
 *
 * Depth is link distance from `/`. Redirect hops and variants do not add to
 * it: a link at depth `d` to `/go/3` reaches the target page at `d + 1`.
 *
 * Absolute URLs in replies are built from the request's `Host` header, so a
 * site is independent of the port it is served on. `make` is pure and cheap
 * (10,000 pages and their ground truth in about 0.1 s); pages are rendered
 * on request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SyntheticSite, TestServer } from "@fiberkit/testkit"
 *
 * const program = Effect.gen(function*() {
 *   const site = yield* SyntheticSite.SyntheticSite
 *   const server = yield* TestServer.TestServer
 *   // ... crawl server.url, then compare with:
 *   const expected = site.groundTruth.expected({ maxDepth: 10, polite: true })
 * }).pipe(Effect.provide(SyntheticSite.layer({ pages: 200, seed: 7 })))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Graph from "./internal/siteGraph.js"
import * as Handler from "./internal/siteHandler.js"
import * as Sitemap from "./internal/siteSitemap.js"
import * as Truth from "./internal/siteTruth.js"
import type * as Route from "./Route.js"
import * as TestServer from "./TestServer.js"

/**
 * How the site is generated. Every field has a default (see
 * {@link defaults}); the feature toggles are all on by default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Seed of everything random: page kinds, links, titles, text. Any safe integer. Default `1`. */
  readonly seed: number
  /** Number of canonical HTML pages, `/` included (trap and search pages come on top). Default `100`. */
  readonly pages: number
  /** Links from each page to other canonical pages (tree children plus cross links), Home excluded. Default `8`. */
  readonly fanOut: number
  /** Pages deeper than this in the spanning tree are unreachable orphans. Default `8`. */
  readonly maxDepth: number
  /** Approximate size of each canonical page in bytes, reached by padding with lorem text. Default `2048`. */
  readonly pageBytes: number
  /** Latency of every reply. Default `0`. */
  readonly latency: Route.Latency
  /** `Crawl-delay` in robots.txt, in seconds; `0` leaves the line out. Default `0.01`. */
  readonly crawlDelay: number
  /** Serve robots.txt (and disallow `/private/`); off: robots.txt is a 404 and nothing is disallowed. */
  readonly robots: boolean
  /** Serve sitemaps and announce them in robots.txt. */
  readonly sitemaps: boolean
  /** Link URL variants of pages (queries, `/index.html`, percent-encoded digits). */
  readonly variants: boolean
  /** Write links in every style and give some pages a `<base href>`; off: root-relative links only. */
  readonly linkStyles: boolean
  /** Serve and link redirects. */
  readonly redirects: boolean
  /** Link URLs that answer 404. */
  readonly broken: boolean
  /** Serve and link PNG, CSS and PDF files. */
  readonly assets: boolean
  /** Serve and link `/search` pages. */
  readonly search: boolean
  /** Link off-site URLs and other schemes. */
  readonly external: boolean
  /** Serve and link the infinite calendar. */
  readonly trap: boolean
}

/**
 * The default options: a 100-page test site with every feature on.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Options = {
  seed: 1,
  pages: 100,
  fanOut: 8,
  maxDepth: 8,
  pageBytes: 2048,
  latency: 0,
  crawlDelay: 0.01,
  robots: true,
  sitemaps: true,
  variants: true,
  linkStyles: true,
  redirects: true,
  broken: true,
  assets: true,
  search: true,
  external: true,
  trap: true
}

/**
 * An option is out of range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  readonly option: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    const value = typeof this.value === "object" && this.value !== null
      ? JSON.stringify(this.value)
      : String(this.value)
    return `SyntheticSite: option "${this.option}" is ${value}; expected ${this.expected}.`
  }
}

/**
 * A canonical page of the site.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly id: number
  /** The canonical path, e.g. `/p/12`. */
  readonly path: string
  readonly title: string
  /** Shortest link distance from `/`; `undefined` when unreachable. */
  readonly depth: number | undefined
  /** The same for a crawler that never requests a URL robots.txt disallows; `undefined` when it never gets there. */
  readonly politeDepth: number | undefined
  /** Whether robots.txt disallows this page for `*`. */
  readonly disallowed: boolean
  /** Whether the sitemaps list this page. */
  readonly inSitemap: boolean
}

/**
 * A URL some reachable page links to that is not a canonical page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Linked {
  /** Root-relative path and query the link resolves to (fragment dropped), e.g. `/go/3`. */
  readonly path: string
  /**
   * The depth at which a breadth-first crawl first requests it: one more
   * than the shallowest reachable page linking to it (or to a redirect
   * passing through it).
   */
  readonly depth: number
  /** The same for a polite crawler; `undefined` when it never requests this URL. */
  readonly politeDepth: number | undefined
}

/**
 * A linked non-HTML file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Asset extends Linked {
  readonly contentType: string
}

/**
 * A linked URL that serves a page's content and names another URL canonical.
 *
 * @since 0.1.0
 * @category models
 */
export interface Variant extends Linked {
  readonly canonical: string
}

/**
 * A URL a crawl requests that redirects: a linked one, or an intermediate hop
 * of one (`/moved/<k>` goes through `/go/<k>`, listed at the same depth).
 * `target` is the canonical page the chain ends on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Redirect extends Linked {
  readonly status: 301 | 302
  /** The first hop as a path (the header itself may be absolute). */
  readonly location: string
  readonly target: string
}

/**
 * A linked search page; `sorted` is its path with the query parameters
 * sorted (as `URLSearchParams.sort`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SearchPage extends Linked {
  readonly sorted: string
}

/**
 * A linked off-site URL (another origin, or a non-HTTP scheme).
 *
 * @since 0.1.0
 * @category models
 */
export interface External {
  /** The href exactly as written. */
  readonly href: string
  readonly depth: number
  readonly politeDepth: number | undefined
}

/**
 * The infinite calendar: `entry` is at `depth` and each further month is one
 * link deeper, in both directions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Trap {
  readonly entry: string
  readonly depth: number
  readonly politeDepth: number | undefined
  /** The calendar pages at depth `<= maxDepth` (finite `maxDepth` only; throws a `RangeError` otherwise). */
  readonly within: (maxDepth: number) => ReadonlyArray<string>
}

/**
 * What a crawl from `/` should find, computed by breadth-first search over
 * the generated link graph. Paths are root-relative; turn them into URLs
 * with {@link url}.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroundTruth {
  /** Every canonical page, reachable or not, indexed by id. */
  readonly pages: ReadonlyArray<Page>
  /** Canonical pages reachable from `/` by links, by depth. */
  readonly reachable: ReadonlyArray<string>
  /** Canonical pages a robots-respecting crawler reaches: never fetching disallowed URLs nor following their links. */
  readonly reachablePolite: ReadonlyArray<string>
  /** Reachable pages that robots.txt disallows. */
  readonly disallowed: ReadonlyArray<string>
  /** Orphan pages: served, but linked from no reachable page. */
  readonly unreachable: ReadonlyArray<string>
  /** Pages listed in the sitemaps (all of them also in `reachablePolite`). */
  readonly sitemap: ReadonlyArray<string>
  readonly variants: ReadonlyArray<Variant>
  readonly redirects: ReadonlyArray<Redirect>
  readonly search: ReadonlyArray<SearchPage>
  readonly assets: ReadonlyArray<Asset>
  /** Linked URLs that answer 404. */
  readonly broken: ReadonlyArray<Linked>
  readonly external: ReadonlyArray<External>
  /** `undefined` when the trap is off. */
  readonly trap: Trap | undefined
  /** The canonical page at `path`. */
  readonly page: (path: string) => Page | undefined
  /**
   * The distinct HTML documents a crawl from `/` limited to `maxDepth`
   * should end with, identifying a page by its canonical link (or by its
   * URL when it has none, as search pages): canonical pages, calendar pages
   * and search pages, sorted. `polite` follows robots.txt; `sortQuery`
   * treats search URLs differing only in parameter order as one.
   */
  readonly expected: (options: {
    readonly maxDepth: number
    readonly polite?: boolean
    readonly sortQuery?: boolean
  }) => ReadonlyArray<string>
}

/**
 * A generated site: mount `routes` on a {@link TestServer.TestServer}, or call
 * `handle` directly.
 *
 * @since 0.1.0
 * @category models
 */
export interface Site {
  readonly options: Options
  /** One catch-all route answering every path with `handle`. */
  readonly routes: ReadonlyArray<Route.Route>
  readonly handle: (request: Route.IncomingRequest) => Route.Reply
  readonly groundTruth: GroundTruth
}

const isLatency = (latency: Route.Latency): boolean =>
  typeof latency === "number"
    ? Number.isFinite(latency) && latency >= 0
    : Number.isFinite(latency.max) && latency.min >= 0 && latency.min <= latency.max

const resolve = (options: Partial<Options>): Options => {
  // An explicit `undefined` means "the default", as if the key were absent.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
  const o: Options = { ...defaults, ...given }
  const check = (ok: boolean, option: keyof Options, expected: string): void => {
    if (!ok) throw new InvalidOptions({ option, value: o[option], expected })
  }
  check(Number.isSafeInteger(o.seed), "seed", "a safe integer")
  check(Number.isInteger(o.pages) && o.pages >= 1 && o.pages <= 10_000_000, "pages", "an integer from 1 to 10000000")
  check(Number.isInteger(o.fanOut) && o.fanOut >= 1 && o.fanOut <= 1000, "fanOut", "an integer from 1 to 1000")
  check(
    Number.isInteger(o.maxDepth) && o.maxDepth >= 0 && o.maxDepth <= 100_000,
    "maxDepth",
    "an integer from 0 to 100000"
  )
  check(
    Number.isInteger(o.pageBytes) && o.pageBytes >= 0 && o.pageBytes <= 64 * 1024 * 1024,
    "pageBytes",
    "an integer from 0 to 67108864"
  )
  check(isLatency(o.latency), "latency", "milliseconds >= 0, or { min, max } with 0 <= min <= max")
  check(Number.isFinite(o.crawlDelay) && o.crawlDelay >= 0, "crawlDelay", "seconds >= 0")
  return o
}

/**
 * Generates a site. Pure and deterministic: the same options give the same
 * pages, links and ground truth. Throws {@link InvalidOptions} when an
 * option is out of range.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Partial<Options> = {}): Site => {
  const resolved = resolve(options)
  const graph = Graph.make(resolved)
  const groundTruth = Truth.compute(graph)
  const handle = Handler.make(graph, Sitemap.make(groundTruth.sitemap))
  return {
    options: resolved,
    routes: [{ path: "/*", handler: handle }],
    handle,
    groundTruth
  }
}

/**
 * The site served by the {@link TestServer.TestServer} of {@link layer}.
 *
 * @since 0.1.0
 * @category tags
 */
export class SyntheticSite extends Context.Tag("@fiberkit/testkit/SyntheticSite")<SyntheticSite, Site>() {}

/**
 * Generates a site and serves it on a new {@link TestServer.TestServer}
 * (started with `server`; routes given there are added after the site's
 * catch-all route, so they take precedence).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Partial<Options> & { readonly server?: TestServer.Options } = {}
): Layer.Layer<SyntheticSite | TestServer.TestServer, InvalidOptions> => {
  const { server = {}, ...siteOptions } = options
  return Layer.unwrapEffect(
    Effect.suspend(() => {
      let site: Site
      try {
        site = make(siteOptions)
      } catch (error) {
        // Anything but InvalidOptions is a bug in the generator: let it die.
        if (error instanceof InvalidOptions) return Effect.fail(error)
        throw error
      }
      return Effect.succeed(Layer.merge(
        Layer.succeed(SyntheticSite, site),
        TestServer.layer({ ...server, routes: [...site.routes, ...(server.routes ?? [])] })
      ))
    })
  )
}

/**
 * The absolute URL of a ground-truth `path` on a site served at `base`
 * (e.g. `TestServer.url`). Curried, so it maps over path lists directly.
 *
 * @example
 * ```ts
 * const urls = site.groundTruth.reachable.map(SyntheticSite.url(server.url))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const url = (base: string) => (path: string): string => new URL(path, base).href
