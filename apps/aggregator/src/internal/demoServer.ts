/**
 * One simulated exchange's request handler: decides per request which fault
 * (if any) to inject — a forced one set by a test, the exchange's own rate
 * limit, or a seeded random draw — adds latency, and answers in the venue's
 * wire format. The HTTP side (sockets, latency timers, stalls, resets, the
 * request log) is `@fiberkit/testkit`'s TestServer; this module only builds
 * replies and remembers, per request, what it decided.
 *
 * @internal
 */
import type * as Route from "@fiberkit/testkit/Route"
import { splitSymbol } from "../Model.js"
import type { Market } from "./demoMarket.js"
import { Prng } from "./demoRandom.js"
import type { Venue, VenueContext } from "./demoVenues.js"

/** What the server did to a request besides answering it normally. */
export type FaultKind = "server_error" | "rate_limited" | "throttled" | "stall" | "reset" | "stale" | "outlier" | "slow"

/** A fault a test forces on every request (or the next few). */
export type Fault =
  | { readonly _tag: "Status"; readonly status: number; readonly retryAfter?: number | undefined }
  | { readonly _tag: "Stall" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Stale"; readonly ageMs?: number | undefined }
  | { readonly _tag: "Outlier"; readonly factor?: number | undefined }
  | { readonly _tag: "Slow"; readonly latencyMs: number }

/** Per-request probabilities of the random faults. */
export interface FaultRates {
  readonly error5xx: number
  readonly rateLimited: number
  readonly timeout: number
  readonly stale: number
  readonly outlier: number
}

export interface Latency {
  readonly min: number
  readonly max: number
}

export interface RateLimit {
  readonly perSecond: number
  readonly burst: number
}

/** What the handler decided for one request, joined later with the TestServer's record of it. */
export interface Decision {
  readonly fault: FaultKind | null
  readonly forced: boolean
  readonly latencyMs: number
}

export interface ServerSettings {
  readonly venue: Venue
  readonly market: Market
  /** Canonical symbols this exchange lists. */
  readonly symbols: ReadonlyArray<string>
  /** Seed of this exchange's fault and latency draws. */
  readonly seed: number
  readonly now: () => number
  readonly latency: Latency
  readonly rates: FaultRates
  readonly rateLimit: RateLimit | null
  readonly staleAgeMs: number
  readonly staleEpisodeMs: number
  readonly retryAfterSeconds: number
}

const SERVER_ERRORS = [500, 502, 503, 504] as const

/** Default size of a forced outlier: 5 % off. */
const FORCED_OUTLIER = 1.05

export class DemoHandler {
  private readonly venue: Venue
  private readonly market: Market
  private readonly now: () => number
  private readonly random: Prng
  private readonly listed: ReadonlyArray<string>
  private readonly bySpelling = new Map<string, string>()
  private latency: Latency
  private rates: FaultRates
  private rateLimit: RateLimit | null
  private tokens = 0
  private refilledAt = 0
  private forced: Fault | null = null
  /** Requests the forced fault still applies to; `Infinity` until cleared. */
  private forcedLeft = 0
  private staleAsOf = 0
  private staleUntil = -Infinity
  private readonly staleAgeMs: number
  private readonly staleEpisodeMs: number
  private readonly retryAfterSeconds: number
  /**
   * Decisions keyed by the request's header object, which the TestServer
   * also puts in its log record: the join survives a bounded log and
   * requests whose handler never ran.
   */
  readonly decisions = new WeakMap<object, Decision>()

  constructor(settings: ServerSettings) {
    this.venue = settings.venue
    this.market = settings.market
    this.now = settings.now
    this.random = new Prng(settings.seed)
    this.listed = settings.symbols
    this.latency = settings.latency
    this.rates = settings.rates
    this.rateLimit = settings.rateLimit
    this.staleAgeMs = settings.staleAgeMs
    this.staleEpisodeMs = settings.staleEpisodeMs
    this.retryAfterSeconds = settings.retryAfterSeconds
    for (const symbol of settings.symbols) {
      const split = splitSymbol(symbol)
      if (split === undefined) continue
      for (const spelling of this.venue.spellings(symbol, split[0], split[1])) this.bySpelling.set(spelling, symbol)
    }
    this.resetBucket()
  }

  force(fault: Fault | null, times: number): void {
    this.forced = fault
    this.forcedLeft = fault === null ? 0 : times
    if (fault?._tag === "Stale") this.staleAsOf = this.now() - (fault.ageMs ?? this.staleAgeMs)
  }

  setRates(rates: FaultRates): void {
    this.rates = rates
  }

  setLatency(latency: Latency): void {
    this.latency = latency
  }

  setRateLimit(limit: RateLimit | null): void {
    this.rateLimit = limit
    this.resetBucket()
  }

  /** Clears a forced fault and a random stale episode. */
  clear(): void {
    this.force(null, 0)
    this.staleUntil = -Infinity
  }

  readonly handle = (request: Route.IncomingRequest): Route.Reply => {
    const now = this.now()
    // Always the same number of draws, so the sequence depends only on the seed and the request count.
    const uFault = this.random.next()
    const uStale = this.random.next()
    const uOutlier = this.random.next()
    const uOutlierSize = this.random.next()
    const uLatency = this.random.next()
    const uStatus = this.random.next()

    let latencyMs = this.latency.min + uLatency * (this.latency.max - this.latency.min)
    const decide = (fault: FaultKind | null, forced: boolean, reply: Route.Reply): Route.Reply => {
      const stalls = reply.fault?._tag === "StallBeforeHeaders"
      this.decisions.set(request.headers, { fault, forced, latencyMs: stalls ? 0 : latencyMs })
      return stalls ? reply : { ...reply, latency: latencyMs }
    }

    const forced = this.takeForced()
    let quotedAt = now
    let outlier = 1
    let kind: FaultKind | null = null
    if (forced !== null) {
      switch (forced._tag) {
        case "Status":
          return decide(
            forced.status === 429 ? "rate_limited" : "server_error",
            true,
            forced.status === 429
              ? this.venue.rateLimited(forced.retryAfter ?? this.retryAfterSeconds, now)
              : this.venue.serverError(forced.status, now)
          )
        case "Stall":
          return decide("stall", true, { fault: { _tag: "StallBeforeHeaders" } })
        case "Reset":
          return decide("reset", true, { fault: { _tag: "ResetBeforeHeaders" } })
        case "Slow":
          latencyMs = forced.latencyMs
          kind = "slow"
          break
        case "Stale":
          quotedAt = this.staleAsOf
          kind = "stale"
          break
        case "Outlier":
          outlier = forced.factor ?? FORCED_OUTLIER
          kind = "outlier"
          break
      }
      return decide(kind, true, this.answer(request, now, quotedAt, outlier))
    }

    const wait = this.takeToken(now)
    if (wait > 0) return decide("throttled", false, this.venue.rateLimited(wait, now))

    const rates = this.rates
    if (uFault < rates.timeout) return decide("stall", false, { fault: { _tag: "StallBeforeHeaders" } })
    if (uFault < rates.timeout + rates.error5xx) {
      const status = SERVER_ERRORS[Math.floor(uStatus * SERVER_ERRORS.length)] ?? 503
      return decide("server_error", false, this.venue.serverError(status, now))
    }
    if (uFault < rates.timeout + rates.error5xx + rates.rateLimited) {
      return decide("rate_limited", false, this.venue.rateLimited(this.retryAfterSeconds, now))
    }
    if (now >= this.staleUntil && uStale < rates.stale) {
      // A stuck feed: for a while every answer is the same old snapshot.
      this.staleAsOf = now - this.staleAgeMs
      this.staleUntil = now + this.staleEpisodeMs
    }
    if (now < this.staleUntil) {
      quotedAt = this.staleAsOf
      kind = "stale"
    } else if (uOutlier < rates.outlier) {
      const size = 0.03 + ((uOutlierSize * 2) % 1) * 0.05
      outlier = uOutlierSize < 0.5 ? 1 - size : 1 + size
      kind = "outlier"
    }
    return decide(kind, false, this.answer(request, now, quotedAt, outlier))
  }

  private answer(request: Route.IncomingRequest, now: number, quotedAt: number, outlier: number): Route.Reply {
    const context: VenueContext = {
      listed: this.listed,
      lookup: (spelling) => this.bySpelling.get(spelling),
      tick: (symbol) => this.market.tick(this.venue.id, symbol, quotedAt, outlier),
      now,
      quotedAt
    }
    return this.venue.handle(request, context)
  }

  private takeForced(): Fault | null {
    if (this.forced === null) return null
    const fault = this.forced
    this.forcedLeft--
    if (this.forcedLeft <= 0) {
      this.forced = null
      this.forcedLeft = 0
    }
    return fault
  }

  private resetBucket(): void {
    this.tokens = this.rateLimit?.burst ?? 0
    this.refilledAt = this.now()
  }

  /** Takes a token of the exchange's own rate limit: 0 when allowed, else the seconds to wait. */
  private takeToken(now: number): number {
    const limit = this.rateLimit
    if (limit === null) return 0
    this.tokens = Math.min(limit.burst, this.tokens + ((now - this.refilledAt) / 1000) * limit.perSecond)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / limit.perSecond))
  }
}
