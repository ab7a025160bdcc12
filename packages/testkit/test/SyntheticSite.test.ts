import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Zlib from "node:zlib"
import type * as Route from "../src/Route.js"
import * as SyntheticSite from "../src/SyntheticSite.js"
import * as TestServer from "../src/TestServer.js"

// ---------------------------------------------------------------------------
// Helpers: a fake request for the pure handler, and an independent crawler.
// ---------------------------------------------------------------------------

const HOST = "127.0.0.1:8080"

const request = (path: string, method = "GET", host: string | null = HOST): Route.IncomingRequest => {
  const q = path.indexOf("?")
  return {
    method,
    path,
    pathname: q < 0 ? path : path.slice(0, q),
    query: new URLSearchParams(q < 0 ? "" : path.slice(q + 1)),
    headers: host === null ? {} : { host },
    body: new Uint8Array(0),
    hit: 1
  }
}

const bodyText = (reply: Route.Reply): string => {
  const body = reply.body
  if (typeof body === "string") return body
  if (body instanceof Uint8Array) return new TextDecoder().decode(body)
  return JSON.stringify(body?.json)
}

const unescapeHtml = (s: string): string =>
  s.replace(/&amp;/g, "&").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")

interface Parsed {
  readonly title: string | undefined
  readonly canonical: string | undefined
  readonly base: string | undefined
  readonly hrefs: ReadonlyArray<string>
}

const parseHtml = (html: string): Parsed => {
  const attr = (re: RegExp): string | undefined => {
    const m = re.exec(html)
    return m?.[1] === undefined ? undefined : unescapeHtml(m[1])
  }
  return {
    title: attr(/<title>([^<]*)<\/title>/i),
    canonical: attr(/<link\s[^>]*rel="canonical"[^>]*href="([^"]*)"/i),
    base: attr(/<base\s[^>]*href="([^"]*)"/i),
    hrefs: Array.from(html.matchAll(/<a\s[^>]*href="([^"]*)"/gi), (m) => unescapeHtml(m[1] ?? ""))
  }
}

/** robots.txt rules of the `*` group; longest match wins, Allow wins ties. Enough for a file without wildcards. */
const parseRobots = (text: string): (path: string) => boolean => {
  const rules: Array<{ allow: boolean; prefix: string }> = []
  let agents: Array<string> = []
  let inRules = false
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim()
    const m = /^([A-Za-z-]+)\s*:\s*(.*)$/.exec(line)
    if (m === null) continue
    const key = (m[1] ?? "").toLowerCase()
    const value = m[2] ?? ""
    if (key === "user-agent") {
      if (inRules) agents = []
      inRules = false
      agents.push(value)
    } else if (key === "allow" || key === "disallow") {
      inRules = true
      if (agents.includes("*") && value !== "") rules.push({ allow: key === "allow", prefix: value })
    }
  }
  return (path) => {
    let best: { allow: boolean; prefix: string } | undefined
    for (const rule of rules) {
      if (!path.startsWith(rule.prefix)) continue
      const longer = best === undefined || rule.prefix.length > best.prefix.length
      const tieAllow = best !== undefined && rule.prefix.length === best.prefix.length && rule.allow
      if (longer || tieAllow) best = rule
    }
    return best === undefined || best.allow
  }
}

interface Fetched {
  readonly path: string
  readonly depth: number
  readonly status: number
  readonly contentType: string
  readonly location: string | undefined
  /** Canonical path (or own path without canonical) for 200 HTML. */
  readonly identity: string | undefined
  readonly parsed: Parsed | undefined
  readonly body: string
}

interface Crawl {
  readonly fetched: Map<string, Fetched>
  /** HTML documents by identity, with the depth first found. */
  readonly documents: Map<string, { readonly depth: number; readonly title: string | undefined }>
  /** Off-origin hrefs, with the depth of the link. */
  readonly external: Map<string, number>
  readonly skipped: Set<string>
}

/**
 * A small breadth-first crawler, written independently of the generator:
 * regex link extraction, `new URL` resolution (honouring `<base href>`),
 * fragments dropped, redirects followed without adding depth (0-1 BFS), and
 * robots.txt obeyed when `polite`.
 */
interface CrawlOptions {
  readonly maxDepth: number
  readonly polite: boolean
}

