import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { SyntheticSite } from "@fiberkit/testkit"
import * as Zlib from "node:zlib"
import * as Sitemap from "../src/Sitemap.js"

const ok = (result: Either.Either<Sitemap.Parsed, Sitemap.SitemapError>): Sitemap.Parsed => {
  if (Either.isLeft(result)) throw new Error(`expected a sitemap: ${result.left.message}`)
  return result.right
}

const fail = (result: Either.Either<Sitemap.Parsed, Sitemap.SitemapError>): Sitemap.SitemapError => {
  if (Either.isRight(result)) throw new Error(`expected an error, got ${JSON.stringify(result.right)}`)
  return result.left
}

const urlset = (locs: ReadonlyArray<string>): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n` +
  locs.map((loc) => `<url><loc>${loc}</loc><lastmod>2024-01-01</lastmod><priority>0.5</priority></url>\n`).join("") +
  "</urlset>\n"

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe("Sitemap.parse: urlset", () => {
  it("returns the loc values in order, trimmed, entity-decoded, normalized", () => {
    const parsed = ok(Sitemap.parse(urlset([
      "https://example.com/",
      "\n   https://example.com/a?x=1&amp;y=2  \n",
      "<![CDATA[https://example.com/c?p=1&q=2]]>",
      "HTTPS://EXAMPLE.COM:443/p/%312#frag"
    ])))
    expect(parsed).toEqual({
      kind: "urlset",
      urls: ["https://example.com/", "https://example.com/a?x=1&y=2", "https://example.com/c?p=1&q=2", "https://example.com/p/12"],
      sitemaps: [],
      invalid: 0,
      truncated: false
    })
  })

  it("resolves relative loc values against the sitemap URL and counts unusable ones", () => {
    const parsed = ok(Sitemap.parse(urlset(["/a", "b", "mailto:x@example.com", "   ", "http://", "javascript:alert(1)"]), {
      url: "https://example.com/maps/sitemap.xml"
    }))
    expect(parsed.urls).toEqual(["https://example.com/a", "https://example.com/maps/b"])
    expect(parsed.invalid).toBe(4)
  })

  it("applies the crawl's normalization options", () => {
    const parsed = ok(Sitemap.parse(urlset(["https://example.com/?utm_source=x&b=1&a=2"]), { normalize: { stripTracking: true, sortQuery: true } }))
    expect(parsed.urls).toEqual(["https://example.com/?a=2&b=1"])
  })

  it("takes only loc directly inside url: extension elements are not pages", () => {
    const xml = `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
      <url>
        <loc>https://example.com/page</loc>
        <image:image><image:loc>https://example.com/photo.jpg</image:loc></image:image>
        <xhtml:link rel="alternate" hreflang="de" href="https://example.com/de/page"/>
      </url>
      <loc>https://example.com/stray</loc>
      <url><image:loc>https://example.com/also-not</image:loc></url>
    </urlset>`
    expect(ok(Sitemap.parse(xml)).urls).toEqual(["https://example.com/page"])
  })

  it("reads a sitemap whose root uses a namespace prefix, and tag names case-insensitively", () => {
    const xml = `<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9"><sm:url><sm:loc>https://example.com/a</sm:loc></sm:url></sm:urlset>`
    expect(ok(Sitemap.parse(xml)).urls).toEqual(["https://example.com/a"])
    expect(ok(Sitemap.parse("<URLSET><URL><LOC>https://example.com/b</LOC></URL></URLSET>")).urls).toEqual(["https://example.com/b"])
  })

  it("keeps at most maxUrls entries (50,000 by default) and says it truncated", () => {
    const locs = Array.from({ length: Sitemap.maxUrls + 5 }, (_, i) => `https://example.com/p/${i}`)
    const parsed = ok(Sitemap.parse(urlset(locs)))
    expect(Sitemap.maxUrls).toBe(50_000)
    expect(parsed.urls).toHaveLength(50_000)
    expect(parsed.urls.at(-1)).toBe("https://example.com/p/49999")
    expect(parsed.truncated).toBe(true)
    const small = ok(Sitemap.parse(urlset(["https://e.com/1", "https://e.com/2", "https://e.com/3"]), { maxUrls: 2 }))
    expect(small.urls).toEqual(["https://e.com/1", "https://e.com/2"])
    expect(small.truncated).toBe(true)
    expect(ok(Sitemap.parse(urlset(["https://e.com/1"]), { maxUrls: 1 })).truncated).toBe(false)
  })
})

