/**
 * The callbacks fed by htmlparser2's streaming `Tokenizer`: they pick out
 * the few things a crawler needs (title, meta description and robots,
 * canonical link, base, anchors) and ignore everything else without
 * allocating.
 *
 * The tokenizer, not htmlparser2's `Parser`, because the parser keeps an
 * element stack with `unshift` and `indexOf` on every tag: deep nesting (a
 * million unclosed `<div>`s) makes it quadratic (minutes for 5 MB), while
 * the tokenizer stays linear. Nothing here needs the tree: `<svg>`/`<math>`
 * depth (so an SVG `<title>` is not the page's) is a counter.
 *
 * The tokenizer runs without entity decoding (see `extractEntities`): kept
 * values are decoded when a tag or the title ends. One collector per
 * document; its methods live on the prototype, so feeding the tokenizer
 * creates no closures.
 *
 * @internal
 */
import type { QuoteType, TokenizerCallbacks } from "htmlparser2"
import * as Entities from "./extractEntities.js"

const enum Tag {
  Other,
  A,
  Link,
  Meta,
  Base,
  Title,
  Foreign
}

const enum Attr {
  None,
  Href,
  Rel,
  Name,
  Content
}

const shortTags: ReadonlyMap<string, Tag> = new Map([
  ["link", Tag.Link],
  ["meta", Tag.Meta],
  ["base", Tag.Base],
  ["title", Tag.Title],
  ["svg", Tag.Foreign],
  ["math", Tag.Foreign]
])

const attrs: ReadonlyMap<string, Attr> = new Map([
  ["href", Attr.Href],
  ["rel", Attr.Rel],
  ["name", Attr.Name],
  ["content", Attr.Content]
])

/**
 * Kept attribute values longer than this are not decoded whole: an `href`
 * stays raw and is rejected as too long, other values are decoded from
 * their first this many characters (enough for any token or capped text).
 */
export const maxValueLength = 64 * 1024

const decodeValue = (raw: string, quote: QuoteType): string =>
  raw.length > maxValueLength ? Entities.attribute(raw.slice(0, maxValueLength), quote) : Entities.attribute(raw, quote)

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d

/** Whether a space-separated token list (`rel`, meta `content`) holds `token`, case-insensitively. */
export const hasToken = (list: string, token: string, commas: boolean): boolean => {
  const lower = list.toLowerCase()
  let at = lower.indexOf(token)
  while (at >= 0) {
    const before = at === 0 ? 0x20 : lower.charCodeAt(at - 1)
    const end = at + token.length
    const after = end === lower.length ? 0x20 : lower.charCodeAt(end)
    if ((isSpace(before) || (commas && before === 0x2c)) && (isSpace(after) || (commas && after === 0x2c))) return true
    at = lower.indexOf(token, at + 1)
  }
  return false
}

/** Whether an href names another resource: not blank, not fragment-only. */
const isFollowable = (href: string): boolean => {
  for (let i = 0; i < href.length; i++) {
    const c = href.charCodeAt(i)
    if (c > 0x20) return c !== 0x23 /* # */
  }
  return false
}

export class Collector implements TokenizerCallbacks {
  // Results
  title: string | undefined
  description: string | undefined
  canonical: string | undefined
  base: string | undefined
  noindex = false
  nofollow = false
  readonly hrefs: Array<string> = []
  readonly nofollows: Array<boolean> = []
  dropped = 0

  // Current tag
  private tag: Tag = Tag.Other
  private attr: Attr = Attr.None
  private value = ""
  private href: string | undefined
  private rel: string | undefined
  private name: string | undefined
  private content: string | undefined

  // Text state
  private foreign = 0
  private inTitle = false
  private titleText = ""

  constructor(
    private readonly html: string,
    private readonly maxLinks: number,
    /** Raw title characters kept; enough for the capped, collapsed title. */
    private readonly titleBudget: number
  ) {}

  /** The title, decoded (an unclosed `<title>` runs to the end, as in browsers). */
  finalTitle(): string | undefined {
    return this.title ?? (this.inTitle ? Entities.title(this.titleText) : undefined)
  }

  isInForeignContext(): boolean {
    return this.foreign > 0
  }