const crawl = async (origin: string, options: CrawlOptions): Promise<Crawl> => {
  const allowed = options.polite
    ? parseRobots(await (await fetch(`${origin}/robots.txt`)).text())
    : () => true
  const fetched = new Map<string, Fetched>()
  const documents = new Map<string, { depth: number; title: string | undefined }>()
  const external = new Map<string, number>()
  const skipped = new Set<string>()
  const dist = new Map<string, number>([["/", 0]])
  const levels: Array<Array<string>> = [["/"]]

  const visit = async (path: string, depth: number): Promise<Fetched> => {
    const response = await fetch(origin + path, { redirect: "manual" })
    const status = response.status
    const contentType = response.headers.get("content-type") ?? ""
    const location = response.headers.get("location") ?? undefined
    const body = await response.text()
    let identity: string | undefined
    let parsed: Parsed | undefined
    if (status === 200 && contentType.startsWith("text/html")) {
      parsed = parseHtml(body)
      if (parsed.canonical === undefined) {
        identity = path
      } else {
        const c = new URL(parsed.canonical)
        identity = c.pathname + c.search
      }
    }
    return { path, depth, status, contentType, location, identity, parsed, body }
  }

  for (let depth = 0; depth <= options.maxDepth; depth++) {
    const queue = levels[depth] ?? []
    while (queue.length > 0) {
      const batch = queue.splice(0, 16).filter((path) => {
        if (fetched.has(path) || skipped.has(path)) return false
        if (!allowed(path)) {
          skipped.add(path)
          return false
        }
        return true
      })
      const unique = Array.from(new Set(batch))
      const results = await Promise.all(unique.map((path) => visit(path, depth)))
      for (const result of results) {
        fetched.set(result.path, result)
        const here = new URL(result.path, origin)
        if (result.status >= 300 && result.status < 400 && result.location !== undefined) {
          const target = new URL(result.location, here)
          const p = target.pathname + target.search
          if (target.origin === origin && (dist.get(p) ?? Infinity) > depth) {
            dist.set(p, depth)
            queue.push(p)
          }
        }
        if (result.parsed === undefined || result.identity === undefined) continue
        const seen = documents.get(result.identity)
        if (seen === undefined || seen.depth > depth) {
          documents.set(result.identity, { depth, title: result.parsed.title })
        }
        if (depth + 1 > options.maxDepth) continue
        const base = result.parsed.base === undefined ? here : new URL(result.parsed.base, here)
        for (const href of result.parsed.hrefs) {
          const url = new URL(href, base)
          url.hash = ""
          if (url.origin !== origin) {
            if ((external.get(href) ?? Infinity) > depth + 1) external.set(href, depth + 1)
            continue
          }
          const p = url.pathname + url.search
          if ((dist.get(p) ?? Infinity) > depth + 1) {
            dist.set(p, depth + 1)
            const next = levels[depth + 1] ?? []
            next.push(p)
            levels[depth + 1] = next
          }
        }
      }
    }
  }
  return { fetched, documents, external, skipped }
}

