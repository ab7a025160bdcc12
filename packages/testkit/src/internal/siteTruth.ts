/**
 * Ground truth of the synthetic site: two breadth-first searches over the
 * generated link graph from `/`, one following every link and one that never
 * requests a URL robots.txt disallows.
 *
 * Redirect hops and URL variants do not add depth: a link at depth `d` to a
 * redirect or a variant reaches its canonical page at depth `d + 1`.
 *
 * @internal
 */
import type * as SyntheticSite from "../SyntheticSite.js"
import * as Assets from "./siteAssets.js"
import * as Graph from "./siteGraph.js"
import { KindPrivate, KindPrivateAllowed, KindPublic } from "./siteGraph.js"
import * as Robots from "./siteRobots.js"

interface Best {
  depth: number
  politeDepth: number
  readonly link: Graph.Link
}

const keep = (into: Map<string, Best>, link: Graph.Link, depth: number, politeDepth: number): void => {
  const seen = into.get(link.path)
  if (seen === undefined) {
    into.set(link.path, { depth, politeDepth, link })
    return
  }
  if (depth < seen.depth) seen.depth = depth
  if (politeDepth >= 0 && (seen.politeDepth < 0 || politeDepth < seen.politeDepth)) seen.politeDepth = politeDepth
}

const byDepthThenPath = <A extends { readonly depth: number; readonly path: string }>(a: A, b: A): number =>
  a.depth - b.depth || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

const optional = (n: number): number | undefined => (n < 0 ? undefined : n)

/** The hops a redirect link takes before landing on its canonical page. */
const redirectHops = (link: Graph.Link): ReadonlyArray<string> => {
  const moved = /^\/moved\/(\d+)$/.exec(link.path)
  return moved === null ? [link.path] : [link.path, `/go/${moved[1]}`]
}

const redirectStatus = (path: string): 301 | 302 => (path.startsWith("/moved/") ? 302 : 301)

const redirectLocation = (graph: Graph.Graph, link: Graph.Link): string =>
  link.path.startsWith("/moved/") ? link.path.replace("/moved/", "/go/") : Graph.pagePath(graph, link.target)

const sortedQuery = (path: string): string => {
  const q = path.indexOf("?")
  if (q < 0) return path
  const params = new URLSearchParams(path.slice(q + 1))
  params.sort()
  return `${path.slice(0, q)}?${params.toString()}`
}

