import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { SyntheticSite } from "@fiberkit/testkit"
import * as Robots from "../src/Robots.js"

const agentFor = (body: string, userAgent: string): Robots.Agent => Robots.forAgent(Robots.parse(body), userAgent)

const verdicts = (agent: Robots.Agent, paths: ReadonlyArray<string>): Record<string, boolean> =>
  Object.fromEntries(paths.map((path) => [path, Robots.isAllowed(agent, path)]))

/** RFC 9309 §5.1 "Simple Example". */
const rfcSimple = `User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF`

describe("Robots: RFC 9309 examples", () => {
  it("§5.1 simple example: foobot", () => {
    const foobot = agentFor(rfcSimple, "foobot")
    expect(foobot.matched).toBe("agent")
    expect(verdicts(foobot, ["/example/page.html", "/example/allowed.gif", "/", "/example/", "/publications/x", "/a.gif"])).toEqual({
      "/example/page.html": true,
      "/example/allowed.gif": true,
      "/": false,
      "/example/": false,
      "/publications/x": false,
      "/a.gif": false
    })
  })

  it("§5.1 simple example: barbot and bazbot share a group", () => {
    for (const bot of ["barbot", "bazbot"]) {
      const agent = agentFor(rfcSimple, bot)
      expect(verdicts(agent, ["/example/page.html", "/example/other.html", "/a.gif"])).toEqual({
        "/example/page.html": false,
        "/example/other.html": true,
        "/a.gif": true
      })
    }
  })

  it("§5.1 simple example: quxbot's empty group allows everything (no fallback to *)", () => {
    const agent = agentFor(rfcSimple, "quxbot")
    expect(agent.matched).toBe("agent")
    expect(agent.rules).toEqual([])
    expect(verdicts(agent, ["/example/page.html", "/a.gif", "/"])).toEqual({ "/example/page.html": true, "/a.gif": true, "/": true })
  })

  it("§5.1 simple example: any other crawler obeys the * group", () => {
    const agent = agentFor(rfcSimple, "otherbot")
    expect(agent.matched).toBe("*")
    expect(
      verdicts(agent, ["/example/", "/example/page.html", "/publications/", "/publications/a.gif", "/x.gif", "/x.gif?y", "/ok"])
    ).toEqual({
      "/example/": false,
      "/example/page.html": false,
      "/publications/": true,
      // `*.gif$` (7 octets) is shorter than `/publications/` (14): the Allow is the longest match.
      "/publications/a.gif": true,
      "/x.gif": false,
      "/x.gif?y": true,
      "/ok": true
    })
  })

  it("§5.2 longest match: the most specific rule wins", () => {
    const agent = agentFor("User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n", "foobot")
    expect(verdicts(agent, ["/example/page/", "/example/page/other", "/example/page/disallowed.gif"])).toEqual({
      "/example/page/": true,
      "/example/page/other": true,
      "/example/page/disallowed.gif": false
    })
  })

  it("§2.2.1 groups for the same agent are merged; matching is case-insensitive", () => {
    const body = "user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: ExampleBot\ndisallow: /baz\n"
    const agent = agentFor(body, "examplebot")
    expect(verdicts(agent, ["/foo", "/bar", "/baz", "/qux"])).toEqual({ "/foo": false, "/bar": false, "/baz": false, "/qux": true })
    expect(agentFor(body, "EXAMPLEBOT/1.1 (+https://example.com/bot)").rules.length).toBe(3)
  })

  it("§2.2.2 Allow wins a tie with Disallow of the same length", () => {
    for (const body of ["User-agent: *\nAllow: /page\nDisallow: /page\n", "User-agent: *\nDisallow: /page\nAllow: /page\n"]) {
      expect(Robots.isAllowed(agentFor(body, "bot"), "/page")).toBe(true)
    }
    expect(Robots.isAllowed(agentFor("User-agent: *\nAllow: /pag\nDisallow: /page\n", "bot"), "/page")).toBe(false)
  })

  it("§2.2.2 special characters: # comments, $ end anchor, * wildcard", () => {
    const agent = agentFor(
      "User-agent: * # all\nDisallow: / # everything\nAllow: /this/path/exactly$\nAllow: /this/*/exactly\n",
      "bot"
    )
    expect(verdicts(agent, ["/this/path/exactly", "/this/path/exactly/more", "/this/x/y/exactly", "/this/", "/other"])).toEqual({
      "/this/path/exactly": true,
      "/this/path/exactly/more": true, // matched by /this/*/exactly (an unanchored prefix)
      "/this/x/y/exactly": true,
      "/this/": false,
      "/other": false
    })
    const anchored = agentFor("User-agent: *\nDisallow: /\nAllow: /exact$\n", "bot")
    expect(verdicts(anchored, ["/exact", "/exact/", "/exactly"])).toEqual({ "/exact": true, "/exact/": false, "/exactly": false })
  })

  it("§2.2.2 percent-encoding: both sides compared in one normalized form", () => {
    const cases: ReadonlyArray<[pattern: string, path: string]> = [
      ["/foo/bar?baz=quz", "/foo/bar?baz=quz"],
      ["/foo/bar/ツ", "/foo/bar/%E3%83%84"],
      ["/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"],
      ["/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84"],
      ["/foo/bar/%62%61%7A", "/foo/bar/baz"],
      ["/foo/bar/baz", "/foo/bar/%62%61%7A"]
    ]
    for (const [pattern, path] of cases) {
      expect(Robots.isAllowed(agentFor(`User-agent: *\nDisallow: ${pattern}\n`, "bot"), path), `${pattern} vs ${path}`).toBe(false)
    }
    // Reserved characters stay distinct from their escapes.
    expect(Robots.isAllowed(agentFor("User-agent: *\nDisallow: /a%2Fb\n", "bot"), "/a/b")).toBe(true)
  })

  it("§2.2.3 %2A and %24 name a literal * and $", () => {
    const agent = agentFor("User-agent: *\nDisallow: /path/file-with-a-%2A.html\nDisallow: /path/foo-%24\n", "bot")
    expect(verdicts(agent, ["/path/file-with-a-*.html", "/path/file-with-a-%2A.html", "/path/file-with-a-x.html", "/path/foo-$", "/path/foo-"]))
      .toEqual({
        "/path/file-with-a-*.html": false,
        "/path/file-with-a-%2A.html": false,
        "/path/file-with-a-x.html": true,
        "/path/foo-$": false,
        "/path/foo-": true
      })
  })

  it("§2.2.2 /robots.txt is always allowed", () => {
    const agent = agentFor("User-agent: *\nDisallow: /\n", "bot")
    expect(Robots.isAllowed(agent, "/robots.txt")).toBe(true)
    expect(Robots.isAllowed(agent, "/robots.txt.bak")).toBe(false)
    expect(Robots.isAllowed(Robots.forAgent(Robots.fromResponse(503), "bot"), "/robots.txt")).toBe(true)
  })
})