/** Compares a crawl with ground truth, field by field, so a failure names what differs. */
const checkCrawl = (truth: SyntheticSite.GroundTruth, result: Crawl, options: CrawlOptions): void => {
  const { maxDepth, polite } = options
  const depthOf = (x: { readonly depth: number | undefined; readonly politeDepth: number | undefined }) =>
    polite ? x.politeDepth : x.depth
  const within = <A extends { readonly depth: number | undefined; readonly politeDepth: number | undefined }>(
    xs: ReadonlyArray<A>
  ) => xs.filter((x) => {
    const d = depthOf(x)
    return d !== undefined && d <= maxDepth
  })
  const sorted = (xs: Iterable<string>) => Array.from(xs).sort()

  // HTML documents, by canonical identity.
  expect(sorted(result.documents.keys())).toEqual(truth.expected({ maxDepth, polite }))
  for (const page of within(truth.pages)) {
    expect(result.documents.get(page.path), page.path).toEqual({ depth: depthOf(page), title: page.title })
  }
  // What was fetched, by kind.
  const fetchedWhere = (predicate: (f: Fetched) => boolean) =>
    new Map(Array.from(result.fetched.values()).filter(predicate).map((f) => [f.path, f]))
  const broken = fetchedWhere((f) => f.status === 404)
  expect(sorted(broken.keys())).toEqual(sorted(within(truth.broken).map((b) => b.path)))
  for (const b of within(truth.broken)) expect(broken.get(b.path)?.depth, b.path).toBe(depthOf(b))

  const redirects = fetchedWhere((f) => f.status >= 300 && f.status < 400)
  expect(sorted(redirects.keys())).toEqual(sorted(within(truth.redirects).map((r) => r.path)))
  for (const r of within(truth.redirects)) {
    const f = redirects.get(r.path)
    expect(f?.status, r.path).toBe(r.status)
    expect(f?.depth, r.path).toBe(depthOf(r))
    expect(new URL(f?.location ?? "", "http://x").pathname, r.path).toBe(r.location)
  }

  const assets = fetchedWhere((f) => f.status === 200 && !f.contentType.startsWith("text/html"))
  expect(sorted(assets.keys())).toEqual(sorted(within(truth.assets).map((a) => a.path)))
  for (const a of within(truth.assets)) expect(assets.get(a.path)?.contentType, a.path).toBe(a.contentType)

  const variants = fetchedWhere((f) => f.identity !== undefined && f.identity !== f.path)
  expect(sorted(variants.keys())).toEqual(sorted(within(truth.variants).map((v) => v.path)))
  for (const v of within(truth.variants)) {
    expect(variants.get(v.path)?.identity, v.path).toBe(v.canonical)
    expect(variants.get(v.path)?.depth, v.path).toBe(depthOf(v))
  }

  const search = fetchedWhere((f) => f.path.startsWith("/search?"))
  expect(sorted(search.keys())).toEqual(sorted(within(truth.search).map((s) => s.path)))

  const external = within(truth.external.map((e) => ({ ...e, path: e.href })))
  expect(sorted(result.external.keys())).toEqual(sorted(external.map((e) => e.href)))
  for (const e of external) expect(result.external.get(e.href), e.href).toBe(depthOf(e))

  // Nothing else was fetched: every status is accounted for.
  for (const f of result.fetched.values()) expect([200, 301, 302, 404], f.path).toContain(f.status)
  if (polite) {
    for (const path of result.fetched.keys()) {
      expect(path.startsWith("/private/") && !path.startsWith("/private/public/"), path).toBe(false)
    }
  } else {
    expect(result.skipped.size).toBe(0)
  }
}

const fetchText = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const fetchBytes = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) }
  })

const locs = (xml: string): Array<string> => Array.from(xml.matchAll(/<loc>([^<]*)<\/loc>/g), (m) => m[1] ?? "")

// ---------------------------------------------------------------------------
// Pure generation
// ---------------------------------------------------------------------------

/** Everything observable about a site without a server: ground truth data and every page rendered. */
const snapshot = (site: SyntheticSite.Site) => {
  const { page: _page, expected: _expected, trap, ...data } = site.groundTruth
  const paths = [
    ...site.groundTruth.pages.map((p) => p.path),
    ...site.groundTruth.variants.map((v) => v.path),
    ...site.groundTruth.redirects.map((r) => r.path),
    "/robots.txt",
    "/sitemap.xml",
    "/sitemap_index.xml",
    "/calendar/2024-01"
  ]
  return {
    data,
    trap: trap === undefined ? undefined : { entry: trap.entry, depth: trap.depth, within: trap.within(5) },
    expected: site.groundTruth.expected({ maxDepth: 3, polite: true, sortQuery: true }),
    replies: paths.map((path) => {
      const reply = site.handle(request(path))
      return [path, reply.status, reply.headers, bodyText(reply)] as const
    })
  }
}

