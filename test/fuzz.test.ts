/**
 * Property and fuzz tests of the crawler's parsers, the reliability suite's
 * entry (the unit suites in `apps/crawler/test` hold more, per module):
 *
 * - URL normalization never throws on arbitrary strings — alone, as a
 *   reference against an arbitrary base, with every option — and is
 *   idempotent, also on generated hostile URLs (odd IPv4 forms, IDN hosts,
 *   ports, userinfo, dot segments, mixed-case escapes, tracking parameters);
 * - the HTML extractor never throws on arbitrary bytes decoded as UTF-8,
 *   windows-1252 (latin1) or UTF-16, bare or inside an HTML skeleton, and
 *   its output keeps its invariants (link cap, normalized links, capped
 *   titles without NUL);
 * - the robots.txt parser never throws on arbitrary bytes, always allows
 *   `/robots.txt`, and gives RFC 9309's answers for the examples of §5.1
 *   and §5.2 however the file is formatted (line endings, key case,
 *   whitespace, comments, blank and unknown lines, BOM), whatever the
 *   User-Agent's case and version, and for percent-encoded spellings of the
 *   same paths (§2.2.2).
 */
import { describe, expect, it } from "@effect/vitest"
import { Extract, Robots, Url } from "@fiberkit/crawler"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"

const optionSets: ReadonlyArray<Url.Options | undefined> = [
  undefined,
  { stripTracking: true },
  { sortQuery: true },
  { stripTracking: true, sortQuery: true },
  { maxLength: 64 }
]

/** normalize(x) = n ⇒ normalize(n.href) = n, key(x) = n.href, and WHATWG prints n.href unchanged. */
const expectIdempotent = (input: string, options: Url.Options | undefined, base?: string): void => {
  const first = base === undefined ? Url.normalize(input, options) : Url.resolve(input, base, options)
  if (Either.isLeft(first)) {
    expect(typeof first.left.message).toBe("string")
    return
  }
  expect(Url.normalize(first.right.href, options)).toEqual(Either.right(first.right))
  if (base === undefined) expect(Url.key(input, options)).toEqual(Either.right(first.right.href))
  expect(new URL(first.right.href).href).toBe(first.right.href)
}

/** Pieces of hostile URLs. */
const hostileUrl = FastCheck.tuple(
  FastCheck.constantFrom("http", "HTTP", "https", "hTtPs", " http", "http\t"),
  FastCheck.constantFrom("://", ":/", ":\\\\", "://user:pa%40ss@", "://@", "://a:b:c@"),
  FastCheck.constantFrom(
    "example.com", "EXAMPLE.com.", "xn--bcher-kva.example", "bücher.example", "例え.テスト", "0x7f.1", "2130706433", "127.1",
    "0177.0.0.1", "[::1]", "[0:0::FFFF:127.0.0.1]", "[fe80::1]", "a..b", "-x-.com", "%65xample.com", "ex%00ample.com", "xn--"
  ),
  FastCheck.constantFrom("", ":80", ":443", ":0080", ":8080", ":65535", ":65536", ":", ":x"),
  FastCheck.array(
    FastCheck.constantFrom(
      "/", "a", "B", ".", "..", "%2e", "%2E%2e", "%2f", "%7e", "%7E", "~", "%", "%zz", "%c3%a9", "é", " ", "\\", ";", "@", "//",
      "index.html", "'", "\"", "<", "\u0000", "\n", "\u00ad"
    ),
    { maxLength: 12 }
  ).map((parts) => parts.join("")),
  FastCheck.array(
    FastCheck.constantFrom("utm_source=x", "gclid=1", "b=2", "a=1", "a=", "=", "&", "%26=%3d", "fbclid", "a=1&a=2", "q=a+b", "é=ü", "?"),
    { maxLength: 6 }
  ).map((parts) => (parts.length === 0 ? "" : "?" + parts.join("&"))),
  FastCheck.constantFrom("", "#", "#frag", "#a?b", "#%zz")
).map(([scheme, sep, host, port, path, query, fragment]) => `${scheme}${sep}${host}${port}/${path}${query}${fragment}`)

