/**
 * Sitemaps of the synthetic site. The listed pages are split in four:
 * `/sitemap.xml` holds the first quarter, and the index
 * `/sitemap_index.xml` points at three children, the last one gzipped
 * (`.xml.gz`, served as `application/gzip` bytes, not as a content-encoding).
 *
 * Sitemaps need absolute URLs, so they are rendered per origin; the gzipped
 * one is cached for the few origins a server is reached by.
 *
 * @internal
 */
import * as Zlib from "node:zlib"

export const rootPath = "/sitemap.xml"
export const indexPath = "/sitemap_index.xml"
/** The index's children, in order; the last one is gzipped. */
export const childPaths: ReadonlyArray<string> = [
  "/sitemaps/pages-1.xml",
  "/sitemaps/pages-2.xml",
  "/sitemaps/pages-3.xml.gz"
]

export interface File {
  readonly contentType: string
  readonly body: string | Uint8Array
}

export interface Sitemaps {
  /** The file at `path` for requests to `origin`, or `undefined` when `path` is not a sitemap. */
  readonly file: (path: string, origin: string) => File | undefined
}

const xmlType = "application/xml; charset=utf-8"
const header = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
const ns = "http://www.sitemaps.org/schemas/sitemap/0.9"

/** A stable, plausible `lastmod` derived from the path. */
const lastmod = (path: string): string => {
  let h = 0
  for (let i = 0; i < path.length; i++) h = (Math.imul(h, 31) + path.charCodeAt(i)) >>> 0
  const month = 1 + (h % 12)
  const day = 1 + ((h >>> 4) % 28)
  return `2024-${month < 10 ? "0" : ""}${month}-${day < 10 ? "0" : ""}${day}`
}

const urlset = (paths: ReadonlyArray<string>, origin: string): string => {
  let xml = `${header}<urlset xmlns="${ns}">\n`
  for (const path of paths) xml += `<url><loc>${origin}${path}</loc><lastmod>${lastmod(path)}</lastmod></url>\n`
  return xml + "</urlset>\n"
}

const sitemapIndex = (origin: string): string => {
  let xml = `${header}<sitemapindex xmlns="${ns}">\n`
  for (const path of childPaths) xml += `<sitemap><loc>${origin}${path}</loc></sitemap>\n`
  return xml + "</sitemapindex>\n"
}

const gzipCacheSize = 8

/** Sitemaps listing `paths` (root-relative, in order). */
export const make = (paths: ReadonlyArray<string>): Sitemaps => {
  const quarter = (i: number): ReadonlyArray<string> =>
    paths.slice(Math.floor((i * paths.length) / 4), Math.floor(((i + 1) * paths.length) / 4))
  const gzipped = new Map<string, Uint8Array>()
  const gzip = (origin: string, part: ReadonlyArray<string>): Uint8Array => {
    let bytes = gzipped.get(origin)
    if (bytes === undefined) {
      if (gzipped.size >= gzipCacheSize) gzipped.clear()
      bytes = Zlib.gzipSync(urlset(part, origin))
      gzipped.set(origin, bytes)
    }
    return bytes
  }
  return {
    file: (path, origin) => {
      if (path === rootPath) return { contentType: xmlType, body: urlset(quarter(0), origin) }
      if (path === indexPath) return { contentType: xmlType, body: sitemapIndex(origin) }
      const child = childPaths.indexOf(path)
      if (child < 0) return undefined
      const part = quarter(child + 1)
      return path.endsWith(".gz")
        ? { contentType: "application/gzip", body: gzip(origin, part) }
        : { contentType: xmlType, body: urlset(part, origin) }
    }
  }
}
