/**
 * `Sitemap`: reading sitemaps (sitemaps.org protocol 0.9) as a pure function
 * of the fetched bytes.
 *
 * - XML `urlset` (page URLs) and `sitemapindex` (more sitemaps), streamed
 *   with htmlparser2 in XML mode; plain-text sitemaps (one URL per line).
 * - gzip detected by its magic bytes (`1f 8b`), whatever the content type,
 *   and inflated with a cap on the inflated size.
 * - `loc` values trimmed, entity-decoded, resolved against the sitemap's URL
 *   and normalized with {@link Url.normalize}; values that are not `http(s)`
 *   URLs are counted in `invalid`, not returned.
 * - The protocol's limits per file: {@link maxUrls} entries (more are dropped
 *   and `truncated` set) and {@link maxBytes} bytes, compressed or not
 *   (larger files fail with {@link SitemapTooLarge}).
 *
 * Whether listed URLs are in scope (the protocol only allows a sitemap's own
 * host, unless robots.txt cross-submits) is the crawl's `Url.scope` to say.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Sitemap } from "@fiberkit/crawler"
 *
 * const result = Sitemap.parse(bytes, { url: "https://example.com/sitemap.xml.gz" })
 * if (Either.isRight(result)) {
 *   result.right.urls      // pages to seed
 *   result.right.sitemaps  // child sitemaps to fetch (from an index)
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Zlib from "node:zlib"
import * as internal from "./internal/sitemapParse.js"
import type * as Url from "./Url.js"

/**
 * Entries per sitemap file allowed by the protocol.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxUrls = 50_000

/**
 * Bytes per sitemap file allowed by the protocol (50 MB, uncompressed).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBytes = 50 * 1024 * 1024

/**
 * Parsing options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The sitemap's own URL: relative `loc` values resolve against it, and errors name it. */
  readonly url?: string | undefined
  /** Entries kept per file. Default {@link maxUrls}. */
  readonly maxUrls?: number | undefined
  /** Largest file, compressed and inflated (in characters for a string body). Default {@link maxBytes}. */
  readonly maxBytes?: number | undefined
  /** How `loc` values are normalized (use the crawl's options so they key like links). */
  readonly normalize?: Url.Options | undefined
}

/**
 * A parsed sitemap. A `urlset` (or text sitemap) fills `urls`, a
 * `sitemapindex` fills `sitemaps`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parsed {
  readonly kind: "urlset" | "sitemapindex" | "text"
  /** Page URLs, normalized, in file order. */
  readonly urls: ReadonlyArray<string>
  /** Child sitemap URLs, normalized, in file order. */
  readonly sitemaps: ReadonlyArray<string>
  /** `loc` values that were empty or not `http(s)` URLs. */
  readonly invalid: number
  /** Whether entries past `maxUrls` were dropped. */
  readonly truncated: boolean
}

const where = (url: string | undefined): string => (url === undefined ? "sitemap" : `sitemap ${url}`)

/**
 * The file, or its inflated content, is larger than the limit. A sitemap this
 * large breaks the protocol; ask the site for an index of smaller files, or
 * raise `maxBytes`.
 *
 * @since 0.1.0
 * @category errors
 */
export class SitemapTooLarge extends Data.TaggedError("SitemapTooLarge")<{
  readonly url: string | undefined
  readonly limit: number
  /** Whether the limit was hit while inflating gzip. */
  readonly inflated: boolean
}> {
  override get message(): string {
    return `${where(this.url)} is larger than ${this.limit} bytes${
      this.inflated ? " once inflated" : ""
    }: the protocol allows 50 MB per file; raise maxBytes to read it anyway.`
  }
}

/**
 * The file starts like gzip but does not inflate.
 *
 * @since 0.1.0
 * @category errors
 */
export class SitemapCorrupt extends Data.TaggedError("SitemapCorrupt")<{
  readonly url: string | undefined
  readonly reason: string
}> {
  override get message(): string {
    return `${where(this.url)} is not valid gzip (${this.reason}); the file is truncated or corrupt — fetch it again.`
  }
}

/**
 * The XML document's root is neither `urlset` nor `sitemapindex` (an HTML
 * error page, a feed, another XML document).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotASitemap extends Data.TaggedError("NotASitemap")<{
  readonly url: string | undefined
  /** The root element's name, `undefined` when there is none. */
  readonly root: string | undefined
}> {
  override get message(): string {
    const root = this.root === undefined ? "no root element" : `root element <${this.root}>`
    return `${where(this.url)} is not a sitemap: ${root}, expected <urlset> or <sitemapindex>; check the URL (robots.txt Sitemap lines, --sitemap).`
  }
}

/**
 * Why a sitemap could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export type SitemapError = SitemapTooLarge | SitemapCorrupt | NotASitemap

/**
 * Whether bytes start with the gzip magic number `1f 8b`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b

/**
 * Inflates gzip bytes, failing when the result would exceed `limit` bytes
 * (a gzip bomb stops there instead of filling memory).
 *
 * @since 0.1.0
 * @category parsing
 */
export const gunzip = (
  bytes: Uint8Array,
  limit: number = maxBytes,
  url?: string
): Either.Either<Uint8Array, SitemapTooLarge | SitemapCorrupt> => {
  try {
    return Either.right(Zlib.gunzipSync(bytes, { maxOutputLength: Math.max(1, limit) }))
  } catch (error) {
    if (error instanceof RangeError) return Either.left(new SitemapTooLarge({ url, limit, inflated: true }))
    return Either.left(new SitemapCorrupt({ url, reason: error instanceof Error ? error.message : String(error) }))
  }
}

const decoder = new TextDecoder("utf-8")

/**
 * Parses a sitemap, a sitemap index or a text sitemap from the fetched body
 * (bytes, gzipped or not, or text). Never throws.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (body: Uint8Array | string, options: Options = {}): Either.Either<Parsed, SitemapError> => {
  const url = options.url
  const limit = options.maxBytes ?? maxBytes
  const entries = options.maxUrls ?? maxUrls
  let text: string
  if (typeof body === "string") {
    if (body.length > limit) return Either.left(new SitemapTooLarge({ url, limit, inflated: false }))
    text = body
  } else {
    if (body.length > limit) return Either.left(new SitemapTooLarge({ url, limit, inflated: false }))
    let bytes = body
    if (isGzip(bytes)) {
      const inflated = gunzip(bytes, limit, url)
      if (Either.isLeft(inflated)) return Either.left(inflated.left)
      bytes = inflated.right
    }
    text = decoder.decode(bytes)
  }
  if (!internal.looksLikeXml(text)) {
    const found = internal.parseText(text, url, entries, options.normalize)
    return Either.right({ kind: "text", urls: found.urls, sitemaps: [], invalid: found.invalid, truncated: found.truncated })
  }
  const found = internal.parseXml(text, url, entries, options.normalize)
  if (found.root !== "urlset" && found.root !== "sitemapindex") {
    return Either.left(new NotASitemap({ url, root: found.root }))
  }
  return Either.right({
    kind: found.root,
    urls: found.urls,
    sitemaps: found.sitemaps,
    invalid: found.invalid,
    truncated: found.truncated
  })
}