describe("SyntheticSite (pure)", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = snapshot(SyntheticSite.make({ seed: 42, pages: 150 }))
    const b = snapshot(SyntheticSite.make({ seed: 42, pages: 150 }))
    expect(b).toEqual(a)
    const c = SyntheticSite.make({ seed: 43, pages: 150 })
    const titles = (site: SyntheticSite.Site) => site.groundTruth.pages.map((p) => p.title)
    const a2 = SyntheticSite.make({ seed: 42, pages: 150 })
    const sameTitles = titles(a2).filter((t, i) => titles(c)[i] === t).length
    expect(sameTitles).toBeLessThan(20)
    expect(bodyText(c.handle(request("/")))).not.toBe(bodyText(a2.handle(request("/"))))
    expect(c.groundTruth.reachablePolite).not.toEqual(a2.groundTruth.reachablePolite)
  })

  it("honours pageBytes", () => {
    for (const pageBytes of [2048, 10_000, 30 * 1024]) {
      const site = SyntheticSite.make({ pageBytes, pages: 60 })
      for (const page of site.groundTruth.pages) {
        const size = Buffer.byteLength(bodyText(site.handle(request(page.path))))
        expect(Math.abs(size - pageBytes), `${page.path} is ${size} bytes`).toBeLessThanOrEqual(8)
      }
    }
    // Smaller than the links themselves: the page is just its skeleton, with no padding.
    const tiny = SyntheticSite.make({ pageBytes: 0 })
    expect(bodyText(tiny.handle(request("/")))).not.toContain("<p>")
  })

  it("generates 10,000 pages and their ground truth in well under a second", () => {
    const started = performance.now()
    const site = SyntheticSite.make({ pages: 10_000, seed: 9 })
    const elapsed = performance.now() - started
    expect(site.groundTruth.pages).toHaveLength(10_000)
    expect(site.groundTruth.reachable.length).toBeGreaterThan(9_000)
    expect(elapsed).toBeLessThan(1_000)
  })

  it("has consistent ground truth", () => {
    const site = SyntheticSite.make({ seed: 5, pages: 300, fanOut: 6, maxDepth: 4 })
    const g = site.groundTruth
    const reachable = new Set(g.reachable)
    const polite = new Set(g.reachablePolite)
    expect(g.reachable[0]).toBe("/")
    expect(g.page("/")?.depth).toBe(0)
    // Orphans exist (3-ary tree to depth 4 holds 121 pages) and are exactly the unreachable pages.
    expect(g.unreachable).toHaveLength(300 - 121)
    expect(g.reachable.length + g.unreachable.length).toBe(300)
    for (const path of g.reachablePolite) expect(reachable.has(path)).toBe(true)
    for (const path of g.disallowed) {
      expect(polite.has(path)).toBe(false)
      expect(path.startsWith("/private/") && !path.startsWith("/private/public/")).toBe(true)
    }
    // Some pages are reachable only through disallowed ones.
    const shadowed = g.reachable.filter((p) => !polite.has(p) && g.page(p)?.disallowed === false)
    expect(shadowed.length).toBeGreaterThan(0)
    expect(g.reachablePolite.some((p) => p.startsWith("/private/public/"))).toBe(true)
    for (const path of g.sitemap) expect(polite.has(path) && g.page(path)?.disallowed === false).toBe(true)
    expect(g.sitemap.length).toBeGreaterThan(0)
    expect(g.sitemap.length).toBeLessThan(g.reachablePolite.length)
    // Depths are BFS distances: every reachable non-root page has a parent one level up.
    for (const page of g.pages) {
      if (page.depth !== undefined) expect(page.depth).toBeLessThanOrEqual(4)
      if (page.politeDepth !== undefined) expect(page.politeDepth).toBeGreaterThanOrEqual(page.depth ?? Infinity)
    }
    // expected(): monotone in depth, trap pages bounded.
    expect(g.expected({ maxDepth: 0 })).toEqual(["/"])
    const two = g.expected({ maxDepth: 2 })
    expect(two).toContain("/calendar/2024-01")
    expect(two).toContain("/calendar/2024-02")
    expect(two).toContain("/calendar/2023-12")
    expect(two).not.toContain("/calendar/2024-03")
    expect(g.trap?.within(3)).toEqual([
      "/calendar/2023-11",
      "/calendar/2023-12",
      "/calendar/2024-01",
      "/calendar/2024-02",
      "/calendar/2024-03"
    ])
    expect(() => g.expected({ maxDepth: Infinity })).toThrow(RangeError)
    // Search pages: two parameter orders are two pages, unless the crawler sorts queries.
    const raw = g.expected({ maxDepth: 10 }).filter((p) => p.startsWith("/search"))
    const sorted = g.expected({ maxDepth: 10, sortQuery: true }).filter((p) => p.startsWith("/search"))
    expect(raw.length).toBeGreaterThan(sorted.length)
    expect(new Set(g.search.map((s) => s.sorted))).toEqual(new Set(sorted))
  })

  it("turns features off", () => {
    const site = SyntheticSite.make({
      robots: false,
      sitemaps: false,
      variants: false,
      linkStyles: false,
      redirects: false,
      broken: false,
      assets: false,
      search: false,
      external: false,
      trap: false
    })
    const g = site.groundTruth
    expect(g.reachablePolite).toEqual(g.reachable)
    expect(g.disallowed).toEqual([])
    for (const list of [g.sitemap, g.variants, g.redirects, g.assets, g.broken, g.search, g.external]) {
      expect(list).toEqual([])
    }
    expect(g.trap).toBeUndefined()
    expect(g.expected({ maxDepth: Infinity })).toEqual([...g.reachable].sort())
    for (const path of ["/robots.txt", "/sitemap.xml", "/calendar/2024-01", "/go/0", "/search", "/assets/img/0.png"]) {
      expect(site.handle(request(path)).status, path).toBe(404)
    }
    for (const page of g.pages) {
      for (const href of parseHtml(bodyText(site.handle(request(page.path)))).hrefs) {
        expect(href === "#main" || /^\/(p\/\d+|private\/(public\/)?\d+)?$/.test(href), href).toBe(true)
      }
    }
  })

  it("rejects out-of-range options with InvalidOptions", () => {
    const bad: ReadonlyArray<Partial<SyntheticSite.Options>> = [
      { pages: 0 },
      { pages: 1.5 },
      { fanOut: 0 },
      { maxDepth: -1 },
      { pageBytes: -1 },
      { seed: Number.NaN },
      { latency: -5 },
      { latency: { min: 10, max: 5 } },
      { crawlDelay: -1 }
    ]
    for (const options of bad) {
      expect(() => SyntheticSite.make(options), JSON.stringify(options)).toThrow(SyntheticSite.InvalidOptions)
    }
    expect(() => SyntheticSite.make({ pages: 0 })).toThrow(/"pages" is 0; expected an integer from 1/)
  })

  it("makes Crawl-delay configurable", () => {
    const robots = (crawlDelay: number | undefined) =>
      bodyText(SyntheticSite.make({ crawlDelay }).handle(request("/robots.txt"))).split("\n")
    expect(robots(undefined)).toContain("Crawl-delay: 0.01")
    expect(robots(2.5)).toContain("Crawl-delay: 2.5")
    expect(robots(0).some((line) => line.startsWith("Crawl-delay"))).toBe(false)
  })

  it("answers only GET and HEAD, and needs a Host header", () => {
    const site = SyntheticSite.make()
    expect(site.handle(request("/", "POST")).status).toBe(405)
    expect(site.handle(request("/", "HEAD")).status).toBe(200)
    expect(site.handle(request("/", "GET", null)).status).toBe(400)
    expect(site.handle(request("/", "GET", "evil\"><script>")).status).toBe(400)
  })

  it("url() makes absolute URLs", () => {
    expect(["/", "/p/3?ref=nav"].map(SyntheticSite.url("http://127.0.0.1:9/"))).toEqual([
      "http://127.0.0.1:9/",
      "http://127.0.0.1:9/p/3?ref=nav"
    ])
  })

  it("serves latency on every reply", () => {
    const site = SyntheticSite.make({ latency: { min: 5, max: 10 } })
    expect(site.handle(request("/")).latency).toEqual({ min: 5, max: 10 })
    expect(site.handle(request("/robots.txt")).latency).toEqual({ min: 5, max: 10 })
    expect(SyntheticSite.make().handle(request("/")).latency).toBeUndefined()
  })
})

