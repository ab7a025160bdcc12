/**
 * HTML of the synthetic site: hrefs written in each link style, canonical
 * pages padded to size with seeded lorem text, search pages and calendar
 * trap pages.
 *
 * The padding is a window into one lorem corpus built per site, so a page of
 * any size costs a substring and a join rather than fresh random text.
 *
 * @internal
 */
import * as Graph from "./siteGraph.js"
import * as Prng from "./prng.js"

const SaltCorpus = 11
const SaltWindow = 12

const escapeTable: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Escapes text for HTML content and double-quoted attributes. */
export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => escapeTable[c] ?? c)

const segments = (dir: string): Array<string> => dir.split("/").filter((s) => s.length > 0)

/** The shortest relative reference from directory `dir` (ending in `/`) to root-relative `path`. */
export const relative = (dir: string, path: string): string => {
  const q = path.search(/[?#]/)
  const pathname = q < 0 ? path : path.slice(0, q)
  const suffix = q < 0 ? "" : path.slice(q)
  const from = segments(dir)
  const parts = pathname.split("/").slice(1)
  const file = parts.pop() ?? ""
  let common = 0
  while (common < from.length && common < parts.length && from[common] === parts[common]) common++
  const ref = "../".repeat(from.length - common) + parts.slice(common).map((s) => s + "/").join("") + file
  // An empty reference is the current document, not the directory.
  return (ref === "" ? "./" : ref) + suffix
}

/** Writes `path` (root-relative, resolved against `dir`) in `style` for a site served as `host`. */
export const href = (style: Graph.Style, path: string, host: string, dir: string, fragmentId: number): string => {
  switch (style) {
    case "root":
      return path
    case "relative":
      return relative(dir, path)
    case "upRelative": {
      const ref = "../".repeat(segments(dir).length) + path.slice(1)
      // A reference that is empty or starts with `?` would resolve against the document, not the directory.
      return ref === "" || ref.startsWith("?") ? "./" + ref : ref
    }
    case "absolute":
      return `http://${host}${path}`
    case "protocolRelative":
      return `//${host}${path}`
    case "upperScheme":
      return `HTTP://${host.toUpperCase()}${path}`
    case "dotSegment": {
      const slash = path.indexOf("/", 1)
      const q = path.search(/[?#]/)
      return slash > 0 && (q < 0 || slash < q) ? `${path.slice(0, slash)}/.${path.slice(slash)}` : `/.${path}`
    }
    case "parentSegment":
      return `/q/..${path}`
    case "fragment":
      return `${path}#s${fragmentId % 5}`
  }
}

const loremWords: ReadonlyArray<string> = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore " +
  "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo " +
  "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint " +
  "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
).split(" ")

/** Paragraphs of lorem text laid out twice in a row, so any window can wrap around. */
export interface Corpus {
  readonly text: string
  /** Start offset of paragraph `i` in `text`; `starts.length` is twice the paragraph count, plus one. */
  readonly starts: Int32Array
  readonly count: number
}

const minimumCorpus = 32 * 1024

export const corpus = (seed: number, pageBytes: number): Corpus => {
  const rng = Prng.make(Prng.hash(seed, 0, SaltCorpus))
  const target = Math.max(minimumCorpus, pageBytes)
  const paragraphs: Array<string> = []
  let total = 0
  while (total < target) {
    const words: Array<string> = []
    const sentences = 3 + rng.int(5)
    for (let s = 0; s < sentences; s++) {
      const length = 6 + rng.int(12)
      for (let w = 0; w < length; w++) {
        const word = loremWords[rng.int(loremWords.length)] ?? "lorem"
        words.push(w === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : w === length - 1 ? word + "." : word)
      }
    }
    const paragraph = `<p>${words.join(" ")}</p>\n`
    paragraphs.push(paragraph)
    total += paragraph.length
  }
  const count = paragraphs.length
  const starts = new Int32Array(count * 2 + 1)
  let offset = 0
  for (let i = 0; i < count * 2; i++) {
    starts[i] = offset
    offset += (paragraphs[i % count] ?? "").length
  }
  starts[count * 2] = offset
  return { text: paragraphs.join("") + paragraphs.join(""), starts, count }
}

/**
 * Exactly `bytes` of lorem paragraphs (a few bytes less when a paragraph
 * cannot be cut), starting at a paragraph chosen by `key`; the last one is
 * cut short and closed so the HTML stays well formed.
 */
const padding = (c: Corpus, key: number, bytes: number): string => {
  if (bytes <= 0) return ""
  const first = key % c.count
  const begin = c.starts[first] ?? 0
  const limit = begin + bytes
  let end = first + 1
  while (end < first + c.count && (c.starts[end] ?? 0) < limit) end++
  const stop = c.starts[end] ?? limit
  if (stop <= limit) return c.text.slice(begin, stop)
  const last = c.starts[end - 1] ?? begin
  const close = "</p>\n"
  const cut = limit - close.length
  return cut > last + "<p>".length ? c.text.slice(begin, cut) + close : c.text.slice(begin, last)
}

const linkText = (graph: Graph.Graph, link: Graph.Link): string => {
  switch (link.kind) {
    case "page":
      return link.target === 0 ? "Home" : Graph.title(graph, link.target)
    case "variant":
      return `${Graph.title(graph, link.target)} (shared link)`
    case "redirect":
      return `${Graph.title(graph, link.target)} (old address)`
    case "search":
      return "Search results"
    case "asset":
      return `Download ${link.path.slice(link.path.lastIndexOf("/") + 1)}`
    case "broken":
      return "Archived page"
    case "trap":
      return "Calendar"
    case "external":
      return "Elsewhere"
  }
}

const baseHref = (base: Graph.Base, host: string): string =>
  base.form === "absolute"
    ? `http://${host}${base.dir}`
    : base.form === "protocolRelative"
    ? `//${host}${base.dir}`
    : base.dir

const renderLink = (graph: Graph.Graph, link: Graph.Link, host: string, dir: string, index: number): string => {
  const ref = link.kind === "external" ? link.path : href(link.style, link.path, host, dir, index)
  return `<li><a href="${escape(ref)}">${escape(linkText(graph, link))}</a></li>\n`
}

/** A canonical page, `pageBytes` long to within a few bytes (longer only when its links alone exceed that). */
export const page = (graph: Graph.Graph, c: Corpus, spec: Graph.PageSpec, host: string): string => {
  const title = escape(Graph.title(graph, spec.id))
  let head = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
  if (spec.base !== undefined) head += `<base href="${escape(baseHref(spec.base, host))}">\n`
  head += `<title>${title}</title>\n<link rel="canonical" href="http://${escape(host)}${spec.path}">\n` +
    `<meta name="generator" content="fiberkit synthetic site, seed ${graph.options.seed}">\n</head>\n<body>\n`
  // A fragment-only link is the current document, except under <base>, where it would name the base URL.
  if (spec.base === undefined) head += "<a href=\"#main\">Skip to content</a>\n"
  const [home, ...rest] = spec.links
  let nav = "<nav><ul>\n"
  if (home !== undefined) nav += renderLink(graph, home, host, spec.dir, 0)
  nav += `</ul></nav>\n<h1>${title}</h1>\n<ul class="links">\n`
  for (let i = 0; i < rest.length; i++) {
    const link = rest[i]
    if (link !== undefined) nav += renderLink(graph, link, host, spec.dir, i + 1)
  }
  nav += "</ul>\n<main id=\"main\">\n"
  const tail = "</main>\n</body>\n</html>\n"
  const fill = graph.options.pageBytes - head.length - nav.length - tail.length
  return head + nav + padding(c, Prng.hash(graph.seed, spec.id, SaltWindow), fill) + tail
}

const simplePage = (title: string, canonical: string | undefined, links: string, text: string): string =>
  "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
  `<title>${escape(title)}</title>\n` +
  (canonical === undefined ? "" : `<link rel="canonical" href="${escape(canonical)}">\n`) +
  `</head>\n<body>\n<h1>${escape(title)}</h1>\n<ul class="links">\n${links}</ul>\n` +
  `<main>\n<p>${escape(text)}</p>\n</main>\n</body>\n</html>\n`

/** A calendar trap page: Home, previous and next month. */
export const trapPage = (graph: Graph.Graph, offset: number, host: string): string => {
  const path = Graph.trapPath(offset)
  const links = Graph.trapLinks(offset)
    .map((link, i) => renderLink(graph, link, host, "/calendar/", i))
    .join("")
  const month = path.slice("/calendar/".length)
  return simplePage(`Calendar ${month}`, `http://${host}${path}`, links, "No events this month.")
}

/**
 * A search results page for any query. It has no canonical link, so
 * `?q=a&page=1` and `?page=1&q=a` are one page only to a crawler that sorts
 * query parameters.
 */
export const searchPage = (graph: Graph.Graph, query: URLSearchParams, host: string): string => {
  const q = query.get("q") ?? ""
  const n = query.get("page") ?? "1"
  const home = renderLink(graph, { kind: "page", path: "/", target: 0, style: "root" }, host, "/", 0)
  return simplePage(`Search: ${q} (page ${n})`, undefined, home, `No results for ${q} on page ${n}.`)
}

/** The body of every 404: no links, so crawlers that parse error pages find nothing. */
export const notFound = (path: string): string => simplePage("Not found", undefined, "", `Nothing lives at ${path}.`)