describe("Robots: matching", () => {
  // Google's documented examples of path matching.
  it("prefix and wildcard semantics", () => {
    const fish = agentFor("User-agent: *\nDisallow: /fish\n", "bot")
    expect(verdicts(fish, ["/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fish.php?id=1", "/Fish.asp", "/catfish", "/"]))
      .toEqual({
        "/fish": false,
        "/fish.html": false,
        "/fish/salmon.html": false,
        "/fishheads": false,
        "/fish.php?id=1": false,
        "/Fish.asp": true,
        "/catfish": true,
        "/": true
      })
    const php = agentFor("User-agent: *\nDisallow: /*.php$\n", "bot")
    expect(verdicts(php, ["/filename.php", "/folder/filename.php", "/filename.php?parameters", "/filename.php/", "/filename.php5", "/windows.PHP"]))
      .toEqual({
        "/filename.php": false,
        "/folder/filename.php": false,
        "/filename.php?parameters": true,
        "/filename.php/": true,
        "/filename.php5": true,
        "/windows.PHP": true
      })
    const fishPhp = agentFor("User-agent: *\nDisallow: /fish*.php\n", "bot")
    expect(verdicts(fishPhp, ["/fish.php", "/fishheads/catfish.php?parameters", "/Fish.PHP", "/fish.ph"])).toEqual({
      "/fish.php": false,
      "/fishheads/catfish.php?parameters": false,
      "/Fish.PHP": true,
      "/fish.ph": true
    })
    const query = agentFor("User-agent: *\nDisallow: /*?\n", "bot")
    expect(verdicts(query, ["/a?b", "/a", "/?"])).toEqual({ "/a?b": false, "/a": true, "/?": false })
  })

  it("reports the deciding rule", () => {
    const agent = agentFor("User-agent: *\nDisallow: /a\nAllow: /a/b\n", "bot")
    expect(Robots.match(agent, "/a/b/c")?.pattern).toBe("/a/b")
    expect(Robots.match(agent, "/a/x")?.allow).toBe(false)
    expect(Robots.match(agent, "/z")).toBeUndefined()
    expect(Robots.isAllowed(agent, "")).toBe(true)
  })

  it("keeps rules in precedence order: longest first, Allow first on ties", () => {
    const agent = agentFor("User-agent: *\nDisallow: /a\nDisallow: /abc\nAllow: /abc\nAllow: /ab\n", "bot")
    expect(agent.rules.map((r) => `${r.allow ? "A" : "D"}${r.pattern}`)).toEqual(["A/abc", "D/abc", "A/ab", "D/a"])
  })

  it("prefixes a pattern that does not start with / or *", () => {
    expect(Robots.isAllowed(agentFor("User-agent: *\nDisallow: private/\n", "bot"), "/private/x")).toBe(false)
  })

  it.prop("agrees with a regular-expression reference matcher", {
    pattern: FastCheck.array(FastCheck.constantFrom("a", "b", "/", "*", "ab"), { maxLength: 8 }).map((p) => "/" + p.join("")),
    anchored: FastCheck.boolean(),
    path: FastCheck.array(FastCheck.constantFrom("a", "b", "/"), { maxLength: 12 }).map((p) => "/" + p.join(""))
  }, ({ anchored, path, pattern }) => {
    const rule = pattern + (anchored ? "$" : "")
    const source = "^" + pattern.split("*").map((piece) => piece.replace(/[/]/g, "\\/")).join("[\\s\\S]*") + (anchored ? "$" : "")
    const expected = new RegExp(source).test(path)
    expect(Robots.isAllowed(agentFor(`User-agent: *\nDisallow: ${rule}\n`, "bot"), path)).toBe(!expected)
  }, { fastCheck: { numRuns: 2000 } })
})