describe("Sitemap.parse: sitemapindex, text, errors", () => {
  it("returns the child sitemaps of an index", () => {
    const xml = `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://example.com/s1.xml</loc><lastmod>2024-01-01</lastmod></sitemap>
      <sitemap><loc> /s2.xml.gz </loc></sitemap>
    </sitemapindex>`
    expect(ok(Sitemap.parse(xml, { url: "https://example.com/sitemap_index.xml" }))).toEqual({
      kind: "sitemapindex",
      urls: [],
      sitemaps: ["https://example.com/s1.xml", "https://example.com/s2.xml.gz"],
      invalid: 0,
      truncated: false
    })
  })

  it("does not take url entries of an index or sitemap entries of a urlset", () => {
    expect(ok(Sitemap.parse("<sitemapindex><url><loc>https://e.com/a</loc></url></sitemapindex>")).urls).toEqual([])
    expect(ok(Sitemap.parse("<urlset><sitemap><loc>https://e.com/a</loc></sitemap></urlset>")).sitemaps).toEqual([])
  })

  it("reads text sitemaps: one URL per line", () => {
    const parsed = ok(Sitemap.parse(bytes("\uFEFFhttps://example.com/a\r\n\r\nhttps://example.com/b  \nnot a url\n")))
    expect(parsed).toEqual({ kind: "text", urls: ["https://example.com/a", "https://example.com/b"], sitemaps: [], invalid: 1, truncated: false })
  })

  it("fails with NotASitemap for other documents", () => {
    const html = fail(Sitemap.parse("<!doctype html><html><body><a href='/x'>x</a></body></html>", { url: "https://e.com/sitemap.xml" }))
    expect(html).toBeInstanceOf(Sitemap.NotASitemap)
    expect(html._tag).toBe("NotASitemap")
    if (html._tag === "NotASitemap") expect(html.root).toBe("html")
    expect(html.message).toContain("https://e.com/sitemap.xml")
    expect(html.message).toContain("<html>")
    const rss = fail(Sitemap.parse("<rss><channel><item><link>https://e.com/a</link></item></channel></rss>"))
    expect(rss._tag).toBe("NotASitemap")
    const empty = fail(Sitemap.parse("<!-- nothing -->"))
    expect(empty._tag === "NotASitemap" && empty.root).toBeUndefined()
  })

  it("fails with SitemapTooLarge for a file over maxBytes (50 MB by default)", () => {
    expect(Sitemap.maxBytes).toBe(50 * 1024 * 1024)
    const text = urlset(["https://example.com/a"])
    const error = fail(Sitemap.parse(bytes(text), { maxBytes: 100, url: "https://e.com/s.xml" }))
    expect(error._tag).toBe("SitemapTooLarge")
    expect(error.message).toContain("larger than 100 bytes")
    expect(fail(Sitemap.parse(text, { maxBytes: 100 }))._tag).toBe("SitemapTooLarge")
    expect(Either.isRight(Sitemap.parse(bytes(text), { maxBytes: text.length }))).toBe(true)
  })
})

