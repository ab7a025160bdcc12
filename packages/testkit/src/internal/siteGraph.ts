/**
 * The shape of the synthetic site: which pages exist, where they live and
 * what each links to. Everything here is a pure function of the options; a
 * page's links are regenerated from its own seeded stream whenever they are
 * needed, so no page content is held in memory.
 *
 * @internal
 */
import type * as SyntheticSite from "../SyntheticSite.js"
import * as Assets from "./siteAssets.js"
import * as Prng from "./prng.js"

/** Page kinds: where a page lives and whether robots.txt lets crawlers in. */
export const KindPublic = 0
export const KindPrivate = 1
export const KindPrivateAllowed = 2

const SaltKind = 1
const SaltLinks = 2
const SaltTitle = 3
const SaltSitemap = 4
const SaltRedirect = 5

const privateShare = 0.07
const privateAllowedShare = 0.03

/**
 * How an in-site link is written. The rendered `href` always resolves (by
 * WHATWG URL rules, with the page's `<base>`) to the link's `path`.
 */
export type Style =
  | "root" // /p/5
  | "relative" // 5, ../p/5 — shortest relative reference from the base directory
  | "upRelative" // ../p/5 — up to the root, then down
  | "absolute" // http://HOST/p/5
  | "protocolRelative" // //HOST/p/5
  | "upperScheme" // HTTP://HOST/p/5
  | "dotSegment" // /p/./5
  | "parentSegment" // /q/../p/5
  | "fragment" // /p/5#s0

/** What a link points at; decides how ground truth counts it. */
export type LinkKind =
  | "page"
  | "variant"
  | "redirect"
  | "search"
  | "asset"
  | "broken"
  | "trap"
  | "external"

/**
 * One `<a href>`. `path` is the root-relative path (and query) the href
 * resolves to, or the verbatim href for `external`. `target` is the canonical
 * page id it leads to for `page`, `variant` and `redirect`, else -1.
 */
export interface Link {
  readonly kind: LinkKind
  readonly path: string
  readonly target: number
  readonly style: Style
}

/** A `<base href>`: how it is written and the directory it sets. */
export interface Base {
  readonly form: "path" | "absolute" | "protocolRelative"
  readonly dir: string
}

/** Everything needed to render one canonical page except its host. */
export interface PageSpec {
  readonly id: number
  readonly path: string
  readonly base: Base | undefined
  /** Directory relative links are resolved against (the base's, or the page's own). */
  readonly dir: string
  readonly links: ReadonlyArray<Link>
}

/** The precomputed structure: a few typed arrays, O(pages) memory. */
export interface Graph {
  readonly options: SyntheticSite.Options
  readonly seed: number
  readonly pages: number
  readonly branching: number
  readonly kinds: Uint8Array
  /** Canonical path by id, built once: links and ground truth name pages many times over. */
  readonly paths: ReadonlyArray<string>
  /** Depth in the spanning tree; pages deeper than `maxDepth` are orphans. */
  readonly treeDepth: Int32Array
  /** Targets of cross links: in-tree pages whose ancestors are all allowed kinds. */
  readonly open: Int32Array
  /** The subset of `open` that lives under `/p/` (targets of trailing-slash redirects). */
  readonly openPublic: Int32Array
  readonly redirectCount: number
}

/** Words and pages of the `/search` links; the search page itself answers any query. */
const searchWords: ReadonlyArray<string> = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
const searchPageCount = 3

const queryVariants: ReadonlyArray<string> = [
  "?ref=nav",
  "?ref=footer",
  "?utm_source=newsletter&utm_medium=email",
  "?sessionid=42"
]

/** Off-site hrefs: other schemes, and another origin on loopback (port 1, closed) so a buggy crawler stays local. */
const externalHrefs: ReadonlyArray<string> = [
  "mailto:webmaster@example.invalid",
  "javascript:void(0)",
  "tel:+15550100",
  "http://127.0.0.1:1/offsite/0",
  "http://127.0.0.1:1/offsite/1"
]

const brokenCount = 4

