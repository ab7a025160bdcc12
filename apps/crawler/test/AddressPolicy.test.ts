import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as AddressPolicy from "../src/AddressPolicy.js"

const target = (url: string): AddressPolicy.Target => new URL(url)

describe("AddressPolicy.classify", () => {
  it("classifies IPv4 special-purpose ranges at their edges", () => {
    const cases: ReadonlyArray<[string, AddressPolicy.AddressClass]> = [
      ["0.0.0.0", "unspecified"],
      ["0.255.255.255", "unspecified"],
      ["1.0.0.0", "public"],
      ["9.255.255.255", "public"],
      ["10.0.0.0", "private"],
      ["10.255.255.255", "private"],
      ["11.0.0.0", "public"],
      ["100.63.255.255", "public"],
      ["100.64.0.0", "carrier-nat"],
      ["100.127.255.255", "carrier-nat"],
      ["100.128.0.0", "public"],
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["169.254.169.254", "link-local"],
      ["169.255.0.0", "public"],
      ["172.15.255.255", "public"],
      ["172.16.0.0", "private"],
      ["172.31.255.255", "private"],
      ["172.32.0.0", "public"],
      ["192.0.0.8", "reserved"],
      ["192.0.2.1", "reserved"],
      ["192.168.1.1", "private"],
      ["192.169.0.0", "public"],
      ["198.18.0.1", "reserved"],
      ["198.19.255.255", "reserved"],
      ["198.20.0.0", "public"],
      ["198.51.100.7", "reserved"],
      ["203.0.113.9", "reserved"],
      ["8.8.8.8", "public"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.255", "multicast"],
      ["240.0.0.1", "reserved"],
      ["255.255.255.255", "reserved"]
    ]
    for (const [address, kind] of cases) expect(AddressPolicy.classify(address), address).toBe(kind)
  })

  it("classifies IPv6, including IPv4 inside mapped, NAT64 and 6to4 addresses", () => {
    const cases: ReadonlyArray<[string, AddressPolicy.AddressClass]> = [
      ["::", "unspecified"],
      ["::1", "loopback"],
      ["[::1]", "loopback"],
      ["0:0:0:0:0:0:0:1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["::ffff:10.1.2.3", "private"],
      ["::ffff:8.8.8.8", "public"],
      ["::127.0.0.1", "reserved"],
      ["64:ff9b::a9fe:a9fe", "link-local"],
      ["64:ff9b::808:808", "public"],
      ["64:ff9b:1::1", "private"],
      ["2002:7f00:1::", "loopback"],
      ["2002:0808:0808::1", "public"],
      ["2001:db8::1", "reserved"],
      ["2001::1", "reserved"],
      ["100::1", "reserved"],
      ["fc00::1", "private"],
      ["fd12:3456::1", "private"],
      ["fe80::1", "link-local"],
      ["fe80::1%eth0", "link-local"],
      ["febf::1", "link-local"],
      ["fec0::1", "private"],
      ["ff02::1", "multicast"],
      ["2606:4700:4700::1111", "public"],
      ["2a00:1450:4001:80b::200e", "public"],
      ["4000::1", "reserved"]
    ]
    for (const [address, kind] of cases) expect(AddressPolicy.classify(address), address).toBe(kind)
  })

  it("is undefined for what is not an IP address", () => {
    for (const text of ["localhost", "example.com", "127.1", "1.2.3.256", "", "[example]", "::g"]) {
      expect(AddressPolicy.classify(text), text).toBeUndefined()
    }
  })
})

describe("AddressPolicy.make", () => {
  const fakeDns = (answers: Record<string, ReadonlyArray<string>>) => {
    const asked: Array<string> = []
    const lookup: AddressPolicy.Lookup = (hostname) => {
      asked.push(hostname)
      const found = answers[hostname]
      return found === undefined ? Promise.reject(new Error(`ENOTFOUND ${hostname}`)) : Promise.resolve(found)
    }
    return { asked, lookup }
  }

  it.effect("refuses a name with any private address; allows public names, start hosts and everything with allowPrivate", () =>
    Effect.gen(function*() {
      const dns = fakeDns({
        "public.test": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.test": ["93.184.216.34", "10.0.0.7"],
        "meta.test": ["169.254.169.254"],
        "start.test": ["127.0.0.1"]
      })
      const policy = yield* AddressPolicy.make({ allowPrivate: false, trustedHosts: ["start.test:8080"], lookup: dns.lookup })
      expect((yield* policy.check(target("http://public.test/")))._tag).toBe("Allowed")
      const mixed = yield* policy.check(target("http://mixed.test/a"))
      expect(mixed).toMatchObject({ _tag: "Refused", hostname: "mixed.test", address: "10.0.0.7", addressClass: "private" })
      expect(mixed._tag === "Refused" ? mixed.message : "").toContain("--allow-private")
      expect(yield* policy.check(target("http://meta.test/"))).toMatchObject({ _tag: "Refused", addressClass: "link-local" })
      // The start URL's own host (host and port) is exempt; the same name on another port is not.
      expect((yield* policy.check(target("http://start.test:8080/x")))._tag).toBe("Allowed")
      expect((yield* policy.check(target("http://start.test:9090/x")))._tag).toBe("Refused")
      // IP literals need no lookup, however WHATWG wrote them.
      expect(yield* policy.check(target("http://2130706433/"))).toMatchObject({ _tag: "Refused", addressClass: "loopback" })
      expect(yield* policy.check(target("http://[::ffff:a9fe:a9fe]/"))).toMatchObject({ _tag: "Refused", addressClass: "link-local" })
      expect((yield* policy.check(target("http://8.8.8.8/")))._tag).toBe("Allowed")
      // A name that does not resolve is let through (the request fails with its own DNS error), not cached.
      expect((yield* policy.check(target("http://nowhere.test/")))._tag).toBe("Allowed")
      expect(policy.known(target("http://nowhere.test/"))).toBeUndefined()
      expect(dns.asked.sort()).toEqual(["meta.test", "mixed.test", "nowhere.test", "public.test", "start.test"])

      const open = yield* AddressPolicy.make({ allowPrivate: true, trustedHosts: [], lookup: dns.lookup })
      expect((yield* open.check(target("http://meta.test/")))._tag).toBe("Allowed")
      expect((yield* open.check(target("http://127.0.0.1:1/")))._tag).toBe("Allowed")
    }))

  it.effect("caches verdicts per host name for the TTL; one lookup for concurrent checks", () =>
    Effect.gen(function*() {
      let calls = 0
      const lookup: AddressPolicy.Lookup = () => {
        calls++
        return new Promise((resolve) => setTimeout(() => resolve(["10.1.1.1"]), 20))
      }
      const policy = yield* AddressPolicy.make({ allowPrivate: false, trustedHosts: [], lookup, ttlMs: 60_000 })
      expect(policy.known(target("http://a.test/"))).toBeUndefined()
      const verdicts = yield* Effect.forEach([1, 2, 3, 4], () => policy.check(target("http://a.test/")), { concurrency: 4 })
      expect(verdicts.every((v) => v._tag === "Refused")).toBe(true)
      expect(calls).toBe(1)
      // Known synchronously now, for redirect hops; on any port.
      expect(policy.known(target("http://a.test:81/x"))?._tag).toBe("Refused")
      yield* TestClock.adjust("61 seconds")
      expect(policy.known(target("http://a.test/"))).toBeUndefined()
      yield* policy.check(target("http://a.test/"))
      expect(calls).toBe(2)
    }))

  it.live("resolves through the system resolver: localhost is loopback", () =>
    Effect.gen(function*() {
      const policy = yield* AddressPolicy.make({ allowPrivate: false, trustedHosts: [] })
      expect(yield* policy.check(target("http://localhost:1234/"))).toMatchObject({ _tag: "Refused", addressClass: "loopback" })
    }))
})
