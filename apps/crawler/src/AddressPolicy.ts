/**
 * Which hosts the crawler may connect to: a page on the public web must not
 * be able to steer the crawler into the network it runs in (SSRF). A host
 * whose name resolves to a private (RFC 1918, `fc00::/7`), loopback,
 * link-local, unspecified, carrier-grade NAT, multicast or otherwise
 * reserved address is refused — unless it is one of the start URLs' own
 * hosts (so crawling a local or intranet site keeps working) or the crawl
 * allows private addresses (`--allow-private`).
 *
 * - IP literals (`http://10.0.0.1/`, and what WHATWG makes of
 *   `http://0x7f.1/` or `http://2130706433/`) are classified at once;
 *   IPv4-mapped, NAT64 and 6to4 IPv6 addresses by the IPv4 address inside.
 * - Host names are resolved with `node:dns` `lookup` (the system resolver,
 *   `/etc/hosts` included), every address: one private address refuses the
 *   host. Verdicts are cached per host name for `ttlMs`. A name that does
 *   not resolve is let through (not cached): the request itself then fails
 *   with its `dns` error.
 * - Limit: the check runs before the connection, it does not pin it. The
 *   HTTP client resolves the name again (through its own DNS cache), so a
 *   name whose answer changes between the two lookups (DNS rebinding with a
 *   very short TTL) can still reach a private address. Pinning needs the
 *   connection's own `lookup` to apply this classification; run the crawler
 *   behind an egress firewall where that matters.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Dns from "node:dns"
import * as Net from "node:net"

/**
 * What an IP address is, per the IANA special-purpose address registries.
 *
 * - `public`: globally routable unicast;
 * - `private`: RFC 1918, unique local `fc00::/7`, deprecated site-local, local-use NAT64;
 * - `loopback`: `127.0.0.0/8`, `::1`;
 * - `link-local`: `169.254.0.0/16` (cloud metadata services live here), `fe80::/10`;
 * - `unspecified`: `0.0.0.0/8`, `::`;
 * - `carrier-nat`: `100.64.0.0/10` (RFC 6598 shared address space);
 * - `multicast`: `224.0.0.0/4`, `ff00::/8`;
 * - `reserved`: documentation, benchmarking, protocol assignments, `240.0.0.0/4` and broadcast, IPv6 outside `2000::/3`.
 *
 * @since 0.1.0
 * @category models
 */
export type AddressClass =
  | "public"
  | "private"
  | "loopback"
  | "link-local"
  | "unspecified"
  | "carrier-nat"
  | "multicast"
  | "reserved"

/** IPv4 ranges that are not public: [first address, prefix length, class]. */
const V4_RANGES: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-nat"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"]
]

const parseV4 = (address: string): number => {
  let n = 0
  for (const part of address.split(".")) n = n * 256 + Number(part)
  return n
}

const V4_TABLE = V4_RANGES.map(([base, bits, kind]) => ({ base: parseV4(base), size: 2 ** (32 - bits), kind }))

const classifyV4 = (n: number): AddressClass => {
  for (const range of V4_TABLE) if (n >= range.base && n < range.base + range.size) return range.kind
  return "public"
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, embedded IPv4 expanded). */
const groupsV6 = (address: string): ReadonlyArray<number> => {
  let text = address.split("%")[0] ?? ""
  const lastColon = text.lastIndexOf(":")
  const tail = text.slice(lastColon + 1)
  if (tail.includes(".")) {
    const v4 = parseV4(tail)
    text = `${text.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`
  }
  const [head = "", rest] = text.split("::")
  const left = head === "" ? [] : head.split(":")
  const right = rest === undefined || rest === "" ? [] : rest.split(":")
  const zeros = rest === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => "0")
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16))
}