// ---------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------

layer(SyntheticSite.layer(), { excludeTestServices: true })("SyntheticSite (default site over HTTP)", (it) => {
  it.effect("serves robots.txt with Disallow, Allow, Crawl-delay and Sitemap lines", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const robots = yield* fetchText(server.urlFor("/robots.txt"))
      expect(robots.status).toBe(200)
      expect(robots.headers.get("content-type")).toBe("text/plain; charset=utf-8")
      const lines = robots.text.split("\n")
      const star = lines.slice(lines.indexOf("User-agent: *"))
      expect(star).toContain("Disallow: /private/")
      expect(star).toContain("Allow: /private/public/")
      expect(star).toContain("Crawl-delay: 0.01")
      expect(lines).toContain(`Sitemap: ${server.url}/sitemap.xml`)
      expect(lines).toContain(`Sitemap: ${server.url}/sitemap_index.xml`)
      // The Allow line comes first so first-match and longest-match parsers agree.
      expect(star.indexOf("Allow: /private/public/")).toBeLessThan(star.indexOf("Disallow: /private/"))
      expect(lines.slice(0, lines.indexOf("User-agent: *"))).toContain("User-agent: ExcludedBot")
    }))

  it.effect("serves a sitemap, a sitemap index and a gzipped child listing exactly groundTruth.sitemap", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const site = yield* SyntheticSite.SyntheticSite
      const root = yield* fetchText(server.urlFor("/sitemap.xml"))
      expect(root.headers.get("content-type")).toBe("application/xml; charset=utf-8")
      expect(root.text).toContain("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
      const index = yield* fetchText(server.urlFor("/sitemap_index.xml"))
      expect(index.text).toContain("<sitemapindex")
      const children = locs(index.text)
      expect(children).toHaveLength(3)
      const listed = [...locs(root.text)]
      let sawGzip = false
      for (const child of children) {
        expect(child.startsWith(server.url)).toBe(true)
        if (child.endsWith(".gz")) {
          sawGzip = true
          const gz = yield* fetchBytes(child)
          expect(gz.status).toBe(200)
          expect(gz.headers.get("content-type")).toBe("application/gzip")
          expect(gz.headers.get("content-encoding")).toBeNull()
          expect([gz.bytes[0], gz.bytes[1]]).toEqual([0x1f, 0x8b])
          const xml = Zlib.gunzipSync(gz.bytes).toString("utf8")
          expect(xml).toContain("<urlset")
          listed.push(...locs(xml))
        } else {
          listed.push(...locs((yield* fetchText(child)).text))
        }
      }
      expect(sawGzip).toBe(true)
      expect(listed.sort()).toEqual(site.groundTruth.sitemap.map(SyntheticSite.url(server.url)).sort())
    }))

  it.effect("serves assets with their content types, 404s for broken links, and redirects", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth: g } = yield* SyntheticSite.SyntheticSite
      expect(g.assets.length).toBeGreaterThan(0)
      for (const asset of g.assets) {
        const r = yield* fetchBytes(server.urlFor(asset.path))
        expect(r.status).toBe(200)
        expect(r.headers.get("content-type")).toBe(asset.contentType)
        if (asset.contentType === "image/png") expect(Array.from(r.bytes.slice(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47])
        if (asset.contentType === "application/pdf") expect(new TextDecoder().decode(r.bytes.slice(0, 5))).toBe("%PDF-")
      }
      expect(g.broken.length).toBeGreaterThan(0)
      for (const broken of g.broken) expect((yield* fetchText(server.urlFor(broken.path))).status).toBe(404)
      expect(new Set(g.redirects.map((r) => r.status))).toEqual(new Set([301, 302]))
      for (const redirect of g.redirects) {
        const first = yield* fetchText(server.urlFor(redirect.path), { redirect: "manual" })
        expect(first.status, redirect.path).toBe(redirect.status)
        expect(new URL(first.headers.get("location") ?? "", server.url).pathname).toBe(redirect.location)
        const followed = yield* Effect.promise(() => fetch(server.urlFor(redirect.path)))
        yield* Effect.promise(() => followed.text())
        expect(followed.status).toBe(200)
        expect(new URL(followed.url).pathname).toBe(redirect.target)
      }
    }))

  it.effect("declares canonical URLs on pages and on variants serving the same content", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth: g } = yield* SyntheticSite.SyntheticSite
      for (const page of g.pages) {
        const r = yield* fetchText(server.urlFor(page.path))
        expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8")
        const parsed = parseHtml(r.text)
        expect(parsed.canonical).toBe(server.urlFor(page.path))
        expect(parsed.title).toBe(page.title)
      }
      expect(g.variants.some((v) => /^\/p\/%3\d/.test(v.path))).toBe(true)
      expect(g.variants.some((v) => v.path.includes("?"))).toBe(true)
      for (const variant of g.variants) {
        const r = yield* fetchText(server.urlFor(variant.path))
        expect(r.status).toBe(200)
        const canonical = yield* fetchText(server.urlFor(variant.canonical))
        expect(r.text, variant.path).toBe(canonical.text)
      }
      // Search pages have no canonical link; both parameter orders answer.
      const search = g.search[0]
      expect(search).toBeDefined()
      if (search !== undefined) {
        const a = parseHtml((yield* fetchText(server.urlFor(search.path))).text)
        const b = parseHtml((yield* fetchText(server.urlFor(search.sorted))).text)
        expect(a.canonical).toBeUndefined()
        expect(a.title).toBe(b.title)
      }
    }))

  it.effect("writes links in every style", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth: g } = yield* SyntheticSite.SyntheticSite
      const hrefs: Array<string> = []
      const bases: Array<string> = []
      for (const path of g.reachable) {
        const parsed = parseHtml((yield* fetchText(server.urlFor(path))).text)
        hrefs.push(...parsed.hrefs)
        if (parsed.base !== undefined) bases.push(parsed.base)
      }
      const host = server.host
      const styles: Record<string, (href: string) => boolean> = {
        rootRelative: (h) => /^\/[^/]/.test(h),
        relativeDown: (h) => /^[a-z0-9]/.test(h) && !/^[a-z]+:/.test(h),
        relativeUp: (h) => h.startsWith("../"),
        absolute: (h) => h.startsWith(`http://${host}/`),
        protocolRelative: (h) => h.startsWith(`//${host}/`),
        upperScheme: (h) => h.startsWith(`HTTP://${host}/`),
        dotSegment: (h) => h.includes("/./"),
        parentSegment: (h) => h.includes("/../"),
        fragment: (h) => /^[^#]+#/.test(h),
        percentEncoded: (h) => /%3\d/.test(h),
        queryOrderA: (h) => h.includes("search?q="),
        queryOrderB: (h) => h.includes("search?page="),
        offsite: (h) => h.startsWith("http://127.0.0.1:1/") || h.startsWith("mailto:")
      }
      for (const [style, test] of Object.entries(styles)) expect(hrefs.some(test), style).toBe(true)
      expect(bases.length).toBeGreaterThan(0)
      expect(bases.some((b) => b.startsWith(`http://${host}/`) || b.startsWith(`//${host}/`))).toBe(true)
    }))

  it.effect("has an infinite calendar trap", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth: g } = yield* SyntheticSite.SyntheticSite
      expect(g.trap?.entry).toBe("/calendar/2024-01")
      expect(g.trap?.depth).toBe(1)
      const entry = parseHtml((yield* fetchText(server.urlFor("/calendar/2024-12"))).text)
      const next = entry.hrefs.map((h) => new URL(h, server.urlFor("/calendar/2024-12")).pathname)
      expect(next).toContain("/calendar/2025-01")
      expect(next).toContain("/calendar/2024-11")
      expect((yield* fetchText(server.urlFor("/calendar/2391-07"))).status).toBe(200)
      expect((yield* fetchText(server.urlFor("/calendar/2024-13"))).status).toBe(404)
    }))

  it.effect("serves orphan-free defaults and 404s for non-canonical page paths", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth: g } = yield* SyntheticSite.SyntheticSite
      expect(g.unreachable).toEqual([])
      const publicId = g.pages.find((p) => p.path.startsWith("/p/"))?.id ?? 1
      for (const path of [`/p/0${publicId}`, `/P/${publicId}`, `/p/${publicId}x`, "/p/", "/private/public/"]) {
        expect((yield* fetchText(server.urlFor(path))).status, path).toBe(404)
      }
    }))

  it.effect("matches ground truth when crawled by an independent crawler, impolitely", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth } = yield* SyntheticSite.SyntheticSite
      const options = { maxDepth: 10, polite: false }
      const result = yield* Effect.promise(() => crawl(server.url, options))
      checkCrawl(groundTruth, result, options)
      // The crawl covered every reachable page and stopped inside the trap.
      expect(result.documents.size).toBeGreaterThan(groundTruth.reachable.length)
      expect(result.documents.has("/calendar/2024-10")).toBe(true)
      expect(result.documents.has("/calendar/2024-11")).toBe(false)
    }))

  it.effect("matches ground truth when crawled politely", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth } = yield* SyntheticSite.SyntheticSite
      const options = { maxDepth: 10, polite: true }
      const result = yield* Effect.promise(() => crawl(server.url, options))
      checkCrawl(groundTruth, result, options)
      expect(result.skipped.size).toBeGreaterThan(0)
      expect(groundTruth.reachablePolite.length).toBeLessThan(groundTruth.reachable.length)
    }))

  it.effect("matches ground truth for a shallow crawl", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth } = yield* SyntheticSite.SyntheticSite
      for (const options of [{ maxDepth: 1, polite: false }, { maxDepth: 2, polite: true }]) {
        checkCrawl(groundTruth, yield* Effect.promise(() => crawl(server.url, options)), options)
      }
    }))
})

