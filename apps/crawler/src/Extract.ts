/**
 * `Extract`: what a crawler reads from an HTML page, in one streaming pass
 * with htmlparser2's tokenizer (no DOM):
 *
 * - the `<title>` (entity-decoded, whitespace collapsed, capped; an SVG
 *   `<title>` is not the page's);
 * - `<meta name="description">` and `<meta name="robots">` (`noindex`,
 *   `nofollow`, `none`);
 * - `<link rel="canonical">`, resolved and normalized like links;
 * - the first `<base href>`, resolved against the page URL; it applies to
 *   every link, even those before it (as in browsers);
 * - every `<a href>`: the href as written, the normalized URL (or why it is
 *   not one: `mailto:`, `javascript:`…) and whether it has `rel=nofollow`.
 *   Blank and fragment-only hrefs (`#top`) are skipped; past `maxLinks` links
 *   are counted in `droppedLinks`, not kept.
 *
 * {@link isHtml} says whether a response is HTML, sniffing the body when the
 * content type is missing or generic.
 *
 * Extraction never throws and takes linear time, whatever the input: 5 MB of
 * unclosed tags or of nesting a million deep parse in well under a second.
 *
 * @example
 * ```ts
 * import { Extract } from "@fiberkit/crawler"
 *
 * const page = Extract.parse(html, "https://example.com/a/b", { normalize: { stripTracking: true } })
 * page.title                                 // "Example"
 * const follow = page.nofollow ? [] : page.links.flatMap((l) => (l.url === undefined || l.nofollow ? [] : [l.url]))
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { Tokenizer } from "htmlparser2"
import { Collector, maxValueLength } from "./internal/extractHandler.js"
import * as Sniff from "./internal/extractSniff.js"
import * as Url from "./Url.js"

/**
 * Extraction options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Links kept per page; more are counted in `droppedLinks`. Default {@link defaultMaxLinks}. */
  readonly maxLinks?: number | undefined
  /** Longest title and description kept, in characters. Default {@link defaultMaxTextLength}. */
  readonly maxTextLength?: number | undefined
  /** How links and the canonical URL are normalized (use the crawl's options so they key alike). */
  readonly normalize?: Url.Options | undefined
}

/**
 * Default {@link Options.maxLinks}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLinks = 10_000

/**
 * Default {@link Options.maxTextLength}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxTextLength = 1_024

/**
 * One `<a href>` of a page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  /** The `href` as written (entities decoded; left raw, and rejected as `too_long`, past 64 KiB). */
  readonly href: string
  /** The link resolved against the page's base and normalized; `undefined` when it is not a crawlable URL. */
  readonly url: Url.Normalized | undefined
  /** Why it is not a crawlable URL (`mailto:`, `javascript:`, malformed…); `undefined` when `url` is set. */
  readonly invalid: Url.InvalidUrl | undefined
  /** Whether the anchor has `rel="nofollow"`. */
  readonly nofollow: boolean
}

/**
 * What a page yields.
 *
 * @since 0.1.0
 * @category models
 */
export interface Extracted {
  /** The document title; `undefined` when absent or blank. */
  readonly title: string | undefined
  /** `<meta name="description">`; `undefined` when absent or blank. */
  readonly description: string | undefined
  /** `<link rel="canonical">`, resolved and normalized; `undefined` when absent or not a crawlable URL. */
  readonly canonical: string | undefined
  /** The first `<base href>`, resolved; `undefined` when absent or unusable (links then resolve against the page URL). */
  readonly base: string | undefined
  /** `<meta name="robots">` says `noindex` (or `none`). */
  readonly noindex: boolean
  /** `<meta name="robots">` says `nofollow` (or `none`): the page asks that none of its links be followed. */
  readonly nofollow: boolean
  /** The anchors, in document order, at most `maxLinks`. */
  readonly links: ReadonlyArray<Link>
  /** Anchors past `maxLinks`, not kept. */
  readonly droppedLinks: number
}

// Entities are decoded only in the values kept (internal/extractEntities).
const tokenizerOptions = { xmlMode: false, decodeEntities: false } as const

const asciiWhitespace = /[\t\n\f\r ]+/g

/**
 * Collapses ASCII whitespace, trims and caps (without splitting a surrogate
 * pair, without a trailing space); blank → `undefined`. NUL becomes U+FFFD, as HTML's tokenizer does in
 * titles and attribute values (and as the database must store it anyway).
 */