describe("fuzz: URL normalization", () => {
  it.prop("never throws and is idempotent on arbitrary strings (UTF-16 units, graphemes), with every option", {
    s: FastCheck.oneof(FastCheck.string({ unit: "binary", maxLength: 300 }), FastCheck.string({ unit: "grapheme", maxLength: 120 }))
  }, ({ s }) => {
    for (const options of optionSets) expectIdempotent(s, options)
  }, { fastCheck: { numRuns: 400 } })

  it.prop("never throws and is idempotent resolving arbitrary references against arbitrary bases", {
    ref: FastCheck.string({ unit: "binary", maxLength: 80 }),
    base: FastCheck.oneof(FastCheck.string({ unit: "binary", maxLength: 80 }), hostileUrl, FastCheck.webUrl())
  }, ({ base, ref }) => {
    for (const options of optionSets) expectIdempotent(ref, options, base)
  }, { fastCheck: { numRuns: 400 } })

  it.prop("is idempotent on hostile URLs: odd IPv4 forms, IDN, ports, userinfo, dot segments, escapes, tracking", {
    url: hostileUrl
  }, ({ url }) => {
    for (const options of optionSets) {
      expectIdempotent(url, options)
      expectIdempotent(url, options, "http://example.com/a/b?c=d")
    }
  }, { fastCheck: { numRuns: 1_500 } })
})

const skeleton = (inner: string) =>
  `<!doctype html><html><head><base href="${inner.slice(0, 20)}"><title>${inner}</title>` +
  `<meta name="robots" content="${inner.slice(0, 10)}"><link rel=canonical href='${inner.slice(5, 30)}'></head>` +
  `<body><a href="${inner}">${inner}</a><a href=${inner.slice(0, 15)} rel=nofollow>x</a></body></html>`

const decoders = [new TextDecoder("utf-8"), new TextDecoder("latin1"), new TextDecoder("utf-16le")]

const checkExtracted = (doc: Extract.Extracted, maxLinks: number, maxText: number): void => {
  expect(doc.links.length).toBeLessThanOrEqual(maxLinks)
  for (const link of doc.links) {
    expect((link.url === undefined) !== (link.invalid === undefined)).toBe(true)
    if (link.url !== undefined) expect(Url.key(link.url.href)).toEqual(Either.right(link.url.href))
  }
  for (const text of [doc.title, doc.description]) {
    if (text === undefined) continue
    expect(text.length).toBeLessThanOrEqual(maxText)
    expect(text.includes("\u0000")).toBe(false)
    expect(text).toBe(text.trim())
  }
  if (doc.canonical !== undefined) expect(Url.key(doc.canonical)).toEqual(Either.right(doc.canonical))
}

describe("fuzz: HTML extraction", () => {
  it.prop("never throws on arbitrary bytes decoded as UTF-8, latin1 or UTF-16, bare or in an HTML skeleton", {
    bytes: FastCheck.uint8Array({ maxLength: 2_048 }),
    page: FastCheck.oneof(FastCheck.webUrl(), FastCheck.string({ maxLength: 30 })),
    maxLinks: FastCheck.integer({ min: 0, max: 5 }),
    maxText: FastCheck.integer({ min: 1, max: 40 })
  }, ({ bytes, maxLinks, maxText, page }) => {
    for (const decoder of decoders) {
      const text = decoder.decode(bytes)
      for (const html of [text, skeleton(text)]) {
        checkExtracted(Extract.parse(html, page), Extract.defaultMaxLinks, Extract.defaultMaxTextLength)
        checkExtracted(Extract.parse(html, page, { maxLinks, maxTextLength: maxText, normalize: { sortQuery: true } }), maxLinks, maxText)
      }
    }
    expect(typeof Extract.isHtml(undefined, bytes)).toBe("boolean")
  }, { fastCheck: { numRuns: 300 } })

  it.prop("sniffs arbitrary content types and bodies without throwing", {
    contentType: FastCheck.option(FastCheck.string({ unit: "binary", maxLength: 60 }), { nil: undefined }),
    bytes: FastCheck.uint8Array({ maxLength: 600 })
  }, ({ bytes, contentType }) => {
    expect(typeof Extract.isHtml(contentType, bytes)).toBe("boolean")
    expect(typeof Extract.isHtml(contentType, new TextDecoder("latin1").decode(bytes))).toBe("boolean")
  })
})