describe("Robots: groups", () => {
  it("takes the product token from a full user-agent string", () => {
    expect(Robots.productToken("FiberKit-Crawler/0.1 (+https://example.com/bot)")).toBe("fiberkit-crawler")
    expect(Robots.productToken("  *  ")).toBe("*")
    const agent = agentFor("User-agent: fiberkit-crawler\nDisallow: /x\n", "FiberKit-Crawler/0.1 (+https://example.com/bot)")
    expect(agent.token).toBe("fiberkit-crawler")
    expect(Robots.isAllowed(agent, "/x")).toBe(false)
  })

  it("prefers the most specific (longest) matching agent, and a prefix matches at a - boundary only", () => {
    const body = "User-agent: googlebot\nDisallow: /g\n\nUser-agent: googlebot-news\nDisallow: /n\n\nUser-agent: *\nDisallow: /all\n"
    expect(verdicts(agentFor(body, "googlebot-news"), ["/g", "/n", "/all"])).toEqual({ "/g": true, "/n": false, "/all": true })
    expect(verdicts(agentFor(body, "Googlebot-Image/1.0"), ["/g", "/n", "/all"])).toEqual({ "/g": false, "/n": true, "/all": true })
    expect(verdicts(agentFor(body, "googlebotx"), ["/g", "/n", "/all"])).toEqual({ "/g": true, "/n": true, "/all": false })
    expect(agentFor(body, "google").matched).toBe("*")
  })

  it("allows everything when no group names the crawler and there is no * group", () => {
    const agent = agentFor("User-agent: otherbot\nDisallow: /\n", "mybot")
    expect(agent.matched).toBe("none")
    expect(Robots.isAllowed(agent, "/anything")).toBe(true)
  })

  it("starts a new group at a user-agent line after rules; blank lines and unknown lines do not", () => {
    const body = [
      "Disallow: /before-any-group",
      "User-agent: a",
      "",
      "User-agent: b",
      "Unknown-directive: x",
      "Disallow: /ab",
      "",
      "Disallow: /ab2",
      "User-agent: c",
      "Disallow: /c"
    ].join("\n")
    const robots = Robots.parse(body)
    expect(robots.groups.map((g) => g.agents)).toEqual([["a", "b"], ["c"]])
    expect(verdicts(Robots.forAgent(robots, "a"), ["/ab", "/ab2", "/c", "/before-any-group"])).toEqual({
      "/ab": false,
      "/ab2": false,
      "/c": true,
      "/before-any-group": true
    })
    expect(verdicts(Robots.forAgent(robots, "c"), ["/ab", "/c"])).toEqual({ "/ab": true, "/c": false })
  })

  it("does not let a user-agent line without a product token fall into the previous group", () => {
    const agent = agentFor("User-agent: *\nDisallow: /a\nUser-agent: 123bot\nDisallow: /\n", "bot")
    expect(verdicts(agent, ["/a", "/b"])).toEqual({ "/a": false, "/b": true })
  })

  it("reads keys case-insensitively, with common misspellings, CRLF, CR, a BOM and stray whitespace", () => {
    const body = "\uFEFF  USER-AGENT :  *  \r\nDISALLOW:/a\rdisalow: /b\r\n  Allow :/a/ok  \n\tuseragent: other\ndisallow: /o\n"
    const agent = agentFor(body, "bot")
    expect(verdicts(agent, ["/a", "/b", "/a/ok", "/o"])).toEqual({ "/a": false, "/b": false, "/a/ok": true, "/o": true })
  })

  it("ignores an empty Disallow (it allows everything)", () => {
    const agent = agentFor("User-agent: *\nDisallow:\n", "bot")
    expect(agent.rules).toEqual([])
    expect(Robots.isAllowed(agent, "/x")).toBe(true)
  })

  it("exposes Crawl-delay in milliseconds, the largest of merged groups, ignoring invalid values", () => {
    expect(agentFor("User-agent: *\nCrawl-delay: 2.5\n", "bot").crawlDelayMs).toBe(2500)
    expect(agentFor("User-agent: *\nCrawl-delay: .5\n", "bot").crawlDelayMs).toBe(500)
    expect(agentFor("User-agent: *\nCrawl-delay: soon\n", "bot").crawlDelayMs).toBeUndefined()
    expect(agentFor("User-agent: *\nCrawl-delay: -1\n", "bot").crawlDelayMs).toBeUndefined()
    expect(agentFor("User-agent: *\nDisallow: /\n", "bot").crawlDelayMs).toBeUndefined()
    expect(agentFor("User-agent: a\nCrawl-delay: 1\n\nUser-agent: a\nCrawl-delay: 3\n\nUser-agent: *\nCrawl-delay: 9\n", "a").crawlDelayMs).toBe(3000)
    // Crawl-delay is a group member: a user-agent line after it starts a new group.
    const separate = Robots.parse("User-agent: a\nCrawl-delay: 4\nUser-agent: b\nDisallow: /x\n")
    expect(separate.groups.map((g) => g.agents)).toEqual([["a"], ["b"]])
    expect(Robots.forAgent(separate, "a").crawlDelayMs).toBe(4000)
    expect(Robots.forAgent(separate, "b").crawlDelayMs).toBeUndefined()
    expect(Robots.isAllowed(Robots.forAgent(separate, "a"), "/x")).toBe(true)
  })

  it("collects Sitemap lines anywhere, deduplicated, without affecting groups", () => {
    const robots = Robots.parse(
      "Sitemap: https://example.com/a.xml\nUser-agent: x\nSitemap: https://example.com/b.xml\nUser-agent: y\nDisallow: /\nsitemap:https://example.com/a.xml\nSITEMAP: https://example.com/c.xml # comment\n"
    )
    expect(robots.sitemaps).toEqual(["https://example.com/a.xml", "https://example.com/b.xml", "https://example.com/c.xml"])
    expect(robots.groups.map((g) => g.agents)).toEqual([["x", "y"]])
  })
})

