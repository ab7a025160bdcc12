/**
 * The crawler against hostile sites, end to end on real local servers.
 *
 * - Scope holds wherever a URL comes from: a redirect (first hop or later),
 *   `<base href>`, protocol-relative and absolute links, sitemap entries and
 *   sitemap index children. A second, out-of-scope server sees nothing.
 * - Private addresses: a link, a redirect hop, robots.txt and sitemaps that
 *   lead to a host resolving to 127.0.0.1 (`localhost`, through
 *   /etc/hosts) or written as an IP literal are refused unless
 *   `allowPrivate`; the second server sees zero requests without it and is
 *   crawled with it.
 * - Decompression bombs (gzip, brotli, deflate, 1 GiB each) and oversized
 *   bodies end `too_large` at `maxBytes`, quickly and without the memory.
 * - Hostile titles and URLs (quotes, NULs, SQL, backslashes, huge) are
 *   stored through bound parameters and read back equal, on SQLite and
 *   Postgres, in the database and in the JSONL output.
 * - BlobStore keys never name a file outside the store.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { BlobStore } from "@fiberkit/core"
import { Fetcher, Options, type Page, Url } from "@fiberkit/crawler"
import { Faults, type Route, TestServer } from "@fiberkit/testkit"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { crawlFresh, crawlLayer, forEachDialect, sqlite } from "./support.js"

const html = (body: string, head = ""): Route.Reply =>
  Faults.ok(`<!doctype html><html><head>${head}</head><body>${body}</body></html>`, { "content-type": "text/html; charset=utf-8" })

const attribute = (s: string) => s.replaceAll("&", "&amp;").replaceAll("\"", "&quot;")
const links = (...hrefs: ReadonlyArray<string>): string => hrefs.map((h) => `<a href="${attribute(h)}">link</a>`).join("\n")

const xml = (body: string): Route.Reply => Faults.ok(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`, { "content-type": "application/xml" })
const urlset = (...locs: ReadonlyArray<string>) =>
  xml(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${locs.map((l) => `<url><loc>${l}</loc></url>`).join("")}</urlset>`)
const sitemapIndex = (...locs: ReadonlyArray<string>) =>
  xml(`<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${locs.map((l) => `<sitemap><loc>${l}</loc></sitemap>`).join("")}</sitemapindex>`)

/** A second server: every path answers a small page with no links, so anything it logs was requested by the crawler. */
const outsider = () => TestServer.make({ fallback: html("outside") })

const byPath = (records: ReadonlyArray<Page.PageRecord>, origin: string) =>
  new Map(records.filter((r) => r.url.startsWith(origin)).map((r) => [r.url.slice(origin.length), r]))