const classifyV6 = (g: ReadonlyArray<number>): AddressClass => {
  const at = (i: number): number => g[i] ?? 0
  const embeddedV4 = (hi: number, lo: number): number => hi * 65536 + lo
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0)
  if (zeroUpTo(8)) return "unspecified"
  if (zeroUpTo(7) && at(7) === 1) return "loopback"
  // ::ffff:a.b.c.d (IPv4-mapped) is the IPv4 address itself to the kernel.
  if (zeroUpTo(5) && at(5) === 0xffff) return classifyV4(embeddedV4(at(6), at(7)))
  // ::a.b.c.d (IPv4-compatible, deprecated).
  if (zeroUpTo(6)) return "reserved"
  const a = at(0)
  // NAT64 well-known prefix 64:ff9b::/96 reaches the IPv4 address inside.
  if (a === 0x64 && at(1) === 0xff9b && at(2) === 0 && at(3) === 0 && at(4) === 0 && at(5) === 0) {
    return classifyV4(embeddedV4(at(6), at(7)))
  }
  if (a === 0x64 && at(1) === 0xff9b && at(2) === 1) return "private"
  // 6to4 2002::/16 reaches the IPv4 address in bits 16..48.
  if (a === 0x2002) return classifyV4(embeddedV4(at(1), at(2)))
  if (a === 0x2001 && at(1) === 0xdb8) return "reserved"
  // 2001::/23: IETF protocol assignments (Teredo, ORCHID, benchmarking…).
  if (a === 0x2001 && at(1) < 0x200) return "reserved"
  if (a === 0x100 && at(1) === 0 && at(2) === 0 && at(3) === 0) return "reserved"
  if ((a & 0xfe00) === 0xfc00) return "private"
  if ((a & 0xffc0) === 0xfe80) return "link-local"
  if ((a & 0xffc0) === 0xfec0) return "private"
  if ((a & 0xff00) === 0xff00) return "multicast"
  // Only 2000::/3 is allocated for global unicast.
  if ((a & 0xe000) !== 0x2000) return "reserved"
  return "public"
}

/**
 * Classifies an IP address (IPv4 dotted quad, or IPv6 with or without
 * brackets and zone id); `undefined` when the text is not an IP address.
 *
 * @since 0.1.0
 * @category classification
 */
export const classify = (address: string): AddressClass | undefined => {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address
  const version = Net.isIP(bare)
  if (version === 4) return classifyV4(parseV4(bare))
  if (version === 6) return classifyV6(groupsV6(bare))
  return undefined
}

/**
 * A host refused because it resolves to a non-public address.
 *
 * @since 0.1.0
 * @category models
 */
export class Refused extends Data.TaggedClass("Refused")<{
  readonly hostname: string
  /** The first non-public address the host name resolved to (the host itself for an IP literal). */
  readonly address: string
  readonly addressClass: Exclude<AddressClass, "public">
}> {
  get message(): string {
    const via = this.address === this.hostname ? "" : ` (resolves to ${this.address})`
    return `${this.hostname}${via} is a ${this.addressClass} address: refused, not fetched ` +
      `(only the start URLs' own hosts may be non-public; --allow-private lifts this)`
  }
}

/**
 * The host may be connected to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Allowed {
  readonly _tag: "Allowed"
}

/**
 * @since 0.1.0
 * @category constants
 */
export const allowed: Allowed = { _tag: "Allowed" }

/**
 * A policy's answer for a host.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = Allowed | Refused

/**
 * What the policy needs of a URL: `URL` and `Url.Normalized` both fit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  /** Host name and port: compared with the start URLs' hosts. */
  readonly host: string
  /** Host name (IPv6 in brackets). */
  readonly hostname: string
}

/**
 * Resolves a host name to all its addresses.
 *
 * @since 0.1.0
 * @category models
 */