describe("Robots: size cap", () => {
  const padding = (bytes: number): string => ("# " + "x".repeat(97) + "\n").repeat(Math.ceil(bytes / 100))

  it("reads at most 500 KiB of a string body and drops the line the cap cuts", () => {
    expect(Robots.maxBytes).toBe(512_000)
    const head = "User-agent: *\nDisallow: /early\n"
    const filler = padding(Robots.maxBytes).slice(0, Robots.maxBytes - head.length - 12)
    // The cap falls right after "Disallow: /" of "Disallow: /private": reading the cut line would disallow everything.
    const body = head + filler + "\nDisallow: /private\nDisallow: /late\n"
    const robots = Robots.parse(body)
    expect(robots.truncated).toBe(true)
    const agent = Robots.forAgent(robots, "bot")
    expect(verdicts(agent, ["/early", "/", "/private", "/late"])).toEqual({ "/early": false, "/": true, "/private": true, "/late": true })
  })

  it("applies the cap to bytes too", () => {
    const body = "User-agent: *\nDisallow: /early\n" + padding(Robots.maxBytes) + "Disallow: /late\n"
    const robots = Robots.parse(new TextEncoder().encode(body))
    expect(robots.truncated).toBe(true)
    expect(verdicts(Robots.forAgent(robots, "bot"), ["/early", "/late"])).toEqual({ "/early": false, "/late": true })
    expect(Robots.parse(new TextEncoder().encode("User-agent: *\nDisallow: /x\n")).truncated).toBe(false)
  })
})