export const compute = (graph: Graph.Graph): SyntheticSite.GroundTruth => {
  const o = graph.options
  const n = graph.pages
  const allowed = (path: string): boolean => Robots.isAllowed(o, path)
  // Robots rules only look at the directory, which a page's kind decides: one check per kind, not per link.
  const kindAllowed = [KindPublic, KindPrivate, KindPrivateAllowed].map((kind) => {
    const id = graph.kinds.indexOf(kind)
    return id < 0 || allowed(Graph.pagePath(graph, id))
  })
  const pageAllowed = (id: number): boolean => kindAllowed[graph.kinds[id] ?? 0] === true

  // Pass 1: every link. Edges to canonical pages are kept (with whether a
  // polite crawler may take them) for pass 2; everything else is a leaf.
  const depth = new Int32Array(n).fill(-1)
  const edges: Array<Array<number>> = new Array(n)
  const edgePolite: Array<Array<boolean>> = new Array(n)
  const leaves: Array<{ readonly from: number; readonly link: Graph.Link }> = []
  const queue = new Int32Array(n)
  let head = 0
  let tail = 0
  depth[0] = 0
  queue[tail++] = 0
  while (head < tail) {
    const u = queue[head++] ?? 0
    const du = depth[u] ?? 0
    const out: Array<number> = []
    const outPolite: Array<boolean> = []
    for (const link of Graph.pageSpec(graph, u).links) {
      if (link.kind === "page" || link.kind === "variant" || link.kind === "redirect") {
        const viaAllowed = link.kind === "page" ||
          (link.kind === "redirect" ? redirectHops(link).every(allowed) : allowed(link.path))
        out.push(link.target)
        outPolite.push(viaAllowed && pageAllowed(link.target))
        if (depth[link.target] === -1) {
          depth[link.target] = du + 1
          queue[tail++] = link.target
        }
      }
      if (link.kind === "redirect") {
        // Every hop is a URL the crawler requests, at the depth of the link.
        for (const hop of redirectHops(link)) {
          leaves.push({ from: u, link: hop === link.path ? link : { ...link, path: hop } })
        }
      } else if (link.kind !== "page") {
        leaves.push({ from: u, link })
      }
    }
    edges[u] = out
    edgePolite[u] = outPolite
  }

  // Pass 2: only pages a robots-respecting crawler fetches, through links it may follow.
  const polite = new Int32Array(n).fill(-1)
  head = 0
  tail = 0
  polite[0] = 0
  queue[tail++] = 0
  while (head < tail) {
    const u = queue[head++] ?? 0
    const out = edges[u] ?? []
    const ok = edgePolite[u] ?? []
    for (let i = 0; i < out.length; i++) {
      const v = out[i] ?? 0
      if (ok[i] === true && polite[v] === -1) {
        polite[v] = (polite[u] ?? 0) + 1
        queue[tail++] = v
      }
    }
  }

  const byKind = new Map<Graph.LinkKind, Map<string, Best>>()
  for (const { from, link } of leaves) {
    let into = byKind.get(link.kind)
    if (into === undefined) {
      into = new Map()
      byKind.set(link.kind, into)
    }
    const pu = polite[from] ?? -1
    const politelyFetched = pu >= 0 && (link.kind === "external" || allowed(link.path))
    keep(into, link, (depth[from] ?? 0) + 1, politelyFetched ? pu + 1 : -1)
  }
  const leafList = (kind: Graph.LinkKind): Array<Best> =>
    Array.from(byKind.get(kind)?.values() ?? []).sort((a, b) => byDepthThenPath(
      { depth: a.depth, path: a.link.path },
      { depth: b.depth, path: b.link.path }
    ))
  const linked = (best: Best): SyntheticSite.Linked => ({
    path: best.link.path,
    depth: best.depth,
    politeDepth: optional(best.politeDepth)
  })

  const pages: Array<SyntheticSite.Page> = new Array(n)
  const byPath = new Map<string, SyntheticSite.Page>()
  for (let id = 0; id < n; id++) {
    const path = Graph.pagePath(graph, id)
    const pd = polite[id] ?? -1
    const disallowed = !pageAllowed(id)
    const page: SyntheticSite.Page = {
      id,
      path,
      title: Graph.title(graph, id),
      depth: optional(depth[id] ?? -1),
      politeDepth: optional(pd),
      disallowed,
      inSitemap: o.sitemaps && pd >= 0 && !disallowed && Graph.sitemapCandidate(graph, id)
    }
    pages[id] = page
    byPath.set(path, page)
  }
  const ordered = (select: (page: SyntheticSite.Page) => number | undefined): Array<string> =>
    pages
      .filter((page) => select(page) !== undefined)
      .sort((a, b) => (select(a) ?? 0) - (select(b) ?? 0) || a.id - b.id)
      .map((page) => page.path)

  const trapLeaf = leafList("trap")[0]
  const trap: SyntheticSite.Trap | undefined = trapLeaf === undefined ? undefined : {
    entry: trapLeaf.link.path,
    depth: trapLeaf.depth,
    politeDepth: optional(trapLeaf.politeDepth),
    within: (maxDepth) => {
      if (!Number.isFinite(maxDepth)) {
        throw new RangeError("SyntheticSite: the calendar trap is infinite; pass a finite maxDepth to list its pages")
      }
      const out: Array<string> = []
      const reach = Math.floor(maxDepth) - trapLeaf.depth
      for (let k = -reach; k <= reach; k++) out.push(Graph.trapPath(k))
      return out
    }
  }

  const search = leafList("search").map((best) => ({ ...linked(best), sorted: sortedQuery(best.link.path) }))

  return {
    pages,
    reachable: ordered((page) => page.depth),
    reachablePolite: ordered((page) => page.politeDepth),
    disallowed: ordered((page) => (page.disallowed ? page.depth : undefined)),
    unreachable: pages.filter((page) => page.depth === undefined).map((page) => page.path),
    sitemap: pages.filter((page) => page.inSitemap).map((page) => page.path),
    variants: leafList("variant").map((best) => ({
      ...linked(best),
      canonical: Graph.pagePath(graph, best.link.target)
    })),
    redirects: leafList("redirect").map((best) => ({
      ...linked(best),
      status: redirectStatus(best.link.path),
      location: redirectLocation(graph, best.link),
      target: Graph.pagePath(graph, best.link.target)
    })),
    search,
    assets: leafList("asset").map((best) => ({
      ...linked(best),
      contentType: Assets.find(best.link.path)?.contentType ?? "application/octet-stream"
    })),
    broken: leafList("broken").map(linked),
    external: leafList("external").map((best) => ({
      href: best.link.path,
      depth: best.depth,
      politeDepth: optional(best.politeDepth)
    })),
    trap,
    page: (path) => byPath.get(path),
    expected: ({ maxDepth, polite: isPolite = false, sortQuery = false }) => {
      const out = new Set<string>()
      for (const page of pages) {
        const d = isPolite ? page.politeDepth : page.depth
        if (d !== undefined && d <= maxDepth) out.add(page.path)
      }
      if (trap !== undefined && trap.depth <= maxDepth) for (const path of trap.within(maxDepth)) out.add(path)
      for (const entry of search) {
        const d = isPolite ? entry.politeDepth : entry.depth
        if (d !== undefined && d <= maxDepth) out.add(sortQuery ? entry.sorted : entry.path)
      }
      return Array.from(out).sort()
    }
  }
}
