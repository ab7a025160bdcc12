/**
 * Fetching with manners: robots.txt per site (fetched once, cached in the
 * database with a TTL and in memory), `Crawl-delay` as a floor on the host's
 * rate, per-host and global in-flight caps, adaptive backoff on 429/503, and
 * redirects followed only into the crawl's scope and only where robots.txt
 * allows.
 *
 * Politeness lives inside `Http`: the crawler hands it its own per-host
 * `KeyedRateLimiter` (adaptive, with Crawl-delay floors), so every request —
 * retries and redirect hops included — obeys the same limits. No host ever
 * sees more than `perHost` requests at once or starts faster than allowed.
 * With `HostSlots` in the context (a Postgres crawl) these limits hold for
 * all the crawl's workers together.
 *
 * Every new connection target — a URL's host, each redirect hop, robots.txt
 * and sitemap hops — passes the {@link AddressPolicy} first: hosts resolving
 * to private, loopback or link-local addresses are refused unless they are
 * the start URLs' own or the crawl allows private addresses.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Http, HttpError, KeyedRateLimiter, Retry } from "@fiberkit/core"
import * as AddressPolicy from "./AddressPolicy.js"
import { Frontier } from "./Frontier.js"
import * as HostSlots from "./HostSlots.js"
import type * as Options from "./Options.js"
import * as Robots from "./Robots.js"
import * as Sitemap from "./Sitemap.js"
import * as Url from "./Url.js"

/**
 * What fetching one URL gave.
 *
 * - `Response`: the server answered (any status; a redirect that was not
 *   followed comes back as its 3xx);
 * - `Error`: no usable answer after the retries;
 * - `Disallowed`: robots.txt forbids the URL;
 * - `RobotsUnavailable`: the site's robots.txt could not be fetched, so
 *   nothing of it may be crawled for now;
 * - `Refused`: the host resolves to a private, loopback or link-local
 *   address (see {@link AddressPolicy}); nothing was sent.
 *
 * @since 0.1.0
 * @category models
 */
export type Fetched =
  | { readonly _tag: "Response"; readonly response: Http.HttpResponse; readonly elapsedMs: number }
  | { readonly _tag: "Error"; readonly error: HttpError.HttpError; readonly elapsedMs: number }
  | { readonly _tag: "Disallowed" }
  | { readonly _tag: "RobotsUnavailable" }
  | { readonly _tag: "Refused"; readonly refused: AddressPolicy.Refused }

/**
 * The fetcher service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Fetches one normalized URL. Never fails: failures are `Fetched` values. */
  readonly fetch: (url: Url.Normalized) => Effect.Effect<Fetched>
  /** The URLs a sitemap (or sitemap index, followed two levels deep) lists. */
  readonly sitemap: (url: string) => Effect.Effect<ReadonlyArray<string>>
  /** The sitemaps robots.txt lists for a site (empty without robots or sitemaps). */
  readonly sitemapsOf: (url: Url.Normalized) => Effect.Effect<ReadonlyArray<string>>
  /** Hosts slowed down or paused right now by 429/503 answers, for the progress display. */
  readonly hostsInBackoff: () => number
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Fetcher extends Context.Tag("@fiberkit/crawler/Fetcher")<Fetcher, Service>() {}

/** robots.txt answers are kept this long (RFC 9309 asks for at most 24 h). */
const ROBOTS_TTL_MS = Robots.cacheTtlMs
/** A site whose robots.txt failed is asked again after this long. */
const ROBOTS_RETRY_MS = 5_000
/** Parsed robots.txt kept in memory, most recently used last. */
const ROBOTS_IN_MEMORY = 10_000