describe("security: scope", () => {
  const h = sqlite
  it.scopedLive("no out-of-scope fetch via redirects, <base href>, protocol-relative links, sitemap entries or index children", () =>
    Effect.gen(function*() {
      const b = yield* outsider()
      const B = b.url
      const a = yield* TestServer.make({
        routes: [
          Faults.get("/robots.txt", (request) => {
            const origin = `http://${String(request.headers["host"])}`
            return Faults.ok(`User-agent: *\nAllow: /\nSitemap: ${origin}/sitemap.xml\nSitemap: ${origin}/index.xml\n`)
          }),
          Faults.get("/", html(links("/redirect-out", "/chain/1", "/based", `//${b.host}/protocol-relative`, `${B}/absolute`, "/meta"))),
          Faults.get("/redirect-out", Faults.redirect(`${B}/redirected`)),
          ...Faults.redirectChain({ prefix: "/chain", hops: 2, target: `${B}/chain-end` }),
          Faults.get("/based", html(links("relative", "./dot", "/root-relative"), `<base href="${B}/base/">`)),
          Faults.get("/meta", html("", `<meta http-equiv="refresh" content="0; url=${B}/refresh"><link rel="canonical" href="${B}/canonical">`)),
          Faults.get("/sitemap.xml", urlset("/in-sitemap", `${B}/from-sitemap`, `//${b.host}/from-sitemap-protocol-relative`)),
          Faults.get("/index.xml", sitemapIndex(`${B}/child.xml`, "/child.xml")),
          Faults.get("/child.xml", urlset(`${B}/from-child`, "/from-child")),
          Faults.get("/in-sitemap", html("in sitemap")),
          Faults.get("/from-child", html("from child"))
        ]
      })
      // Control: with scope "any", every vector does lead to the second server.
      yield* crawlFresh(h, { seeds: [a.urlFor("/")], allowPrivate: true, sitemaps: true, scope: "any" })
      expect(new Set((yield* b.requests).map((r) => r.path))).toEqual(
        new Set([
          "/robots.txt", "/redirected", "/chain-end", "/protocol-relative", "/absolute", "/base/relative", "/base/dot",
          "/root-relative", "/from-sitemap", "/from-sitemap-protocol-relative", "/child.xml", "/from-child"
        ])
      )
      yield* b.reset
      yield* a.reset

      // allowPrivate: the address policy stays out of the way, so only scope can keep the crawler in.
      const { records } = yield* crawlFresh(h, { seeds: [a.urlFor("/")], allowPrivate: true, sitemaps: true })
      expect(yield* b.requests).toEqual([])

      const seen = new Set((yield* a.requests).map((r) => r.path))
      for (const path of ["/redirect-out", "/chain/1", "/chain/2", "/based", "/meta", "/sitemap.xml", "/index.xml", "/child.xml", "/in-sitemap", "/from-child"]) {
        expect(seen, path).toContain(path)
      }
      const pages = byPath(records, a.url)
      expect(pages.get("/redirect-out")).toMatchObject({ status: 302, error_kind: "out_of_scope_redirect" })
      // The in-scope first hop is followed; the hop leaving scope is recorded, not fetched.
      expect(pages.get("/chain/1")).toMatchObject({ status: 302, error_kind: "out_of_scope_redirect", final_url: a.urlFor("/chain/2") })
      expect(records.every((r) => r.url.startsWith(a.url))).toBe(true)
    }), { timeout: 60_000 })
})