layer(
  SyntheticSite.layer({ seed: 77, pages: 400, fanOut: 4, maxDepth: 6, pageBytes: 512 }),
  { excludeTestServices: true }
)("SyntheticSite (a site with orphans over HTTP)", (it) => {
  it.effect("matches ground truth, and orphans are served but never found", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const { groundTruth } = yield* SyntheticSite.SyntheticSite
      expect(groundTruth.unreachable.length).toBeGreaterThan(0)
      for (const options of [{ maxDepth: 12, polite: false }, { maxDepth: 12, polite: true }]) {
        const result = yield* Effect.promise(() => crawl(server.url, options))
        checkCrawl(groundTruth, result, options)
        for (const orphan of groundTruth.unreachable) expect(result.documents.has(orphan)).toBe(false)
      }
      for (const orphan of groundTruth.unreachable.slice(0, 5)) {
        expect((yield* fetchText(server.urlFor(orphan))).status).toBe(200)
      }
    }))

  it.effect("a server on another port writes its own origin into absolute URLs", () =>
    Effect.gen(function*() {
      const site = yield* SyntheticSite.SyntheticSite
      const other = yield* TestServer.make({ routes: site.routes })
      const robots = yield* fetchText(other.urlFor("/robots.txt"))
      expect(robots.text).toContain(`Sitemap: ${other.url}/sitemap.xml`)
      const home = parseHtml((yield* fetchText(other.urlFor("/"))).text)
      expect(home.canonical).toBe(`${other.url}/`)
    }).pipe(Effect.scoped))
})