  private classify(start: number, end: number): Tag {
    const length = end - start
    if (length === 1) return (this.html.charCodeAt(start) | 0x20) === 0x61 ? Tag.A : Tag.Other
    if (length < 3 || length > 5) return Tag.Other
    return shortTags.get(this.html.slice(start, end).toLowerCase()) ?? Tag.Other
  }

  onopentagname(start: number, end: number): void {
    this.tag = this.classify(start, end)
    this.attr = Attr.None
    this.href = undefined
    this.rel = undefined
    this.name = undefined
    this.content = undefined
  }

  onattribname(start: number, end: number): void {
    this.attr = this.tag === Tag.Other || this.tag === Tag.Title || this.tag === Tag.Foreign
      ? Attr.None
      : attrs.get(this.html.slice(start, end).toLowerCase()) ?? Attr.None
    this.value = ""
  }

  onattribdata(start: number, end: number): void {
    if (this.attr !== Attr.None) this.value += this.html.slice(start, end)
  }

  onattribentity(_codepoint: number): void {}

  onattribend(quote: QuoteType, _end: number): void {
    // The first occurrence of an attribute wins, as in browsers.
    switch (this.attr) {
      case Attr.None:
        return
      case Attr.Href:
        this.href ??= this.value.length > maxValueLength ? this.value : Entities.attribute(this.value, quote)
        break
      case Attr.Rel:
        this.rel ??= decodeValue(this.value, quote)
        break
      case Attr.Name:
        this.name ??= decodeValue(this.value, quote)
        break
      case Attr.Content:
        this.content ??= decodeValue(this.value, quote)
        break
    }
    this.attr = Attr.None
    this.value = ""
  }

  onopentagend(_end: number): void {
    this.openTag(false)
  }

  onselfclosingtag(_end: number): void {
    this.openTag(true)
  }

  private openTag(selfClosing: boolean): void {
    switch (this.tag) {
      case Tag.Other:
        return
      case Tag.A:
        if (this.href !== undefined && isFollowable(this.href)) {
          if (this.hrefs.length < this.maxLinks) {
            this.hrefs.push(this.href)
            this.nofollows.push(this.rel !== undefined && hasToken(this.rel, "nofollow", false))
          } else {
            this.dropped++
          }
        }
        break
      case Tag.Link:
        if (this.canonical === undefined && this.href !== undefined && this.rel !== undefined && hasToken(this.rel, "canonical", false)) {
          this.canonical = this.href
        }
        break
      case Tag.Meta:
        if (this.name !== undefined && this.content !== undefined) this.meta(this.name.trim().toLowerCase(), this.content)
        break
      case Tag.Base:
        if (this.base === undefined && this.href !== undefined) this.base = this.href
        break
      case Tag.Title:
        // The tokenizer reads a `<title>` as text even when written `<title/>`, so treat both as open.
        if (this.foreign === 0 && this.title === undefined && !this.inTitle) {
          this.inTitle = true
          this.titleText = ""
        }
        break
      case Tag.Foreign:
        if (!selfClosing) this.foreign++
        break
    }
    this.tag = Tag.Other
  }

  private meta(name: string, content: string): void {
    if (name === "description") {
      this.description ??= content
    } else if (name === "robots") {
      if (hasToken(content, "none", true)) {
        this.noindex = true
        this.nofollow = true
      }
      if (hasToken(content, "noindex", true)) this.noindex = true
      if (hasToken(content, "nofollow", true)) this.nofollow = true
    }
  }

  onclosetag(start: number, end: number): void {
    const tag = this.classify(start, end)
    if (tag === Tag.Title) {
      if (this.inTitle) {
        this.inTitle = false
        this.title = Entities.title(this.titleText)
        this.titleText = ""
      }
    } else if (tag === Tag.Foreign && this.foreign > 0) {
      this.foreign--
    }
  }

  ontext(start: number, end: number): void {
    if (!this.inTitle) return
    const room = this.titleBudget - this.titleText.length
    if (room > 0) this.titleText += this.html.slice(start, Math.min(end, start + room))
  }

  ontextentity(_codepoint: number, _end: number): void {}

  oncdata(_start: number, _end: number, _offset: number): void {}
  oncomment(_start: number, _end: number, _offset: number): void {}
  ondeclaration(_start: number, _end: number): void {}
  onprocessinginstruction(_start: number, _end: number): void {}
  onend(): void {}
}