const bases: ReadonlyArray<Base> = [
  { form: "path", dir: "/" },
  { form: "path", dir: "/p/" },
  { form: "absolute", dir: "/deep/er/" },
  { form: "protocolRelative", dir: "/x/y/z/" },
  { form: "path", dir: "/private/public/" }
]

/** The first page of the calendar trap; month 0 of {@link trapPath}. */
const trapEntry = "/calendar/2024-01"

/** The calendar page `offset` months after January 2024 (negative: before). */
export const trapPath = (offset: number): string => {
  const month = 2024 * 12 + offset
  const year = Math.floor(month / 12)
  const m = month - year * 12 + 1
  return `/calendar/${String(year).padStart(4, "0")}-${m < 10 ? "0" : ""}${m}`
}

/** The month offset of a calendar path, or `undefined` when it is not one. */
export const parseTrapPath = (path: string): number | undefined => {
  const match = /^\/calendar\/(\d{4,6})-(0[1-9]|1[0-2])$/.exec(path)
  if (match === null) return undefined
  return Number(match[1]) * 12 + Number(match[2]) - 1 - 2024 * 12
}

const kindOf = (seed: number, id: number): number => {
  if (id === 0) return KindPublic
  const u = Prng.unit(Prng.hash(seed, id, SaltKind))
  return u < privateShare ? KindPrivate : u < privateShare + privateAllowedShare ? KindPrivateAllowed : KindPublic
}

export const make = (options: SyntheticSite.Options): Graph => {
  const seed = Prng.seed32(options.seed)
  const n = options.pages
  const branching = Math.max(1, Math.ceil(options.fanOut / 2))
  const kinds = new Uint8Array(n)
  const treeDepth = new Int32Array(n)
  // A page is "clear" when it and all its ancestors are of an allowed kind:
  // only children of clear pages are cross-link targets, so the subtree of a
  // private page is reachable through that page alone.
  const clear = new Uint8Array(n)
  const open: Array<number> = []
  const openPublic: Array<number> = []
  const paths: Array<string> = new Array(n)
  for (let id = 0; id < n; id++) {
    const kind = kindOf(seed, id)
    kinds[id] = kind
    paths[id] = id === 0
      ? "/"
      : kind === KindPrivate
      ? `/private/${id}`
      : kind === KindPrivateAllowed
      ? `/private/public/${id}`
      : `/p/${id}`
    const parent = id === 0 ? -1 : Math.floor((id - 1) / branching)
    const depth = parent < 0 ? 0 : (treeDepth[parent] ?? 0) + 1
    treeDepth[id] = depth
    const parentClear = parent < 0 || clear[parent] === 1
    clear[id] = parentClear && kind !== KindPrivate ? 1 : 0
    if (depth <= options.maxDepth && parentClear) {
      open.push(id)
      if (kind === KindPublic && id > 0) openPublic.push(id)
    }
  }
  return {
    options,
    seed,
    pages: n,
    branching,
    kinds,
    paths,
    treeDepth,
    open: Int32Array.from(open),
    openPublic: Int32Array.from(openPublic),
    redirectCount: Math.max(4, Math.ceil(n / 20))
  }
}

/** The canonical path of page `id`. */
export const pagePath = (graph: Graph, id: number): string => graph.paths[id] ?? "/"

const parseId = (graph: Graph, digits: string, kind: number): number | undefined => {
  if (!/^[1-9]\d{0,9}$/.test(digits)) return undefined
  const id = Number(digits)
  return id < graph.pages && graph.kinds[id] === kind ? id : undefined
}

/** The page whose canonical path is `path` (already percent-normalised), if any. */
export const parsePagePath = (graph: Graph, path: string): number | undefined => {
  if (path === "/") return 0
  if (path.startsWith("/p/")) return parseId(graph, path.slice(3), KindPublic)
  if (path.startsWith("/private/public/")) return parseId(graph, path.slice(16), KindPrivateAllowed)
  if (path.startsWith("/private/")) return parseId(graph, path.slice(9), KindPrivate)
  return undefined
}

