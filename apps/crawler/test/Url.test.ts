import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Url from "../src/Url.js"

const href = (input: string, options?: Url.Options): string => {
  const result = Url.normalize(input, options)
  if (Either.isLeft(result)) throw new Error(`expected ${JSON.stringify(input)} to normalize: ${result.left.message}`)
  return result.right.href
}

const resolved = (ref: string, base: string, options?: Url.Options): string => {
  const result = Url.resolve(ref, base, options)
  if (Either.isLeft(result)) throw new Error(`expected ${JSON.stringify(ref)} to resolve: ${result.left.message}`)
  return result.right.href
}

const rejection = (input: string, options?: Url.Options): Url.InvalidUrl => {
  const result = Url.normalize(input, options)
  if (Either.isRight(result)) throw new Error(`expected ${JSON.stringify(input)} to be rejected, got ${result.right.href}`)
  return result.left
}

const normalized = (input: string): Url.Normalized => {
  const result = Url.normalize(input)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

const allOptions: ReadonlyArray<Url.Options | undefined> = [
  undefined,
  { stripTracking: true },
  { sortQuery: true },
  { stripTracking: true, sortQuery: true }
]

describe("Url.normalize", () => {
  it.each([
    ["lower-cases scheme and host", "HTTP://Example.COM/Path", "http://example.com/Path"],
    ["drops the default http port", "http://example.com:80/a", "http://example.com/a"],
    ["drops the default https port", "https://example.com:443/a", "https://example.com/a"],
    ["keeps a non-default port", "http://example.com:8080/a", "http://example.com:8080/a"],
    ["removes dot segments", "http://example.com/a/./b/../c/./d", "http://example.com/a/c/d"],
    ["removes encoded dot segments", "http://example.com/a/%2e%2E/b", "http://example.com/b"],
    ["makes an empty path /", "http://example.com", "http://example.com/"],
    ["drops the fragment", "http://example.com/a#section", "http://example.com/a"],
    ["drops an empty fragment", "http://example.com/a#", "http://example.com/a"],
    ["drops an empty query", "http://example.com/a?", "http://example.com/a"],
    ["drops an empty query before a fragment", "http://example.com/a?#x", "http://example.com/a"],
    ["keeps a query that is only ?", "http://example.com/a??", "http://example.com/a??"],
    ["decodes percent-encoded unreserved characters", "http://example.com/p/%312", "http://example.com/p/12"],
    ["decodes %7E to ~", "http://example.com/%7Euser/%7e", "http://example.com/~user/~"],
    ["decodes unreserved escapes in the query", "http://example.com/?q=%41%2d%5F", "http://example.com/?q=A-_"],
    ["upper-cases the hex of other escapes", "http://example.com/%c3%a9?x=%2f", "http://example.com/%C3%A9?x=%2F"],
    ["keeps reserved escapes encoded", "http://example.com/a%2Fb%3Fc", "http://example.com/a%2Fb%3Fc"],
    ["encodes a stray %", "http://example.com/100%", "http://example.com/100%25"],
    ["encodes a stray % before a valid escape", "http://example.com/%%616", "http://example.com/%25a6"],
    ["keeps path case", "http://example.com/A/b/C.HTML", "http://example.com/A/b/C.HTML"],
    ["keeps query order", "http://example.com/s?b=2&a=1", "http://example.com/s?b=2&a=1"],
    ["turns IDN hosts to punycode", "http://Bücher.example/ä", "http://xn--bcher-kva.example/%C3%A4"],
    ["percent-encodes spaces and non-ASCII", "http://example.com/a b?q=ü", "http://example.com/a%20b?q=%C3%BC"],
    ["canonicalizes IPv6 hosts", "http://[::FFFF:7F00:1]:80/", "http://[::ffff:7f00:1]/"],
    ["canonicalizes IPv4 forms", "http://0x7f.1/", "http://127.0.0.1/"],
    ["decodes an escaped host", "http://ex%61mple.com/", "http://example.com/"],
    ["turns backslashes into slashes", "http://example.com\\a\\b", "http://example.com/a/b"],
    ["strips surrounding whitespace and inner tabs/newlines", "  http://exa\tmple.com/a\n ", "http://example.com/a"],
    ["keeps user info", "http://user:pa%73s@example.com/", "http://user:pa%73s@example.com/"]
  ])("%s", (_name, input, expected) => {
    expect(href(input)).toBe(expected)
  })

  it("returns the politeness host, host name, scheme and the path robots.txt matches", () => {
    const n = normalized("HTTPS://User@Example.COM:8443/A/%7Eb?x=1#f")
    expect(n).toEqual({
      href: "https://User@example.com:8443/A/~b?x=1",
      scheme: "https",
      host: "example.com:8443",
      hostname: "example.com",
      path: "/A/~b?x=1"
    })
    expect(normalized("http://[::1]:8080/").hostname).toBe("[::1]")
  })

  it.each([
    ["mailto:webmaster@example.invalid", "mailto"],
    ["tel:+15550100", "tel"],
    ["javascript:void(0)", "javascript"],
    ["data:text/html,<p>hi</p>", "data"],
    ["ftp://example.com/file", "ftp"],
    ["file:///etc/passwd", "file"],
    ["ws://example.com/socket", "ws"]
  ])("rejects %s with reason unsupported_scheme and its scheme", (input, scheme) => {
    const left = rejection(input)
    expect(left._tag).toBe("InvalidUrl")
    expect(left.reason).toBe("unsupported_scheme")
    expect(left.scheme).toBe(scheme)
    expect(left.message).toContain("only http: and https:")
  })

  it("rejects blank, relative and malformed inputs with a reason", () => {
    expect(rejection("").reason).toBe("empty")
    expect(rejection(" \t\n").reason).toBe("empty")
    expect(rejection("/relative/path").reason).toBe("malformed")
    expect(rejection("not a url").reason).toBe("malformed")
    expect(rejection("http://").reason).toBe("malformed")
    expect(rejection("http://exa mple.com/").reason).toBe("malformed")
    expect(rejection("http://example.com:99999/").reason).toBe("malformed")
    expect(rejection("http://1.2.3.4.5/").reason).toBe("malformed")
    expect(rejection("/x").scheme).toBeUndefined()
  })

  it("rejects URLs longer than maxLength once normalized (default 2048)", () => {
    const base = "http://example.com/"
    expect(href(base + "a".repeat(2048 - base.length))).toHaveLength(2048)
    const left = rejection(base + "a".repeat(2049 - base.length))
    expect(left.reason).toBe("too_long")
    expect(left.message).toContain("maxLength")
    expect(rejection(base + "abcdef", { maxLength: 20 }).reason).toBe("too_long")
    // Dot segments shrink a long input below the limit: the limit is on the result.
    expect(href(base + "a/../".repeat(30) + "b", { maxLength: 30 })).toBe("http://example.com/b")
    // Huge inputs are refused before parsing.
    expect(rejection(base + "x".repeat(10_000_000)).reason).toBe("too_long")
  })

  it("strips tracking parameters only when asked, case-insensitively, keeping the rest in order", () => {
    const url = "http://example.com/a?utm_source=news&id=7&UTM_Medium=mail&gclid=x&fbclid=y&b=2&utm%5Fterm=z&msclkid=1"
    expect(href(url)).toBe("http://example.com/a?utm_source=news&id=7&UTM_Medium=mail&gclid=x&fbclid=y&b=2&utm_term=z&msclkid=1")
    expect(href(url, { stripTracking: true })).toBe("http://example.com/a?id=7&b=2")
    expect(href("http://example.com/a?utm_source=x&utm_medium=y", { stripTracking: true })).toBe("http://example.com/a")
    // Not on the list: referral and session parameters change content on some sites.
    expect(href("http://example.com/?ref=nav&sessionid=42", { stripTracking: true })).toBe("http://example.com/?ref=nav&sessionid=42")
  })

  it("documents its tracking list", () => {
    for (const name of ["gclid", "fbclid", "msclkid", "mc_cid", "_ga", "yclid"]) {
      expect(Url.trackingParameters).toContain(name)
      expect(Url.isTrackingParameter(name.toUpperCase())).toBe(true)
    }
    expect(Url.trackingPrefixes).toEqual(["utm_"])
    expect(Url.isTrackingParameter("utm_anything")).toBe(true)
    expect(Url.isTrackingParameter("page")).toBe(false)
  })

  it("sorts query parameters by name when asked, stably, dropping empty pairs", () => {
    expect(href("http://example.com/s?q=alpha&page=2")).toBe("http://example.com/s?q=alpha&page=2")
    expect(href("http://example.com/s?q=alpha&page=2", { sortQuery: true })).toBe("http://example.com/s?page=2&q=alpha")
    expect(href("http://example.com/s?page=2&q=alpha", { sortQuery: true })).toBe("http://example.com/s?page=2&q=alpha")
    expect(href("http://example.com/s?b=1&a=2&&a=1&c", { sortQuery: true })).toBe("http://example.com/s?a=2&a=1&b=1&c")
    expect(href("http://example.com/s?&&", { sortQuery: true })).toBe("http://example.com/s")
  })
})

describe("Url.resolve", () => {
  const page = "http://example.com/a/b/page.html?x=1"
  it.each([
    ["relative", "c.html", "http://example.com/a/b/c.html"],
    ["parent-relative", "../c.html", "http://example.com/a/c.html"],
    ["too many parents", "../../../../c", "http://example.com/c"],
    ["root-relative", "/p/3", "http://example.com/p/3"],
    ["protocol-relative", "//Other.example.com/x", "http://other.example.com/x"],
    ["absolute", "https://example.org/y#z", "https://example.org/y"],
    ["upper-case scheme and host", "HTTP://EXAMPLE.COM/p/3", "http://example.com/p/3"],
    ["query-only", "?y=2", "http://example.com/a/b/page.html?y=2"],
    ["dot segment", "/./p/3", "http://example.com/p/3"],
    ["parent segment", "/q/../p/3", "http://example.com/p/3"],
    ["fragment", "/p/3#s2", "http://example.com/p/3"],
    ["percent-encoded unreserved", "/p/%312", "http://example.com/p/12"],
    ["empty (the page itself)", "", "http://example.com/a/b/page.html?x=1"]
  ])("resolves a %s reference", (_name, ref, expected) => {
    expect(resolved(ref, page)).toBe(expected)
  })

  it("resolves protocol-relative references with the base's scheme", () => {
    expect(resolved("//cdn.example.com/x", "https://example.com/")).toBe("https://cdn.example.com/x")
  })

  it("rejects other schemes and bad bases with a reason", () => {
    const left = Url.resolve("mailto:a@b.c", page)
    expect(Either.isLeft(left) && left.left.scheme).toBe("mailto")
    const bad = Url.resolve("x", "not a base")
    expect(Either.isLeft(bad) && bad.left.reason).toBe("malformed")
  })
})

describe("Url.key", () => {
  it("is the normalized href, so equivalent spellings share one key", () => {
    const spellings = [
      "http://127.0.0.1:8080/p/12",
      "HTTP://127.0.0.1:8080/p/12",
      "http://127.0.0.1:8080/p/%312",
      "http://127.0.0.1:8080/./p/12#top",
      "http://127.0.0.1:8080/q/../p/12?"
    ]
    const keys = new Set(spellings.map((s) => Either.getOrThrow(Url.key(s))))
    expect([...keys]).toEqual(["http://127.0.0.1:8080/p/12"])
    expect(Url.key("mailto:x@y.z").pipe(Either.isLeft)).toBe(true)
  })

  it("applies the options", () => {
    expect(Url.key("http://e.com/?b=1&a=2&utm_id=3", { sortQuery: true, stripTracking: true })).toEqual(
      Either.right("http://e.com/?a=2&b=1")
    )
  })
})

/** Strings built from the characters that matter to URL parsing. */
const urlish = FastCheck.array(
  FastCheck.constantFrom(
    "http://", "HTTPS://", "//", "/", "\\", ".", "..", "./", "../", "%", "%2e", "%2E", "%41", "%7e", "%c3%a9", "%2F",
    "%%", "%0", "?", "&", "=", "#", "@", ":", ":80", ":443", "[::1]", "a", "B", "é", "ü", " ", "\t", "\n", "+", "~",
    "utm_source=x", "gclid=1", "example.com", "xn--", "127.0.0.1", "\u0000", "\uD800", "*", ";", "'", "\""
  ),
  { maxLength: 24 }
).map((parts) => parts.join(""))

const expectStable = (input: string, base: string | undefined, options: Url.Options | undefined): void => {
  const first = base === undefined ? Url.normalize(input, options) : Url.resolve(input, base, options)
  if (Either.isLeft(first)) {
    expect(first.left._tag).toBe("InvalidUrl")
    return
  }
  const again = Url.normalize(first.right.href, options)
  expect(again).toEqual(Either.right(first.right))
  // The result is what a WHATWG parser would print for it: no later client changes it.
  expect(new URL(first.right.href).href).toBe(first.right.href)
}

describe("Url properties", () => {
  it.prop("is idempotent on web URLs (with queries and fragments)", {
    url: FastCheck.webUrl({ withQueryParameters: true, withFragments: true, validSchemes: ["http", "https"] })
  }, ({ url }) => {
    for (const options of allOptions) expectStable(url, undefined, options)
  })

  it.prop("is idempotent on fuzzed URL-like strings, absolute and relative", {
    tail: urlish
  }, ({ tail }) => {
    for (const options of allOptions) {
      expectStable("http://example.com/" + tail, undefined, options)
      expectStable(tail, undefined, options)
      expectStable(tail, "http://example.com/a/b?c=d", options)
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("normalizes percent-encoding idempotently (stray %, hex digits after escapes)", {
    tail: FastCheck.array(
      FastCheck.constantFrom("%", "%4", "%41", "%7e", "%2E", "%2e", "%c3", "%FF", "a", "B", "f", "1", "/", ".", "?", "=", "&"),
      { maxLength: 16 }
    ).map((parts) => parts.join(""))
  }, ({ tail }) => {
    for (const options of allOptions) expectStable("http://example.com/" + tail, undefined, options)
  }, { fastCheck: { numRuns: 1000 } })

  it.prop("never throws on arbitrary strings", {
    s: FastCheck.string({ unit: "binary", maxLength: 200 })
  }, ({ s }) => {
    for (const options of allOptions) {
      expectStable(s, undefined, options)
      expectStable(s, "http://example.com/dir/", options)
      expect(Either.isEither(Url.key(s, options))).toBe(true)
    }
  })
})

describe("Url.scope", () => {
  const check = (scope: Url.Scope, url: string): true | Url.OutOfScope["rule"] => {
    const verdict = scope(normalized(url))
    return verdict === true ? true : verdict.rule
  }
  const build = (seeds: ReadonlyArray<string>, mode: Url.ScopeMode, options?: Url.ScopeOptions): Url.Scope =>
    Either.getOrThrow(Url.scope(seeds, mode, options))

  it("same-origin: scheme, host and port must match", () => {
    const scope = build(["http://example.com/start"], "same-origin")
    expect(check(scope, "http://example.com/other")).toBe(true)
    expect(check(scope, "HTTP://EXAMPLE.COM:80/x")).toBe(true)
    expect(check(scope, "https://example.com/")).toBe("mode")
    expect(check(scope, "http://example.com:8080/")).toBe("mode")
    expect(check(scope, "http://www.example.com/")).toBe("mode")
  })

  it("same-host: same host and port, any scheme, not subdomains", () => {
    const scope = build(["http://example.com/"], "same-host")
    expect(check(scope, "https://example.com/x")).toBe(true)
    expect(check(scope, "https://example.com:8443/x")).toBe("mode")
    expect(check(build(["http://127.0.0.1:8080/"], "same-host"), "http://127.0.0.1:1/")).toBe("mode")
    expect(check(scope, "http://www.example.com/")).toBe("mode")
    expect(check(scope, "http://example.org/")).toBe("mode")
  })

  it("same-domain: the registrable domain from the public suffix list, private section included", () => {
    const scope = build(["https://www.example.co.uk/"], "same-domain")
    expect(check(scope, "http://example.co.uk/")).toBe(true)
    expect(check(scope, "http://blog.example.co.uk/a")).toBe(true)
    expect(check(scope, "http://deep.er.example.co.uk/a")).toBe(true)
    expect(check(scope, "http://other.co.uk/")).toBe("mode")
    expect(check(scope, "http://example.com/")).toBe("mode")
    expect(check(scope, "http://notexample.co.uk/")).toBe("mode")
    const pages = build(["https://alice.github.io/"], "same-domain")
    expect(check(pages, "https://alice.github.io/x")).toBe(true)
    expect(check(pages, "https://bob.github.io/")).toBe("mode")
  })

  it("same-domain: an IP address or localhost is its own domain", () => {
    const scope = build(["http://127.0.0.1:8080/"], "same-domain")
    expect(check(scope, "http://127.0.0.1:1/offsite")).toBe(true)
    expect(check(scope, "http://127.0.0.2:8080/")).toBe("mode")
    const local = build(["http://localhost:3000/"], "same-domain")
    expect(check(local, "http://localhost/")).toBe(true)
    expect(check(local, "http://localhost.example/")).toBe("mode")
    const v6 = build(["http://[::1]:8080/"], "same-domain")
    expect(check(v6, "http://[::1]:9090/")).toBe(true)
    expect(check(v6, "http://[::2]/")).toBe("mode")
    expect(Url.registrableDomain("10.0.0.1")).toBe("10.0.0.1")
    expect(Url.registrableDomain("localhost")).toBe("localhost")
    expect(Url.registrableDomain("a.b.example.com")).toBe("example.com")
  })

  it("prefix: the URL starts with a seed without its query", () => {
    const scope = build(["https://example.com/docs/?lang=en"], "prefix")
    expect(check(scope, "https://example.com/docs/")).toBe(true)
    expect(check(scope, "https://example.com/docs/a/b?x")).toBe(true)
    expect(check(scope, "https://example.com/doc")).toBe("mode")
    expect(check(scope, "https://example.com/blog/")).toBe("mode")
    expect(check(scope, "http://example.com/docs/")).toBe("mode")
  })

  it("any: everything, limited only by patterns", () => {
    const scope = build([], "any", { include: ["\\.example\\."] })
    expect(check(scope, "http://a.example.org/")).toBe(true)
    expect(check(scope, "http://other.org/")).toBe("include")
  })

  it("is in scope when any seed says so", () => {
    const scope = build(["http://a.com/", "http://b.com/"], "same-host")
    expect(check(scope, "http://a.com/x")).toBe(true)
    expect(check(scope, "http://b.com/y")).toBe(true)
    expect(check(scope, "http://c.com/")).toBe("mode")
  })

  it("include narrows, exclude wins over include, with the pattern as the reason", () => {
    const scope = build(["http://example.com/"], "same-host", { include: ["/blog/", /\/news\//], exclude: ["\\?print=", /private/] })
    expect(check(scope, "http://example.com/blog/post")).toBe(true)
    expect(check(scope, "http://example.com/news/1")).toBe(true)
    expect(check(scope, "http://example.com/about")).toBe("include")
    expect(check(scope, "http://example.com/blog/post?print=1")).toBe("exclude")
    const verdict = scope(normalized("http://example.com/blog/private"))
    expect(verdict).toBeInstanceOf(Url.OutOfScope)
    if (verdict !== true) {
      expect(verdict.pattern).toBe("private")
      expect(verdict.message).toContain("exclude pattern")
    }
  })

  it("makes global and sticky patterns stateless", () => {
    const scope = build(["http://example.com/"], "same-host", { exclude: [/qq/g, /zz/y] })
    // A kept `g` flag would alternate true/false through lastIndex; a kept `y` would only match at index 0.
    for (let i = 0; i < 3; i++) expect(check(scope, "http://example.com/qq")).toBe("exclude")
    for (let i = 0; i < 3; i++) expect(check(scope, "http://example.com/zz")).toBe("exclude")
    for (let i = 0; i < 3; i++) expect(check(scope, "http://example.com/a")).toBe(true)
  })

  it("accepts already-normalized seeds", () => {
    const scope = build([], "any")
    expect(check(scope, "http://anything.example/")).toBe(true)
    const seeded = Either.getOrThrow(Url.scope([normalized("http://example.com/")], "same-host"))
    expect(check(seeded, "http://example.com/z")).toBe(true)
  })

  it("fails with InvalidScope on bad seeds, patterns or modes", () => {
    const cases: ReadonlyArray<[Either.Either<Url.Scope, Url.InvalidScope>, string]> = [
      [Url.scope(["mailto:x@y.z"], "same-host"), "seeds"],
      [Url.scope([], "same-host"), "seeds"],
      [Url.scope(["http://e.com/"], "same-host", { include: ["("] }), "include"],
      [Url.scope(["http://e.com/"], "same-host", { exclude: ["[z-a]"] }), "exclude"],
      [Url.scope(["http://e.com/"], "nearby" as Url.ScopeMode), "seeds"]
    ]
    for (const [result, option] of cases) {
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("InvalidScope")
        expect(result.left.option).toBe(option)
        expect(result.left.message).toContain("Url.scope")
      }
    }
  })

  it.prop("never throws, and every seed is in scope of itself in every mode", {
    seed: FastCheck.webUrl({ validSchemes: ["http", "https"] }),
    url: FastCheck.webUrl({ validSchemes: ["http", "https"], withQueryParameters: true })
  }, ({ seed, url }) => {
    const target = Url.normalize(url)
    const self = Url.normalize(seed)
    if (Either.isLeft(target) || Either.isLeft(self)) return
    for (const mode of Url.scopeModes) {
      const scope = build([seed], mode)
      const verdict = scope(target.right)
      expect(verdict === true || verdict instanceof Url.OutOfScope).toBe(true)
      expect(scope(self.right)).toBe(true)
    }
  })

  it("lists its modes", () => {
    expect(Url.scopeModes).toEqual(["same-origin", "same-host", "same-domain", "prefix", "any"])
  })
})