/** RFC 9309 §5.1 "Simple Example", as lines. */
const simpleExample: ReadonlyArray<string> = [
  "User-Agent: *",
  "Disallow: *.gif$",
  "Disallow: /example/",
  "Allow: /publications/",
  "",
  "User-Agent: foobot",
  "Disallow:/",
  "Allow:/example/page.html",
  "Allow:/example/allowed.gif",
  "",
  "User-Agent: barbot",
  "User-Agent: bazbot",
  "Disallow: /example/page.html",
  "",
  "User-Agent: quxbot",
  "",
  "EOF"
]

/** The verdicts §5.1 gives, per crawler (`other`: any crawler no group names). */
const simpleVerdicts: Record<string, Record<string, boolean>> = {
  foobot: {
    "/example/page.html": true,
    "/example/allowed.gif": true,
    "/": false,
    "/example/": false,
    "/publications/x": false,
    "/a.gif": false
  },
  barbot: { "/example/page.html": false, "/example/other.html": true, "/a.gif": true },
  bazbot: { "/example/page.html": false, "/example/other.html": true, "/a.gif": true },
  quxbot: { "/example/page.html": true, "/a.gif": true, "/": true },
  other: {
    "/example/": false,
    "/example/page.html": false,
    "/publications/": true,
    "/publications/a.gif": true,
    "/x.gif": false,
    "/x.gif?y": true,
    "/ok": true
  }
}

/** Reformats a robots.txt without changing its meaning (RFC 9309 §2.2, §2.3). */
const reformatted = (lines: ReadonlyArray<string>) =>
  FastCheck.record({
    eol: FastCheck.constantFrom("\n", "\r\n", "\r"),
    bom: FastCheck.boolean(),
    keyCase: FastCheck.constantFrom("as-is", "lower", "upper"),
    spaces: FastCheck.array(FastCheck.constantFrom("", " ", "\t", "  "), { minLength: 3, maxLength: 3 }),
    comments: FastCheck.array(FastCheck.boolean(), { minLength: lines.length, maxLength: lines.length }),
    extras: FastCheck.array(FastCheck.constantFrom(undefined, "", "# a comment line", "X-Unknown-Field: value", "   "), {
      minLength: lines.length,
      maxLength: lines.length
    })
  }).map(({ bom, comments, eol, extras, keyCase, spaces }) => {
    const [before = "", around = "", after = ""] = spaces
    const out: Array<string> = []
    lines.forEach((line, i) => {
      const colon = line.indexOf(":")
      if (colon < 0) {
        out.push(line)
      } else {
        const key = line.slice(0, colon)
        const cased = keyCase === "lower" ? key.toLowerCase() : keyCase === "upper" ? key.toUpperCase() : key
        const value = line.slice(colon + 1).trim()
        out.push(`${before}${cased}${around}:${around}${value}${after}${comments[i] === true ? " # trailing comment" : ""}`)
      }
      // Extra lines go between lines, never inside the user-agent lines that start a group together.
      const extra = extras[i]
      const next = lines[i + 1] ?? ""
      if (extra !== undefined && !(line.startsWith("User-Agent") && next.startsWith("User-Agent"))) out.push(extra)
    })
    return (bom ? "\ufeff" : "") + out.join(eol)
  })

/** Spellings of a crawler's User-Agent that select the same group (product token, case-insensitive). */
const agentSpelling = (token: string) =>
  FastCheck.tuple(
    FastCheck.array(FastCheck.boolean(), { minLength: token.length, maxLength: token.length }),
    FastCheck.constantFrom("", "/1.0", "/2.1 (+https://example.com/bot)", " (compatible)")
  ).map(([upper, suffix]) => [...token].map((c, i) => (upper[i] === true ? c.toUpperCase() : c)).join("") + suffix)