const titleAdjectives: ReadonlyArray<string> = [
  "Amber", "Bright", "Calm", "Distant", "Early", "Faded", "Golden", "Hidden",
  "Idle", "Jolly", "Keen", "Lunar", "Misty", "Noble", "Olive", "Pale",
  "Quiet", "Rapid", "Silver", "Tidal", "Upper", "Vivid", "Wild", "Young"
]
const titleNouns: ReadonlyArray<string> = [
  "Anchor", "Bridge", "Canyon", "Delta", "Engine", "Forest", "Garden", "Harbor",
  "Island", "Journey", "Kettle", "Lantern", "Meadow", "Needle", "Orchard", "Prairie",
  "Quarry", "River", "Summit", "Tower", "Valley", "Window", "Yard", "Zephyr"
]

/** The `<title>` of page `id`: two seeded words and the id, so titles are unique. */
export const title = (graph: Graph, id: number): string => {
  const h = Prng.hash(graph.seed, id, SaltTitle)
  const adjective = titleAdjectives[h % titleAdjectives.length] ?? "Plain"
  const noun = titleNouns[(h >>> 8) % titleNouns.length] ?? "Page"
  return id === 0 ? `${adjective} ${noun} Home` : `${adjective} ${noun} ${id}`
}

/** Whether page `id` is listed in the sitemaps (when also politely reachable and allowed). */
export const sitemapCandidate = (graph: Graph, id: number): boolean =>
  id === 0 || Prng.unit(Prng.hash(graph.seed, id, SaltSitemap)) < 0.5

/** The final canonical page of `/go/<k>` (and of `/moved/<k>`, which redirects to it). */
export const redirectTarget = (graph: Graph, k: number): number =>
  graph.open[Prng.hash(graph.seed, k, SaltRedirect) % graph.open.length] ?? 0

/** Canonical pages of the spanning-tree children of `id` that are within `maxDepth`. */
const childrenOf = (graph: Graph, id: number): Array<number> => {
  const out: Array<number> = []
  const first = id * graph.branching + 1
  for (let c = first; c < first + graph.branching && c < graph.pages; c++) {
    if ((graph.treeDepth[c] ?? Infinity) <= graph.options.maxDepth) out.push(c)
  }
  return out
}

const pick = <A>(rng: Prng.Prng, items: ArrayLike<A>): A => items[rng.int(items.length)] as A

const pickStyle = (graph: Graph, rng: Prng.Prng): Style => {
  if (!graph.options.linkStyles) return "root"
  const u = rng.next()
  return u < 0.25 ? "root"
    : u < 0.45 ? "relative"
    : u < 0.55 ? "upRelative"
    : u < 0.67 ? "absolute"
    : u < 0.75 ? "protocolRelative"
    : u < 0.8 ? "upperScheme"
    : u < 0.87 ? "dotSegment"
    : u < 0.92 ? "parentSegment"
    : "fragment"
}

const dirOf = (path: string): string => path.slice(0, path.lastIndexOf("/") + 1)

const pageLink = (graph: Graph, rng: Prng.Prng, target: number): Link => ({
  kind: "page",
  path: pagePath(graph, target),
  target,
  style: pickStyle(graph, rng)
})

const variantLink = (graph: Graph, rng: Prng.Prng): Link => {
  const target = pick(rng, graph.open)
  const style = pickStyle(graph, rng)
  if (target === 0) return { kind: "variant", path: rng.chance(0.5) ? "/index.html" : "/?ref=home", target, style }
  if (graph.kinds[target] === KindPublic && rng.chance(0.3)) {
    // Percent-encode the first digit (unreserved, so equivalent): `/p/12` as `/p/%312`. Only the last
    // segment, so relative links on the variant resolve as on the canonical page.
    const digits = String(target)
    return { kind: "variant", path: `/p/%3${digits.charAt(0)}${digits.slice(1)}`, target, style }
  }
  return { kind: "variant", path: pagePath(graph, target) + pick(rng, queryVariants), target, style }
}