describe("security: private addresses", () => {
  const h = sqlite
  /** A site on 127.0.0.1 whose links, redirects, robots.txt and sitemaps lead to `b` under the name `localhost` or an IP literal. */
  const site = (b: TestServer.TestServer["Type"]) => {
    const named = `http://localhost:${b.port}`
    return {
      named,
      routes: [
        Faults.get("/robots.txt", Faults.ok(`User-agent: *\nAllow: /\nSitemap: ${named}/listed.xml\n`)),
        Faults.get("/", html(links(`${named}/secret`, `http://2130706433:${b.port}/literal`, "/hop"))),
        Faults.get("/hop", Faults.redirect(`${named}/via-redirect`))
      ]
    }
  }
  const crawl = (allowPrivate: boolean) =>
    Effect.gen(function*() {
      const b = yield* TestServer.make({ routes: [Faults.get("/given.xml", urlset("/from-given"))], fallback: html("inside") })
      const { named, routes } = site(b)
      const a = yield* TestServer.make({ routes })
      const { records } = yield* crawlFresh(h, {
        seeds: [a.urlFor("/")],
        scope: "any",
        sitemaps: true,
        sitemapUrls: [`${named}/given.xml`],
        allowPrivate
      })
      return { a, b, named, records, requestsToB: (yield* b.requests).map((r) => r.path) }
    })

  it.scopedLive("refused without allowPrivate: the host behind localhost sees zero requests; each refusal is recorded", () =>
    Effect.gen(function*() {
      const { a, b, named, records, requestsToB } = yield* crawl(false)
      expect(requestsToB).toEqual([])
      const refused = new Map(records.filter((r) => r.error_kind === "private_address").map((r) => [r.url, r]))
      expect([...refused.keys()].sort()).toEqual(
        [`${named}/secret`, `${named}/via-redirect`, `http://127.0.0.1:${b.port}/literal`].sort()
      )
      for (const record of refused.values()) {
        expect(record).toMatchObject({ status: null, bytes: null, title: null })
        expect(record.error_message).toMatch(/loopback address: refused/)
      }
      // The redirect on the start host was answered and recorded; its target was refused on its own.
      expect(byPath(records, a.url).get("/hop")).toMatchObject({ status: 302, error_kind: null, final_url: `${named}/via-redirect` })
      // The start host itself, although loopback, was crawled.
      expect(byPath(records, a.url).get("/")).toMatchObject({ status: 200, error_kind: null })
    }), { timeout: 60_000 })

  it.scopedLive("fetched with allowPrivate", () =>
    Effect.gen(function*() {
      const { b, named, records, requestsToB } = yield* crawl(true)
      expect(new Set(requestsToB)).toEqual(
        new Set(["/robots.txt", "/given.xml", "/listed.xml", "/from-given", "/secret", "/literal", "/via-redirect"])
      )
      // A page is fetched under its own URL, or as the end of a followed redirect.
      const fetched = new Set(records.filter((r) => r.status === 200 && r.error_kind === null).flatMap((r) => [r.url, r.final_url]))
      for (const path of ["/secret", "/via-redirect", "/from-given"]) expect(fetched).toContain(named + path)
      expect(fetched).toContain(`http://127.0.0.1:${b.port}/literal`)
      expect(records.some((r) => r.error_kind === "private_address")).toBe(false)
    }), { timeout: 60_000 })

  it.scopedLive("robots.txt redirected into a private address is not followed: the site counts as unavailable", () =>
    Effect.gen(function*() {
      const b = yield* TestServer.make({ fallback: Faults.ok("User-agent: *\nAllow: /\n") })
      const a = yield* TestServer.make({ routes: [Faults.get("/robots.txt", Faults.redirect(`http://localhost:${b.port}/robots.txt`))], fallback: html("a") })
      const fetchSeed = (allowPrivate: boolean) =>
        Effect.gen(function*() {
          const input = yield* h.fresh
          return yield* Effect.gen(function*() {
            const seed = Either.getOrThrow(Url.normalize(a.urlFor("/")))
            const scope = Either.getOrThrow(Url.scope([seed], "same-host"))
            const fetcher = yield* Fetcher.make({ ...defaultsFor(a.urlFor("/")), allowPrivate }, scope, {})
            return (yield* fetcher.fetch(seed))._tag
          }).pipe(Effect.provide(crawlLayer(input)))
        })
      expect(yield* fetchSeed(false)).toBe("RobotsUnavailable")
      expect(yield* b.requests).toEqual([])
      expect(yield* fetchSeed(true)).toBe("Response")
      expect((yield* b.requests).map((r) => r.path)).toEqual(["/robots.txt"])
    }), { timeout: 60_000 })
})

/** The crawl's default options with one seed, for driving a `Fetcher` directly. */
const defaultsFor = (seed: string): Options.Options =>
  Either.getOrThrow(Options.make({ seeds: [seed], timeoutMs: 2_000, progress: false }))

describe("security: hostile bodies", () => {
  const h = sqlite
  it.scopedLive("decompression bombs and oversized bodies stop at maxBytes, quickly and without the memory", () =>
    Effect.gen(function*() {
      const GiB = 1024 * 1024 * 1024
      const asHtml = (reply: Route.Reply): Route.Reply => ({ ...reply, headers: { ...reply.headers, "content-type": "text/html" } })
      const a = yield* TestServer.make({
        routes: [
          Faults.get("/", html(links("/bomb-gzip", "/bomb-br", "/bomb-deflate", "/bomb-octets", "/big", "/small"))),
          Faults.get("/bomb-gzip", asHtml(Faults.bomb({ decompressedBytes: GiB }))),
          Faults.get("/bomb-br", asHtml(Faults.bomb({ decompressedBytes: GiB, encoding: "br" }))),
          Faults.get("/bomb-deflate", asHtml(Faults.bomb({ decompressedBytes: 256 * 1024 * 1024, encoding: "deflate" }))),
          Faults.get("/bomb-octets", Faults.bomb({ decompressedBytes: GiB })),
          Faults.get("/big", Faults.oversized(8 * 1024 * 1024, "text/html")),
          Faults.get("/small", html("fine"))
        ]
      })
      const before = process.memoryUsage().rss
      const started = performance.now()
      const { records } = yield* crawlFresh(h, { seeds: [a.urlFor("/")], maxBytes: 1024 * 1024, retries: 0 })
      const elapsed = performance.now() - started
      const pages = byPath(records, a.url)
      for (const path of ["/bomb-gzip", "/bomb-br", "/bomb-deflate", "/bomb-octets", "/big"]) {
        expect(pages.get(path), path).toMatchObject({ error_kind: "too_large", bytes: null })
      }
      expect(pages.get("/small")).toMatchObject({ status: 200, error_kind: null })
      expect(elapsed).toBeLessThan(15_000)
      // 1 GiB inflated would show here; the cap keeps each body at 1 MiB.
      expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024)
    }), { timeout: 60_000 })
})