/** Percent-encodes some unreserved characters of a path: the same path to RFC 9309 (§2.2.2). */
const encodedSpelling = (path: string) =>
  FastCheck.array(FastCheck.boolean(), { minLength: path.length, maxLength: path.length }).map((flags) =>
    [...path].map((c, i) => (flags[i] === true && /[A-Za-z0-9._~-]/.test(c) ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c)).join("")
  )

describe("fuzz: robots.txt", () => {
  it.prop("never throws on arbitrary bytes and text; /robots.txt is always allowed", {
    bytes: FastCheck.uint8Array({ maxLength: 1_500 }),
    text: FastCheck.string({ unit: "binary", maxLength: 400 }),
    agent: FastCheck.string({ unit: "binary", maxLength: 30 }),
    path: FastCheck.string({ unit: "binary", maxLength: 80 }),
    status: FastCheck.integer({ min: -1, max: 700 })
  }, ({ agent, bytes, path, status, text }) => {
    for (const robots of [Robots.parse(bytes), Robots.parse(text), Robots.fromResponse(status, bytes), Robots.parse(`User-agent: *\n${text}`)]) {
      const forAgent = Robots.forAgent(robots, agent)
      expect(typeof Robots.isAllowed(forAgent, path)).toBe("boolean")
      expect(typeof Robots.isAllowed(forAgent, "/" + path)).toBe("boolean")
      expect(Robots.isAllowed(forAgent, "/robots.txt")).toBe(true)
      if (forAgent.crawlDelayMs !== undefined) expect(Number.isFinite(forAgent.crawlDelayMs) && forAgent.crawlDelayMs >= 0).toBe(true)
    }
  }, { fastCheck: { numRuns: 300 } })

  it.prop("§5.1: the RFC's verdicts, however the file is formatted and the crawler spells its name", {
    file: reformatted(simpleExample),
    crawler: FastCheck.constantFrom("foobot", "barbot", "bazbot", "quxbot", "other").chain((bot) =>
      agentSpelling(bot === "other" ? "otherbot" : bot).map((agent) => ({ bot, agent }))
    )
  }, ({ crawler: { agent, bot }, file }) => {
    const rules = Robots.forAgent(Robots.parse(file), agent)
    const expected = simpleVerdicts[bot] ?? {}
    const verdicts = Object.fromEntries(Object.keys(expected).map((path) => [path, Robots.isAllowed(rules, path)]))
    expect(verdicts, JSON.stringify({ agent, file })).toEqual(expected)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("§5.1 and §2.2.2: percent-encoding unreserved characters of a path does not change its verdict", {
    pick: FastCheck.constantFrom("foobot", "barbot", "other").chain((bot) =>
      FastCheck.constantFrom(...Object.keys(simpleVerdicts[bot] ?? {})).chain((path) =>
        encodedSpelling(path).map((spelled) => ({ bot, path, spelled }))
      )
    )
  }, ({ pick: { bot, path, spelled } }) => {
    const rules = Robots.forAgent(Robots.parse(simpleExample.join("\n")), bot === "other" ? "otherbot" : bot)
    expect(Robots.isAllowed(rules, spelled), `${bot} ${spelled}`).toBe(simpleVerdicts[bot]?.[path])
  }, { fastCheck: { numRuns: 300 } })

  it.prop("§5.2: the longest match wins, for any path under the allowed directory", {
    file: reformatted(["User-Agent: foobot", "Allow: /example/page/", "Disallow: /example/page/disallowed.gif"]),
    rest: FastCheck.string({ unit: FastCheck.constantFrom(..."abcdefgilosw./-_~"), maxLength: 24 })
  }, ({ file, rest }) => {
    const rules = Robots.forAgent(Robots.parse(file), "FooBot/1.0")
    const path = "/example/page/" + rest
    expect(Robots.isAllowed(rules, path), path).toBe(!rest.startsWith("disallowed.gif"))
    expect(Robots.isAllowed(rules, "/example/page/disallowed.gif" + rest)).toBe(false)
    // Outside both rules: no rule matches, so allowed (§2.2.2).
    expect(Robots.isAllowed(rules, "/example/" + rest.replace(/^page\//, "x"))).toBe(true)
  }, { fastCheck: { numRuns: 500 } })
})