// ---------------------------------------------------------------------------
// The standalone server
// ---------------------------------------------------------------------------

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const tsx = Path.join(root, "node_modules/.bin/tsx")
const bin = Path.join(root, "packages/testkit/src/bin/site.ts")

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the bin; `onLine` gets the first stdout line and may stop the process. */
const runBin = (args: ReadonlyArray<string>, onLine?: (line: string, stop: () => void) => Promise<void>) =>
  Effect.async<Run>((resume) => {
    const child = spawn(tsx, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let handled = false
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk
      const newline = stdout.indexOf("\n")
      if (onLine !== undefined && !handled && newline >= 0) {
        handled = true
        onLine(stdout.slice(0, newline), () => child.kill("SIGTERM")).catch((error: unknown) => {
          stderr += `test callback failed: ${String(error)}\n`
          child.kill("SIGTERM")
        })
      }
    })
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    return Effect.sync(() => {
      if (child.exitCode === null) child.kill("SIGKILL")
    })
  })

describe("SyntheticSite bin", () => {
  it.live("serves on --port 0, prints its URL and page counts, and exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      let home = ""
      let url = ""
      const args = ["--port", "0", "--pages", "50", "--page-kb", "1", "--seed", "3"]
      const run = yield* runBin(args, async (line, stop) => {
        url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0] ?? ""
        if (url !== "") home = await (await fetch(`${url}/`)).text()
        stop()
      })
      expect(run.stderr).toBe("")
      expect(run.stdout).toMatch(/^synthetic site http:\/\/127\.0\.0\.1:\d+ seed=3 pages=50 reachable=50 polite=\d+ /)
      expect(url).not.toBe("")
      expect(parseHtml(home).title).toBe(SyntheticSite.make({ seed: 3, pages: 50 }).groundTruth.pages[0]?.title)
      expect(run.code).toBe(0)
    }))

  it.live("rejects bad flags with exit code 2", () =>
    Effect.gen(function*() {
      for (const args of [["--pages", "abc"], ["--bogus"], ["--latency", "9-3"], ["--port", "70000"]]) {
        const run = yield* runBin(args)
        expect(run.code, args.join(" ")).toBe(2)
        expect(run.stderr).toMatch(/^site: .+\nRun with --help for usage\.\n$/)
        expect(run.stdout).toBe("")
      }
    }))
})