/**
 * Builds the fetcher and its `Http` client (owned by the fetcher: its pool
 * closes with the scope).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options.Options,
  inScope: Url.Scope,
  normalizeOptions: Url.Options,
  /** Hosts (host and port) exempt from the address policy. Default: the hosts of `options.seeds`. */
  startHosts?: ReadonlyArray<string>
): Effect.Effect<Service, Http.SettingsError, Frontier | Scope.Scope> =>
  Effect.gen(function*() {
    const frontier = yield* Frontier
    const addresses = yield* AddressPolicy.make({
      allowPrivate: options.allowPrivate,
      trustedHosts: startHosts ?? options.seeds.flatMap((seed) => URL.canParse(seed) ? [new URL(seed).host] : [])
    })
    /** Redirect hops are decided synchronously: a host not known to be allowed is not followed (yet). */
    const mayConnect = (to: URL): boolean => addresses.known(to)?._tag === "Allowed"
    const clock = yield* Effect.clock
    // With `HostSlots` in the context (a Postgres crawl), in-flight slots and
    // request starts are shared by every worker of the crawl.
    const cluster = yield* Effect.serviceOption(HostSlots.HostSlots)
    const slot = (host: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Option.isSome(cluster) ? cluster.value.withSlot(host)(self) : self
    const rate = Option.isSome(cluster) ? cluster.value.rateLimiter : yield* KeyedRateLimiter.make<string>({
      perSecond: options.rate ?? Number.POSITIVE_INFINITY,
      burst: 1,
      adaptive: {}
    })
    const http = yield* Http.make({
      userAgent: options.userAgent,
      headers: { accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5" },
      limits: {
        maxInFlight: options.concurrency,
        perHostMaxInFlight: options.perHost,
        adaptive: true
      },
      rateLimiter: rate,
      timeouts: { attempt: options.timeoutMs, headers: options.timeoutMs, body: options.timeoutMs },
      retry: { maxAttempts: options.retries + 1 },
      maxBodyBytes: options.maxBytes,
      // Requests to one host are counted by host name and port, like robots.txt.
      hostKey: (url) => url.host
    })

    // -- robots.txt -----------------------------------------------------------
    const robots = new Map<string, Robots.Agent>()
    const robotsExpires = new Map<string, number>()
    const loading = new Map<string, Deferred.Deferred<Robots.Agent>>()

    const remember = (origin: string, agent: Robots.Agent, expiresAt: number): void => {
      robots.delete(origin)
      robots.set(origin, agent)
      robotsExpires.set(origin, expiresAt)
      if (robots.size > ROBOTS_IN_MEMORY) {
        const oldest = robots.keys().next()
        if (oldest.done !== true) {
          robots.delete(oldest.value)
          robotsExpires.delete(oldest.value)
        }
      }
    }

    const applyAgent = (url: Url.Normalized, agent: Robots.Agent): Effect.Effect<void> =>
      agent.crawlDelayMs !== undefined && agent.crawlDelayMs > 0 ? rate.setFloor(url.host, agent.crawlDelayMs) : Effect.void

    /**
     * GETs `url` following up to `maxRedirects` hops one at a time, so that
     * every hop's host passes the address policy (resolved if need be)
     * before anything is sent to it. For robots.txt and sitemaps, whose
     * redirects may leave the crawl's scope.
     */
    const getChecked = (
      url: string,
      maxRedirects: number,
      request: Omit<Http.RequestInput, "url" | "maxRedirects" | "followRedirect">
    ): Effect.Effect<Http.HttpResponse, HttpError.HttpError | AddressPolicy.Refused> =>
      Effect.gen(function*() {
        const chain = [url]
        let next = new URL(url)
        for (;;) {
          const verdict = yield* addresses.check(next)
          if (verdict._tag === "Refused") return yield* Effect.fail(verdict)
          const response = yield* http.request({ ...request, url: next, maxRedirects: false }).pipe(slot(next.host))
          const location = response.header("location")
          if (response.status < 300 || response.status >= 400 || location === undefined || !URL.canParse(location, response.url)) {
            return response
          }
          next = new URL(location, response.url)
          chain.push(next.href)
          if (chain.length > maxRedirects + 1) {
            return yield* Effect.fail(new HttpError.RedirectError({ method: "GET", url, attempt: 1, reason: "TooMany", chain }))
          }
        }
      })

    /** Fetches robots.txt (following up to 5 redirects) and turns the answer into a policy. */
    const download = (url: Url.Normalized): Effect.Effect<{ readonly status: number; readonly body: string }> =>
      getChecked(Robots.urlFor(url), Robots.maxRedirects, {
        acceptStatus: () => true,
        retry: { maxAttempts: 2 },
        maxBodyBytes: Robots.maxBytes * 2
      }).pipe(
        Effect.map((response) => ({ status: response.status, body: response.text })),
        // Unreachable, too many redirects, or redirected to a refused address: unavailable (RFC 9309 §2.3.1.4).
        Effect.catchAll(() => Effect.succeed({ status: 0, body: "" }))
      )

    const loadRobots = (url: Url.Normalized, origin: string): Effect.Effect<Robots.Agent> =>
      Effect.gen(function*() {
        const now = clock.unsafeCurrentTimeMillis()
        const cached = yield* frontier.getRobots(origin).pipe(Effect.orElseSucceed(() => Option.none()))
        if (Option.isSome(cached) && cached.value.expiresAt > now) {
          const agent = Robots.forAgent(Robots.fromResponse(cached.value.status === 0 ? "unreachable" : cached.value.status, cached.value.body), options.userAgent)
          remember(origin, agent, cached.value.expiresAt)
          return agent
        }
        const answer = yield* download(url)
        const policy = Robots.fromResponse(answer.status === 0 ? "unreachable" : answer.status, answer.body)
        const agent = Robots.forAgent(policy, options.userAgent)
        const expiresAt = clock.unsafeCurrentTimeMillis() + (agent.unavailable ? ROBOTS_RETRY_MS : ROBOTS_TTL_MS)
        yield* frontier.putRobots(origin, { status: answer.status, body: answer.body, fetchedAt: now, expiresAt }).pipe(
          Effect.catchAll((error) => Effect.logWarning(`could not cache robots.txt of ${origin}: ${error.message}`))
        )
        remember(origin, agent, expiresAt)
        return agent
      })

    /** The site's rules: from memory, else the database, else the site; one download per site at a time. */
    const agentFor = (url: Url.Normalized): Effect.Effect<Robots.Agent> =>
      Effect.suspend(() => {
        const origin = `${url.scheme}://${url.host}`
        const known = robots.get(origin)
        if (known !== undefined && (robotsExpires.get(origin) ?? 0) > clock.unsafeCurrentTimeMillis()) {
          return Effect.succeed(known)
        }
        const pending = loading.get(origin)
        if (pending !== undefined) return Deferred.await(pending)
        return Effect.gen(function*() {
          const deferred = yield* Deferred.make<Robots.Agent>()
          loading.set(origin, deferred)
          const agent = yield* loadRobots(url, origin).pipe(
            Effect.tap((agent) => applyAgent(url, agent)),
            Effect.onExit((exit) =>
              Effect.sync(() => {
                loading.delete(origin)
              }).pipe(Effect.zipRight(Deferred.done(deferred, exit)))
            )
          )
          return agent
        })
      })

    /**
     * For redirects, decided synchronously: only into scope, only to a host
     * the address policy already allows, and only where robots.txt is known
     * to allow. A hop not followed comes back as its 3xx; the crawler stores
     * its in-scope target as a link, fetched (and checked) in its turn.
     */
    const mayFollow = (_from: URL, to: URL): boolean => {
      const target = Url.normalize(to.href, normalizeOptions)
      if (Either.isLeft(target)) return false
      if (inScope(target.right) !== true) return false
      if (!mayConnect(to)) return false
      if (!options.robots) return true
      const agent = robots.get(`${target.right.scheme}://${target.right.host}`)
      return agent !== undefined && !agent.unavailable && Robots.isAllowed(agent, target.right.path)
    }

    /** Hosts that answered 429/503 lately, until when (for the progress display only). */
    const backoff = new Map<string, number>()
    const observe = (host: string, response: Http.HttpResponse): void => {
      const status = response.status
      if (status === 429 || status === 503) {
        const now = clock.unsafeCurrentTimeMillis()
        const asked = Retry.parseRetryAfter(response.headers["retry-after"], now)
        backoff.set(host, now + Math.max(asked ?? 0, 60_000))
      } else if (status < 400 && backoff.size > 0) {
        backoff.delete(host)
      }
    }
    const hostsInBackoff = (): number => {
      const now = clock.unsafeCurrentTimeMillis()
      for (const [host, until] of backoff) if (until <= now) backoff.delete(host)
      return backoff.size
    }

    const fetch = (url: Url.Normalized): Effect.Effect<Fetched> =>
      Effect.gen(function*() {
        // Before anything is sent to the host, robots.txt included.
        const verdict = yield* addresses.check(url)
        if (verdict._tag === "Refused") return { _tag: "Refused", refused: verdict } as const
        if (options.robots) {
          const agent = yield* agentFor(url)
          if (agent.unavailable) return { _tag: "RobotsUnavailable" } as const
          if (!Robots.isAllowed(agent, url.path)) return { _tag: "Disallowed" } as const
        }
        const started = yield* Clock.currentTimeMillis
        // Statuses are retried by the policy (503, 429 + Retry-After…); the last answer is recorded, whatever it is.
        return yield* http.request({ url: url.href, failOnStatus: false, followRedirect: mayFollow }).pipe(
          slot(url.host),
          Effect.map((response): Fetched => {
            observe(url.host, response)
            return { _tag: "Response", response, elapsedMs: clock.unsafeCurrentTimeMillis() - started }
          }),
          Effect.catchAll((error) =>
            Effect.succeed<Fetched>({ _tag: "Error", error, elapsedMs: clock.unsafeCurrentTimeMillis() - started })
          )
        )
      })

    // -- sitemaps -------------------------------------------------------------
    /** A sitemap index may name sitemaps on its own host or in the crawl's scope, nowhere else. */
    const mayReadChild = (index: string, child: string): boolean => {
      const normalized = Url.normalize(child, normalizeOptions)
      return Either.isRight(normalized) && (new URL(index).host === normalized.right.host || inScope(normalized.right) === true)
    }

    const sitemapLevel = (url: string, level: number): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function*() {
        if (!URL.canParse(url)) {
          yield* Effect.logWarning(`sitemap ${url}: not a URL; skipped`)
          return []
        }
        const response = yield* getChecked(url, 10, { maxBodyBytes: Sitemap.maxBytes }).pipe(
          Effect.tapError((error) => Effect.logWarning(`sitemap ${url}: ${error.message}; skipped`)),
          Effect.option
        )
        if (Option.isNone(response)) return []
        if (response.value.status >= 300) {
          yield* Effect.logWarning(`sitemap ${url}: HTTP ${response.value.status}; skipped`)
          return []
        }
        const parsed = Sitemap.parse(response.value.body, { url, normalize: normalizeOptions })
        if (Either.isLeft(parsed)) {
          yield* Effect.logWarning(`${parsed.left.message}; skipped`)
          return []
        }
        if (parsed.right.sitemaps.length === 0 || level >= 2) return parsed.right.urls
        const children = yield* Effect.forEach(
          parsed.right.sitemaps.filter((child) => mayReadChild(url, child)),
          (child) => sitemapLevel(child, level + 1),
          { concurrency: 4 }
        )
        return [...parsed.right.urls, ...children.flat()]
      })

    const sitemapsOf = (url: Url.Normalized): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function*() {
        const origin = `${url.scheme}://${url.host}`
        yield* agentFor(url)
        const cached = yield* frontier.getRobots(origin).pipe(Effect.orElseSucceed(() => Option.none()))
        if (Option.isNone(cached) || cached.value.status < 200 || cached.value.status >= 300) return []
        return Robots.parse(cached.value.body).sitemaps
      })

    return {
      fetch,
      sitemap: (url) => sitemapLevel(url, 0),
      sitemapsOf,
      hostsInBackoff
    }
  })

/**
 * The fetcher as a layer (see {@link make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options.Options,
  inScope: Url.Scope,
  normalizeOptions: Url.Options
): Layer.Layer<Fetcher, Http.SettingsError, Frontier> => Layer.scoped(Fetcher, make(options, inScope, normalizeOptions))