describe("Sitemap: gzip", () => {
  const xml = urlset(["https://example.com/a", "https://example.com/b"])

  it("detects gzip by its magic bytes and inflates it, whatever the name", () => {
    const gz = Zlib.gzipSync(xml)
    expect(Sitemap.isGzip(gz)).toBe(true)
    expect(Sitemap.isGzip(bytes(xml))).toBe(false)
    expect(Sitemap.isGzip(new Uint8Array([0x1f]))).toBe(false)
    expect(ok(Sitemap.parse(gz))).toEqual(ok(Sitemap.parse(xml)))
  })

  it("caps the inflated size: a gzip bomb fails with SitemapTooLarge", () => {
    const bomb = Zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20))
    expect(bomb.length).toBeLessThan(100 * 1024)
    const error = fail(Sitemap.parse(bomb, { maxBytes: 1024 * 1024 }))
    expect(error._tag).toBe("SitemapTooLarge")
    expect(error._tag === "SitemapTooLarge" && error.inflated).toBe(true)
    expect(error.message).toContain("once inflated")
    const inflated = Sitemap.gunzip(Zlib.gzipSync(xml), xml.length)
    expect(Either.isRight(inflated)).toBe(true)
    expect(Either.isLeft(Sitemap.gunzip(Zlib.gzipSync(xml), xml.length - 1))).toBe(true)
  })

  it("fails with SitemapCorrupt for broken gzip", () => {
    const gz = Zlib.gzipSync(xml)
    const error = fail(Sitemap.parse(gz.subarray(0, gz.length - 12)))
    expect(error._tag).toBe("SitemapCorrupt")
    expect(fail(Sitemap.parse(new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4])))._tag).toBe("SitemapCorrupt")
    expect(error.message).toContain("not valid gzip")
  })
})

describe("Sitemap: the synthetic site", () => {
  it("finds exactly the site's sitemap pages through the index and the gzipped child", () => {
    const site = SyntheticSite.make({ pages: 400, seed: 5 })
    const host = "127.0.0.1:8080"
    const origin = `http://${host}`
    const fetch = (path: string): Uint8Array => {
      const reply = site.handle({
        method: "GET",
        path,
        pathname: path,
        query: new URLSearchParams(),
        headers: { host },
        body: new Uint8Array(0),
        hit: 1
      })
      expect(reply.status ?? 200, path).toBe(200)
      const body = reply.body
      return typeof body === "string" ? bytes(body) : body instanceof Uint8Array ? body : new Uint8Array(0)
    }
    const found = new Set<string>()
    let gzipped = 0
    const queue = [`${origin}/sitemap.xml`, `${origin}/sitemap_index.xml`]
    for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
      const body = fetch(new URL(url).pathname)
      if (Sitemap.isGzip(body)) gzipped++
      const parsed = ok(Sitemap.parse(body, { url }))
      expect(parsed.invalid).toBe(0)
      for (const page of parsed.urls) found.add(page)
      queue.push(...parsed.sitemaps)
    }
    expect(gzipped).toBe(1)
    const expected = site.groundTruth.sitemap.map(SyntheticSite.url(origin))
    expect(expected.length).toBeGreaterThan(50)
    expect([...found].sort()).toEqual([...expected].sort())
  })
})

describe("Sitemap: never throws", () => {
  const fragments = FastCheck.array(
    FastCheck.oneof(
      FastCheck.constantFrom("<urlset>", "</urlset>", "<url>", "</url>", "<loc>", "</loc>", "<sitemapindex>", "<sitemap>", "<![CDATA[", "]]>", "&amp;", "&#xFFFFFF;", "http://e.com/", "<", ">", "<?xml?>", "<!--"),
      FastCheck.string({ unit: "binary", maxLength: 20 })
    ),
    { maxLength: 30 }
  )

  it.prop("returns a result for arbitrary text", { text: fragments.map((f) => f.join("")) }, ({ text }) => {
    const result = Sitemap.parse(text, { url: "http://e.com/s.xml" })
    expect(Either.isEither(result)).toBe(true)
  })

  it.prop("returns a result for arbitrary bytes, gzip-looking or not", {
    data: FastCheck.uint8Array({ maxLength: 400 }),
    gz: FastCheck.boolean()
  }, ({ data, gz }) => {
    const body = gz ? new Uint8Array([0x1f, 0x8b, ...data]) : data
    expect(Either.isEither(Sitemap.parse(body))).toBe(true)
  })
})