/** Titles that break naive SQL, JSON, CSV or C-string handling. */
const hostileTitles: ReadonlyArray<string> = [
  "'; DROP TABLE pages; --",
  "\" OR \"1\"=\"1",
  "Robert'); DELETE FROM urls WHERE ('1'='1",
  "back\\slash \\' \\\" \\0 \\n",
  "$1 $2 ? ?1 :name @p0 %s %d {0}",
  "nul\u0000inside\u0000twice",
  "tab\tand\u000bvertical\u000cfeed",
  "quotes ' \" ` ´ ‘ ’ “ ”",
  "unicode ✓ 漢字 😀 \u202eRTL-override \u200bzero-width",
  "lone surrogate \ud800 end",
  "<script>alert(1)</script>",
  "a,b;\"c\"\r\nnext,row",
  "x".repeat(1000) + "'",
  ("huge '" + "ÿ".repeat(20)).repeat(400)
]

/** Paths with characters that need care in SQL and URLs (the crawler stores them normalized; they must come back equal). */
const hostilePaths: ReadonlyArray<string> = [
  "/it's/a'path",
  "/q?x=' OR 1=1 --&y=\"two\"",
  "/semi;colon--comment/*c*/",
  "/percent%00nul%27quote%22dq",
  "/back\\slash",
  "/dollar$1/?a=$2",
  "/unicode/漢字/😀",
  "/long/" + "a'b\"c".repeat(200)
]

/** What the extractor makes of a title written into the page: HTML-escaped, whitespace collapsed, at most 1024 characters. */
const escapeHtml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;")

/** A lone surrogate cannot be sent as UTF-8: the server's encoder writes U+FFFD for it. */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")

forEachDialect("security: hostile text", (h) => {
  it.scopedLive("hostile titles and URLs are stored through bound parameters and read back equal (db and JSONL)", () =>
    Effect.gen(function*() {
      const titled = hostileTitles.map((title, i) => ({ path: `/t/${i}`, title }))
      const a = yield* TestServer.make({
        routes: [
          Faults.get("/", html(links(...titled.map((t) => t.path), ...hostilePaths))),
          ...titled.map((t) => Faults.get(t.path, html("", `<title>${escapeHtml(t.title)}</title>`)))
        ],
        fallback: (request) => html("", `<title>${escapeHtml(request.path)}</title>`)
      })
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-security-"))
      const out = Path.join(dir, "out.jsonl")
      const { records } = yield* crawlFresh(h, { seeds: [a.urlFor("/")], out }, {
        // The handler's data goes through JSON in the database: it must come back equal too.
        handler: (page) => Effect.succeed({ title: page.document.title ?? null, url: page.url })
      })

      // Every URL the server was asked for is stored, exactly as requested.
      const requested = (yield* a.requests).filter((r) => r.path !== "/robots.txt").map((r) => a.url + r.path)
      expect(new Set(records.map((r) => r.url))).toEqual(new Set(requested))
      expect(records.length).toBe(requested.length)
      for (const path of hostilePaths) {
        const expected = Url.normalize(a.url + path)
        expect(Either.isRight(expected), path).toBe(true)
        if (Either.isRight(expected)) expect(records.some((r) => r.url === expected.right.href), path).toBe(true)
      }

      const pages = byPath(records, a.url)
      for (const { path, title } of titled) {
        // The extractor collapses whitespace and caps titles at 1024 characters; NUL becomes U+FFFD (HTML's RCDATA rule).
        const expected = wellFormed(title).replaceAll("\u0000", "\ufffd").replace(/[\t\n\f\r ]+/g, " ").trim().slice(0, 1024)
        const record = pages.get(path)
        expect(record?.title, path).toBe(expected)
        expect(record?.data, path).toEqual({ title: expected, url: a.url + path })
      }

      // The JSONL output, written as pages committed, holds the same records as the database.
      const lines = Fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Page.PageRecord)
      expect(lines.length).toBe(records.length)
      const inDb = new Map(records.map((r) => [r.url, r]))
      for (const line of lines) expect(line).toEqual(inDb.get(line.url))
      Fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 60_000 })
})

