/**
 * The ceiling's page extraction: the `<title>` text and the absolute URLs of
 * `<a href>` links on the page's host (resolved against `<base href>` when
 * present, fragment dropped), with one htmlparser2 `Parser` reused across
 * pages. Handler methods live on the prototype: the parser calls them as
 * methods, and no closure is created per page.
 */
import { Parser } from "htmlparser2"

export class Extractor {
  private readonly parser: Parser
  private inTitle = false
  private titleText = ""
  private title: string | null = null
  private baseHref: string | null = null
  private hrefs: Array<string> = []

  constructor() {
    this.parser = new Parser(this, { decodeEntities: true })
  }

  onopentag(name: string, attribs: { readonly [name: string]: string }): void {
    if (name === "a") {
      const href = attribs.href
      if (href !== undefined) this.hrefs.push(href)
    } else if (name === "title") {
      if (this.title === null) {
        this.inTitle = true
        this.titleText = ""
      }
    } else if (name === "base" && this.baseHref === null) {
      const href = attribs.href
      if (href !== undefined) this.baseHref = href
    }
  }

  ontext(text: string): void {
    if (this.inTitle) this.titleText += text
  }

  onclosetag(name: string): void {
    if (name === "title" && this.inTitle) {
      this.inTitle = false
      this.title = this.titleText.trim()
    }
  }

  /** Extracts from one whole HTML document served at `pageUrl`. */
  page(pageUrl: URL, html: string): { readonly title: string | null; readonly links: Array<string> } {
    this.parser.reset()
    this.inTitle = false
    this.title = null
    this.baseHref = null
    this.hrefs = []
    this.parser.end(html)
    let base = pageUrl
    if (this.baseHref !== null) {
      try {
        base = new URL(this.baseHref, pageUrl)
      } catch {
        // An unparsable <base href> is ignored, as browsers do.
      }
    }
    const links: Array<string> = []
    for (const href of this.hrefs) {
      let url: URL
      try {
        url = new URL(href, base)
      } catch {
        continue
      }
      if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname !== pageUrl.hostname) continue
      url.hash = ""
      links.push(url.href)
    }
    return { title: this.title, links }
  }
}