describe("Robots.fromResponse", () => {
  const body = "User-agent: *\nDisallow: /private/\n"
  const allowedPrivate = (robots: Robots.Robots): boolean => Robots.isAllowed(Robots.forAgent(robots, "bot"), "/private/x")

  it("2xx: parses the body", () => {
    const robots = Robots.fromResponse(200, body)
    expect(robots.source).toBe("parsed")
    expect(robots.status).toBe(200)
    expect(allowedPrivate(robots)).toBe(false)
    expect(allowedPrivate(Robots.fromResponse(204))).toBe(true)
  })

  it("3xx left after following redirects, and 4xx: allow everything", () => {
    for (const status of [301, 302, 308, 400, 401, 403, 404, 410]) {
      const robots = Robots.fromResponse(status, body)
      expect(robots.source, String(status)).toBe("allow_all")
      expect(robots.status).toBe(status)
      expect(allowedPrivate(robots)).toBe(true)
    }
    expect(Robots.maxRedirects).toBe(5)
  })

  it("5xx, 429, unreachable and nonsense statuses: unavailable, nothing allowed", () => {
    for (const status of [500, 503, 599, 429, 100, 600, 0, -1, 200.5, Number.NaN, "unreachable"] as const) {
      const robots = Robots.fromResponse(status, body)
      expect(robots.source, String(status)).toBe("unavailable")
      const agent = Robots.forAgent(robots, "bot")
      expect(agent.unavailable).toBe(true)
      expect(Robots.isAllowed(agent, "/")).toBe(false)
      expect(Robots.isAllowed(agent, "/public")).toBe(false)
    }
    expect(Robots.forAgent(Robots.allowAll, "bot").unavailable).toBe(false)
    expect(Robots.cacheTtlMs).toBe(86_400_000)
  })

  it("urlFor gives the robots.txt of a URL's origin", () => {
    expect(Robots.urlFor({ href: "http://u@h.example:8080/a?b", scheme: "http", host: "h.example:8080", hostname: "h.example", path: "/a?b" }))
      .toBe("http://h.example:8080/robots.txt")
  })
})