const cleanText = (text: string | undefined, max: number): string | undefined => {
  if (text === undefined) return undefined
  let clean = text.replace(asciiWhitespace, " ").trim()
  if (clean.includes("\u0000")) clean = clean.replaceAll("\u0000", "\ufffd")
  if (clean === "") return undefined
  if (clean.length > max) {
    const cut = clean.charCodeAt(max - 1) >= 0xd800 && clean.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max
    // A cut right after a space would leave it trailing.
    clean = clean.slice(0, cut).trimEnd()
  }
  return clean === "" ? undefined : clean
}

/** Whether `href` is an absolute http(s) URL written plainly, so it needs no base. */
const isAbsoluteHttp = (href: string): boolean => {
  const c = href.charCodeAt(0) | 0x20
  if (c !== 0x68 /* h */) return false
  const head = href.slice(0, 8).toLowerCase()
  return head.startsWith("http://") || head === "https://"
}

/** An empty canonical href would name the page itself by accident of resolution; ignore it. */
const isFollowableCanonical = (href: string): boolean => href.trim() !== ""

const makeLink = (href: string, base: string, options: Url.Options | undefined, nofollow: boolean): Link => {
  if (href.length > maxValueLength) {
    return { href, url: undefined, invalid: new Url.InvalidUrl({ input: href, reason: "too_long", scheme: undefined }), nofollow }
  }
  // A plain absolute link parses alone; a relative one needs the base parsed with it.
  const result = isAbsoluteHttp(href) ? Url.normalize(href, options) : Url.resolve(href, base, options)
  return Either.isRight(result)
    ? { href, url: result.right, invalid: undefined, nofollow }
    : { href, url: undefined, invalid: result.left, nofollow }
}

/**
 * Extracts title, description, canonical, base, meta robots and links from
 * an HTML document. `pageUrl` is the URL the document was fetched from
 * (after redirects): relative links resolve against it, or against its
 * `<base href>`. Never throws.
 *
 * @since 0.1.0
 * @category extraction
 */
export const parse = (html: string, pageUrl: string, options?: Options): Extracted => {
  const text = typeof html === "string" ? html : ""
  const maxLinks = Math.max(0, options?.maxLinks ?? defaultMaxLinks)
  const maxText = Math.max(1, options?.maxTextLength ?? defaultMaxTextLength)
  const normalize = options?.normalize
  // Raw text beyond this cannot change a collapsed, capped title.
  const collector = new Collector(text, maxLinks, maxText * 4 + 256)
  const tokenizer = new Tokenizer(tokenizerOptions, collector)
  tokenizer.write(text)
  tokenizer.end()

  let base = pageUrl
  let resolvedBase: string | undefined
  if (collector.base !== undefined) {
    const resolved = Url.resolve(collector.base, pageUrl)
    if (Either.isRight(resolved)) {
      base = resolved.right.href
      resolvedBase = base
    }
  }

  const hrefs = collector.hrefs
  const nofollows = collector.nofollows
  const links: Array<Link> = new Array(hrefs.length)
  for (let i = 0; i < hrefs.length; i++) links[i] = makeLink(hrefs[i] ?? "", base, normalize, nofollows[i] === true)

  let canonical: string | undefined
  if (collector.canonical !== undefined && isFollowableCanonical(collector.canonical)) {
    const resolved = Url.resolve(collector.canonical, base, normalize)
    if (Either.isRight(resolved)) canonical = resolved.right.href
  }

  return {
    title: cleanText(collector.finalTitle(), maxText),
    description: cleanText(collector.description, maxText),
    canonical,
    base: resolvedBase,
    noindex: collector.noindex,
    nofollow: collector.nofollow,
    links,
    droppedLinks: collector.dropped
  }
}


/**
 * Whether a response is HTML. `text/html` and `application/xhtml+xml` are;
 * when the content type is missing, unparseable or generic (`text/plain`,
 * `application/octet-stream`, `unknown/unknown`…), the first bytes decide:
 * optional BOM and whitespace, then `<!doctype html`, `<html`, `<head`,
 * `<body`, `<script`, `<title`, `<div`, `<p`, `<a`, `<!--`… (the WHATWG
 * sniffing signatures). Any other declared type (JSON, images, PDF, CSS,
 * XML) is not HTML.
 *
 * @example
 * ```ts
 * Extract.isHtml("text/html; charset=utf-8", undefined)  // true
 * Extract.isHtml("text/plain", "<!DOCTYPE html><html>")  // true
 * Extract.isHtml(undefined, new Uint8Array([0x89, 0x50, 0x4e, 0x47])) // false (PNG)
 * Extract.isHtml("application/json", "<html>")           // false
 * ```
 *
 * @since 0.1.0
 * @category sniffing
 */
export const isHtml: (
  contentType: string | null | undefined,
  bodyPrefix: Uint8Array | string | null | undefined
) => boolean = Sniff.isHtml