export type Lookup = (hostname: string) => Promise<ReadonlyArray<string>>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Allow every address. */
  readonly allowPrivate: boolean
  /** Hosts (host and port, as `URL.host`) always allowed: the start URLs' own. */
  readonly trustedHosts: ReadonlyArray<string>
  /** How long a host name's verdict is kept, in ms. Default `300_000`. */
  readonly ttlMs?: number | undefined
  /** Host names kept in the cache, oldest dropped first. Default `10_000`. */
  readonly maxHosts?: number | undefined
  /** Default: `node:dns` `lookup` with `all: true`. */
  readonly lookup?: Lookup | undefined
}

/**
 * The policy of one crawl.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddressPolicy {
  /** The verdict for a URL's host, resolving its name when needed. */
  readonly check: (target: Target) => Effect.Effect<Verdict>
  /**
   * The verdict when it is known without resolving (trusted host, IP
   * literal, cached name), else `undefined`: for decisions that cannot
   * wait, such as whether to follow a redirect hop.
   */
  readonly known: (target: Target) => Verdict | undefined
}

const systemLookup: Lookup = (hostname) =>
  Dns.promises.lookup(hostname, { all: true, verbatim: true }).then((answers) => answers.map((a) => a.address))

const verdictFor = (hostname: string, addresses: ReadonlyArray<string>): Verdict => {
  for (const address of addresses) {
    const kind = classify(address)
    // An answer that is not an address at all is as suspicious as a private one.
    if (kind !== "public") return new Refused({ hostname, address, addressClass: kind ?? "reserved" })
  }
  return allowed
}

/**
 * Builds a policy (its cache lives as long as the returned value).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<AddressPolicy> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const ttlMs = options.ttlMs ?? 300_000
    const maxHosts = options.maxHosts ?? 10_000
    const lookup = options.lookup ?? systemLookup
    const trusted = new Set(options.trustedHosts)
    const cache = new Map<string, { readonly verdict: Verdict; readonly until: number }>()
    const resolving = new Map<string, Deferred.Deferred<Verdict>>()

    const bare = (hostname: string): string =>
      hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname

    const known = (target: Target): Verdict | undefined => {
      if (options.allowPrivate || trusted.has(target.host)) return allowed
      const hostname = bare(target.hostname)
      if (Net.isIP(hostname) !== 0) return verdictFor(hostname, [hostname])
      const cached = cache.get(hostname)
      if (cached === undefined) return undefined
      if (cached.until > clock.unsafeCurrentTimeMillis()) return cached.verdict
      cache.delete(hostname)
      return undefined
    }

    const remember = (hostname: string, verdict: Verdict): void => {
      cache.delete(hostname)
      cache.set(hostname, { verdict, until: clock.unsafeCurrentTimeMillis() + ttlMs })
      if (cache.size > maxHosts) {
        const oldest = cache.keys().next()
        if (oldest.done !== true) cache.delete(oldest.value)
      }
    }

    const resolve = (hostname: string): Effect.Effect<Verdict> =>
      Effect.tryPromise(() => lookup(hostname)).pipe(
        Effect.map((addresses) => {
          const verdict = verdictFor(hostname, addresses)
          remember(hostname, verdict)
          return verdict
        }),
        // Not resolvable now: the request will fail with its own DNS error; nothing is cached.
        Effect.orElseSucceed((): Verdict => allowed)
      )

    const check = (target: Target): Effect.Effect<Verdict> =>
      Effect.suspend(() => {
        const verdict = known(target)
        if (verdict !== undefined) return Effect.succeed(verdict)
        const hostname = bare(target.hostname)
        const pending = resolving.get(hostname)
        if (pending !== undefined) return Deferred.await(pending)
        return Effect.flatMap(Deferred.make<Verdict>(), (deferred) => {
          resolving.set(hostname, deferred)
          return resolve(hostname).pipe(
            Effect.onExit((exit) =>
              Effect.zipRight(Effect.sync(() => resolving.delete(hostname)), Deferred.done(deferred, exit))
            )
          )
        })
      })

    return { check, known }
  })