const redirectLink = (graph: Graph, rng: Prng.Prng): Link => {
  const style = pickStyle(graph, rng)
  const u = rng.next()
  if (u < 0.3 && graph.openPublic.length > 0) {
    const target = pick(rng, graph.openPublic)
    return { kind: "redirect", path: `/p/${target}/`, target, style }
  }
  const k = rng.int(graph.redirectCount)
  return { kind: "redirect", path: u < 0.65 ? `/go/${k}` : `/moved/${k}`, target: redirectTarget(graph, k), style }
}

/** A search link; the two parameters come in either order. */
const searchLink = (graph: Graph, rng: Prng.Prng): Link => {
  const word = pick(rng, searchWords)
  const page = 1 + rng.int(searchPageCount)
  const path = rng.chance(0.5) ? `/search?q=${word}&page=${page}` : `/search?page=${page}&q=${word}`
  return { kind: "search", path, target: -1, style: pickStyle(graph, rng) }
}

const assetLink = (graph: Graph, rng: Prng.Prng): Link => ({
  kind: "asset",
  path: pick(rng, Assets.all).path,
  target: -1,
  style: pickStyle(graph, rng)
})

const brokenLink = (graph: Graph, rng: Prng.Prng): Link => {
  const k = rng.int(brokenCount)
  return {
    kind: "broken",
    path: rng.chance(0.5) ? `/p/${graph.pages + k}` : `/missing/${k}`,
    target: -1,
    style: pickStyle(graph, rng)
  }
}

const externalLink = (rng: Prng.Prng): Link => ({
  kind: "external",
  path: pick(rng, externalHrefs),
  target: -1,
  style: "root"
})

/**
 * The links of page `id`, from its own seeded stream: Home, its tree
 * children, `fanOut - branching` cross links to open pages, then optional
 * extras (variants, redirects, assets, broken, search, external). The home
 * page carries one of every enabled extra plus the calendar trap entry, so
 * each feature is reachable at depth 1 on any site.
 */
export const pageSpec = (graph: Graph, id: number): PageSpec => {
  const o = graph.options
  const rng = Prng.make(Prng.hash(graph.seed, id, SaltLinks))
  const path = pagePath(graph, id)
  const base = o.linkStyles && id !== 0 && rng.chance(0.15) ? pick(rng, bases) : undefined
  const body: Array<Link> = []
  for (const child of childrenOf(graph, id)) body.push(pageLink(graph, rng, child))
  const cross = o.fanOut - graph.branching
  for (let i = 0; i < cross; i++) body.push(pageLink(graph, rng, pick(rng, graph.open)))
  const home = id === 0
  if (o.variants && (home || rng.chance(0.35))) body.push(variantLink(graph, rng))
  if (o.redirects && (home || rng.chance(0.3))) body.push(redirectLink(graph, rng))
  if (o.assets && (home || rng.chance(0.4))) body.push(assetLink(graph, rng))
  if (o.assets && rng.chance(0.15)) body.push(assetLink(graph, rng))
  if (o.broken && (home || rng.chance(0.15))) body.push(brokenLink(graph, rng))
  if (o.search && (home || rng.chance(0.25))) body.push(searchLink(graph, rng))
  if (o.external && (home || rng.chance(0.2))) body.push(externalLink(rng))
  if (o.trap && home) body.push({ kind: "trap", path: trapEntry, target: -1, style: pickStyle(graph, rng) })
  // Shuffle so tree links, cross links and extras are interleaved as on real pages.
  for (let i = body.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const tmp = body[i] as Link
    body[i] = body[j] as Link
    body[j] = tmp
  }
  const links: Array<Link> = [{ kind: "page", path: "/", target: 0, style: "root" }, ...body]
  return { id, path, base, dir: base === undefined ? dirOf(path) : base.dir, links }
}

/** The links of a calendar trap page: Home, the previous and the next month. */
export const trapLinks = (offset: number): ReadonlyArray<Link> => [
  { kind: "page", path: "/", target: 0, style: "root" },
  { kind: "trap", path: trapPath(offset - 1), target: -1, style: "relative" },
  { kind: "trap", path: trapPath(offset + 1), target: -1, style: "relative" }
]
