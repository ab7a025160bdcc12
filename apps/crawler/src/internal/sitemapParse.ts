/**
 * The streaming handler that reads `<loc>` values out of a sitemap
 * (`urlset > url > loc`) or a sitemap index (`sitemapindex > sitemap > loc`)
 * with htmlparser2 in XML mode, and the reader of plain-text sitemaps (one
 * URL per line).
 *
 * Only `loc` elements directly inside an entry count, so extension elements
 * such as `<image:image><image:loc>` are not taken for pages. Element names
 * are compared case-insensitively and with the root element's namespace
 * prefix, if it has one (`<sm:urlset>` … `<sm:loc>`).
 *
 * @internal
 */
import { Parser } from "htmlparser2"
import * as Either from "effect/Either"
import * as Url from "../Url.js"

export type Kind = "urlset" | "sitemapindex" | "text"

/** What a collector gathered. */
export interface Collected {
  readonly root: string | undefined
  readonly urls: ReadonlyArray<string>
  readonly sitemaps: ReadonlyArray<string>
  readonly invalid: number
  readonly truncated: boolean
}

/** A `<loc>` longer than this cannot become an acceptable URL; stop buffering it. */
const maxLocLength = 64 * 1024

const xmlOptions = { xmlMode: true, decodeEntities: true } as const

/** Accepts one `loc` value: resolved against the sitemap's URL, normalized, counted. */
class Sink {
  readonly urls: Array<string> = []
  readonly sitemaps: Array<string> = []
  invalid = 0
  truncated = false
  constructor(
    readonly base: string | undefined,
    readonly maxUrls: number,
    readonly options: Url.Options | undefined
  ) {}

  add(value: string, index: boolean): void {
    const trimmed = value.trim()
    if (trimmed === "") {
      this.invalid++
      return
    }
    const result = this.base === undefined ? Url.normalize(trimmed, this.options) : Url.resolve(trimmed, this.base, this.options)
    if (Either.isLeft(result)) {
      this.invalid++
      return
    }
    if (this.urls.length + this.sitemaps.length >= this.maxUrls) {
      this.truncated = true
      return
    }
    if (index) this.sitemaps.push(result.right.href)
    else this.urls.push(result.right.href)
  }
}

const localName = (name: string, prefix: string): string | undefined => {
  const lower = name.toLowerCase()
  if (prefix === "") return lower.indexOf(":") < 0 ? lower : undefined
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : undefined
}

/** htmlparser2 handler: prototype methods, no per-document closures. */
class XmlHandler {
  root: string | undefined
  /** The root's namespace prefix with its colon, lower-case, or `""`. */
  prefix = ""
  depth = 0
  /** Inside `<url>` (`false`) or `<sitemap>` (`true`) at depth 2; `undefined` elsewhere. */
  entry: boolean | undefined
  inLoc = false
  loc = ""
  constructor(readonly sink: Sink) {}

  onopentag(name: string): void {
    const depth = ++this.depth
    if (depth === 1) {
      const lower = name.toLowerCase()
      const colon = lower.lastIndexOf(":")
      this.prefix = colon < 0 ? "" : lower.slice(0, colon + 1)
      this.root = lower.slice(colon + 1)
    } else if (depth === 2) {
      const local = localName(name, this.prefix)
      this.entry = this.root === "urlset" && local === "url"
        ? false
        : this.root === "sitemapindex" && local === "sitemap"
        ? true
        : undefined
    } else if (depth === 3 && this.entry !== undefined && localName(name, this.prefix) === "loc") {
      this.inLoc = true
      this.loc = ""
    }
  }

  ontext(text: string): void {
    if (this.inLoc && this.loc.length < maxLocLength) this.loc += text
  }

  onclosetag(): void {
    const depth = this.depth--
    if (depth === 3 && this.inLoc) {
      this.inLoc = false
      if (this.entry !== undefined) this.sink.add(this.loc, this.entry)
      this.loc = ""
    } else if (depth === 2) {
      this.entry = undefined
    }
  }
}

const collected = (root: string | undefined, sink: Sink): Collected => ({
  root,
  urls: sink.urls,
  sitemaps: sink.sitemaps,
  invalid: sink.invalid,
  truncated: sink.truncated
})

/** Reads an XML sitemap or sitemap index. `root` is the root element's local name, if any. */
export const parseXml = (
  text: string,
  base: string | undefined,
  maxUrls: number,
  options: Url.Options | undefined
): Collected => {
  const sink = new Sink(base, maxUrls, options)
  const handler = new XmlHandler(sink)
  const parser = new Parser(handler, xmlOptions)
  parser.end(text)
  return collected(handler.root, sink)
}

const lineBreak = /\r\n|\r|\n/

/** Reads a plain-text sitemap: one URL per line, blank lines skipped. */
export const parseText = (
  text: string,
  base: string | undefined,
  maxUrls: number,
  options: Url.Options | undefined
): Collected => {
  const sink = new Sink(base, maxUrls, options)
  for (const line of text.split(lineBreak)) {
    if (line.trim() !== "") sink.add(line, false)
  }
  return collected(undefined, sink)
}

/** Whether a document is XML (starts with `<` after whitespace and a byte order mark). */
export const looksLikeXml = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x3c) return true
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0xfeff) return false
  }
  return false
}