describe("Robots: the synthetic site", () => {
  it("agrees with the site's ground truth for every page, and shuts out its excluded agent", () => {
    const site = SyntheticSite.make({ pages: 300, seed: 11 })
    const reply = site.handle({
      method: "GET",
      path: "/robots.txt",
      pathname: "/robots.txt",
      query: new URLSearchParams(),
      headers: { host: "127.0.0.1:8080" },
      body: new Uint8Array(0),
      hit: 1
    })
    const text = typeof reply.body === "string" ? reply.body : ""
    const robots = Robots.fromResponse(reply.status ?? 200, text)
    const agent = Robots.forAgent(robots, "fiberkit-crawler/0.1")
    expect(agent.crawlDelayMs).toBe(10)
    expect(robots.sitemaps).toEqual(["http://127.0.0.1:8080/sitemap.xml", "http://127.0.0.1:8080/sitemap_index.xml"])
    const disallowed = site.groundTruth.pages.filter((p) => p.disallowed)
    expect(disallowed.length).toBeGreaterThan(0)
    for (const page of site.groundTruth.pages) expect(Robots.isAllowed(agent, page.path), page.path).toBe(!page.disallowed)
    const excluded = Robots.forAgent(robots, "ExcludedBot")
    expect(Robots.isAllowed(excluded, "/")).toBe(false)
  })
})

describe("Robots: never throws", () => {
  const lines = FastCheck.array(
    FastCheck.oneof(
      FastCheck.constantFrom("User-agent: *", "User-agent: bot", "Disallow: /", "Allow: /a*", "Disallow: *.x$", "Crawl-delay: 1e999", "Sitemap:", "#", ":", "", "\r"),
      FastCheck.string({ unit: "binary", maxLength: 40 })
    ),
    { maxLength: 30 }
  )

  it.prop("parses and matches arbitrary text", {
    body: lines.map((l) => l.join("\n")),
    path: FastCheck.string({ unit: "binary", maxLength: 60 }),
    agent: FastCheck.string({ maxLength: 20 })
  }, ({ agent, body, path }) => {
    const robots = Robots.parse(body)
    const forAgent = Robots.forAgent(robots, agent)
    expect(typeof Robots.isAllowed(forAgent, path)).toBe("boolean")
    expect(typeof Robots.isAllowed(Robots.forAgent(robots, "bot"), "/" + path)).toBe("boolean")
    if (forAgent.crawlDelayMs !== undefined) expect(Number.isFinite(forAgent.crawlDelayMs)).toBe(true)
  })

  it.prop("parses arbitrary bytes", {
    bytes: FastCheck.uint8Array({ maxLength: 300 }),
    status: FastCheck.integer({ min: -10, max: 700 })
  }, ({ bytes, status }) => {
    const robots = Robots.fromResponse(status, bytes)
    expect(typeof Robots.isAllowed(Robots.forAgent(robots, "bot"), "/x")).toBe("boolean")
  })

  it("stays fast on hostile wildcard patterns", () => {
    const hostile = "User-agent: *\n" + ("Disallow: /" + "*a".repeat(500) + "b\n").repeat(200)
    const agent = agentFor(hostile, "bot")
    const path = "/" + "a".repeat(2000)
    const start = performance.now()
    expect(Robots.isAllowed(agent, path)).toBe(true)
    expect(performance.now() - start).toBeLessThan(2000)
  })
})