describe("security: blob store", () => {
  const withStore = <A, E>(f: (store: BlobStore.Service, root: string, outside: string) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-blobs-"))
      const root = Path.join(dir, "store")
      const outside = Path.join(dir, "outside.txt")
      Fs.writeFileSync(outside, "do not touch")
      const store = yield* BlobStore.make({ root, sync: false })
      const result = yield* f(store, root, outside)
      expect(Fs.readFileSync(outside, "utf8")).toBe("do not touch")
      Fs.rmSync(dir, { recursive: true, force: true })
      return result
    }).pipe(Effect.provide(NodeContext.layer))

  it.effect("traversal keys are refused by get, has, path and remove; nothing outside is read or removed", () =>
    withStore((store, root, outside) =>
      Effect.gen(function*() {
        const hex = "ab".repeat(32)
        const attempts = [
          "../outside.txt",
          "../../outside.txt",
          outside,
          "/etc/passwd",
          "..\\outside.txt",
          `ab/cd/${hex}`,
          `../${hex.slice(3)}`,
          `${hex.slice(0, 60)}/../`,
          `${hex}\u0000`,
          `${hex.slice(0, 63)}\u0000`,
          hex.toUpperCase(),
          `${hex} `,
          "",
          ".",
          "..",
          "%2e%2e%2foutside.txt",
          "C:\\Windows\\win.ini",
          "a".repeat(100_000)
        ]
        for (const key of attempts) {
          for (const operation of [store.get(key), store.has(key), store.path(key), store.remove(key)]) {
            const result = yield* Effect.either(operation as Effect.Effect<unknown, { readonly _tag: string }>)
            expect(Either.isLeft(result) ? result.left._tag : "accepted", JSON.stringify(key.slice(0, 80))).toBe("InvalidKey")
          }
        }
        // Keys that put returns are content hashes, and their files live inside the root.
        const key = yield* store.put("../../outside.txt")
        expect(key).toMatch(/^[0-9a-f]{64}$/)
        const file = yield* store.path(key)
        expect(Path.relative(root, file).startsWith("..")).toBe(false)
      })))

  it.effect("no string names a file outside the store", () =>
    withStore((store, root) =>
      Effect.gen(function*() {
        const keyish = FastCheck.oneof(
          FastCheck.string({ unit: "binary", maxLength: 80 }),
          FastCheck.array(FastCheck.constantFrom("..", "/", "\\", ".", "ab", "%2e", "\u0000", "ff", "0"), { maxLength: 40 }).map((p) => p.join("")),
          FastCheck.stringMatching(/^[0-9a-f]{64}$/)
        )
        const samples = FastCheck.sample(keyish, { numRuns: 2_000, seed: 9309 })
        let valid = 0
        for (const key of samples) {
          const result = yield* Effect.either(store.path(key))
          if (Either.isRight(result)) {
            valid++
            expect(BlobStore.isKey(key)).toBe(true)
            const relative = Path.relative(root, result.right)
            expect(relative.startsWith("..") || Path.isAbsolute(relative), key).toBe(false)
          } else {
            expect(BlobStore.isKey(key)).toBe(false)
          }
        }
        expect(valid).toBeGreaterThan(0)
      })))
})
