/**
 * Retry policy for HTTP calls: exponential backoff with jitter and a cap, a
 * bound on attempts and on elapsed time, and `Retry-After` honoured in both of
 * its forms (delta-seconds and HTTP-date).
 *
 * The decision logic is a pure function ({@link decide}) so it can be tested
 * without IO; {@link schedule} wraps it as an Effect `Schedule` for use with
 * `Effect.retry` on anything that fails with an {@link HttpError.HttpError}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@fiberkit/core"
 *
 * // retry any HttpError-failing effect with the default policy
 * const robust = (fetchPrice: Effect.Effect<number, HttpError.HttpError>) =>
 *   Effect.retry(fetchPrice, Retry.schedule(Retry.defaults))
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import type * as HttpError from "./HttpError.js"

/**
 * A retry policy. Durations are in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Total attempts, the first included. `1` disables retries. Default `4` (three retries). */
  readonly maxAttempts: number
  /** Delay before the first retry. Default `250`. */
  readonly baseDelayMs: number
  /** Upper bound of a single backoff delay. Default `30_000`. */
  readonly maxDelayMs: number
  /** Growth factor between consecutive delays. Default `2`. */
  readonly factor: number
  /**
   * Fraction of each delay that is randomised: the delay is drawn uniformly
   * from `[d × (1 − jitter), d]`. `0` is deterministic. Default `0.5`.
   */
  readonly jitter: number
  /** No retry is started once this much time has passed since the first attempt. Default `120_000`. */
  readonly maxElapsedMs: number
  /** Statuses that are retried. Default `408, 425, 429, 500, 502, 503, 504`. */
  readonly statuses: ReadonlyArray<number>
  /** Retry timeouts (every phase except the overall deadline). Default `true`. */
  readonly onTimeout: boolean
  /** Retry transport failures (DNS, connect, reset, truncated bodies). Default `true`. */
  readonly onTransport: boolean
  /**
   * Retry a response whose body cannot be decoded (bad encoding, bad JSON, a
   * `Schema` mismatch) — for upstreams that sometimes send a truncated or
   * half-written document with a 200. Default `false`: a decode failure is
   * usually a contract mismatch that a retry will not fix.
   */
  readonly onDecode: boolean
  /**
   * Retry methods that are not idempotent (POST, PATCH). Default `false`:
   * they are retried only when they carry an `Idempotency-Key` header.
   */
  readonly nonIdempotent: boolean
  /** Wait as long as a `Retry-After` header asks (on any retried status). Default `true`. */
  readonly honorRetryAfter: boolean
  /**
   * Longest `Retry-After` honoured. A server asking for more is not retried
   * (the error says so): waiting less than asked would be impolite and likely
   * fail again. Default `60_000`.
   */
  readonly maxRetryAfterMs: number
}

/**
 * The default policy (see each field of {@link Policy}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Policy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
  maxElapsedMs: 120_000,
  statuses: [408, 425, 429, 500, 502, 503, 504],
  onTimeout: true,
  onTransport: true,
  onDecode: false,
  nonIdempotent: false,
  honorRetryAfter: true,
  maxRetryAfterMs: 60_000
}

/**
 * A policy that never retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: Policy = { ...defaults, maxAttempts: 1 }

/**
 * Overrides for a policy; durations accept any `Duration` input.
 *
 * @since 0.1.0
 * @category models
 */
export interface Overrides {
  readonly maxAttempts?: number | undefined
  readonly baseDelay?: Duration.DurationInput | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly jitter?: number | undefined
  readonly maxElapsed?: Duration.DurationInput | undefined
  readonly statuses?: ReadonlyArray<number> | undefined
  readonly onTimeout?: boolean | undefined
  readonly onTransport?: boolean | undefined
  readonly onDecode?: boolean | undefined
  readonly nonIdempotent?: boolean | undefined
  readonly honorRetryAfter?: boolean | undefined
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

const ms = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

/**
 * Applies overrides to a policy.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOverrides = (policy: Policy, o: Overrides): Policy => ({
  maxAttempts: o.maxAttempts ?? policy.maxAttempts,
  baseDelayMs: ms(o.baseDelay, policy.baseDelayMs),
  maxDelayMs: ms(o.maxDelay, policy.maxDelayMs),
  factor: o.factor ?? policy.factor,
  jitter: o.jitter ?? policy.jitter,
  maxElapsedMs: ms(o.maxElapsed, policy.maxElapsedMs),
  statuses: o.statuses ?? policy.statuses,
  onTimeout: o.onTimeout ?? policy.onTimeout,
  onTransport: o.onTransport ?? policy.onTransport,
  onDecode: o.onDecode ?? policy.onDecode,
  nonIdempotent: o.nonIdempotent ?? policy.nonIdempotent,
  honorRetryAfter: o.honorRetryAfter ?? policy.honorRetryAfter,
  maxRetryAfterMs: ms(o.maxRetryAfter, policy.maxRetryAfterMs)
})

/**
 * Checks a policy, returning a description of the first invalid field.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (p: Policy): string | undefined => {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) return `retry.maxAttempts must be an integer >= 1, got ${p.maxAttempts}`
  if (!(p.baseDelayMs >= 0)) return `retry.baseDelay must be >= 0, got ${p.baseDelayMs} ms`
  if (!(p.maxDelayMs >= p.baseDelayMs)) return `retry.maxDelay (${p.maxDelayMs} ms) must be >= retry.baseDelay (${p.baseDelayMs} ms)`
  if (!(p.factor >= 1)) return `retry.factor must be >= 1, got ${p.factor}`
  if (!(p.jitter >= 0 && p.jitter <= 1)) return `retry.jitter must be within [0, 1], got ${p.jitter}`
  if (!(p.maxElapsedMs >= 0)) return `retry.maxElapsed must be >= 0, got ${p.maxElapsedMs} ms`
  if (!(p.maxRetryAfterMs >= 0)) return `retry.maxRetryAfter must be >= 0, got ${p.maxRetryAfterMs} ms`
  return undefined
}

/**
 * Parses a `Retry-After` header value into a delay in milliseconds: either
 * delta-seconds (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`),
 * relative to `nowMs`. A date in the past gives `0`. Anything else gives
 * `undefined`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseRetryAfter = (value: string | ReadonlyArray<string> | undefined, nowMs: number): number | undefined => {
  const raw = typeof value === "string" ? value : value?.[0]
  if (raw === undefined) return undefined
  const text = raw.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = parseHttpDate(text)
  return at === undefined ? undefined : Math.max(0, at - nowMs)
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11
}
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms. All are GMT.
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
const RFC_850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
const ASCTIME = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7) strictly, in any of its three forms,
 * as GMT. Returns epoch milliseconds, or `undefined` for anything else
 * (`Date.parse` would accept far more, and read asctime as local time).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHttpDate = (text: string): number | undefined => {
  let day: string, month: string, year: number, h: string, m: string, s: string
  let match = IMF_FIXDATE.exec(text)
  if (match !== null) {
    ;[, day = "", month = "", , h = "", m = "", s = ""] = match
    year = Number(match[3])
  } else if ((match = RFC_850.exec(text)) !== null) {
    ;[, day = "", month = "", , h = "", m = "", s = ""] = match
    // Two-digit years: RFC 9110 says a year more than 50 years ahead is in the past century.
    const yy = Number(match[3])
    const thisYear = new Date().getUTCFullYear()
    year = 2000 + yy > thisYear + 50 ? 1900 + yy : 2000 + yy
  } else if ((match = ASCTIME.exec(text)) !== null) {
    ;[, month = "", day = "", h = "", m = "", s = ""] = match
    year = Number(match[6])
  } else {
    return undefined
  }
  const monthIndex = MONTHS[month.toLowerCase()]
  if (monthIndex === undefined) return undefined
  const at = Date.UTC(year, monthIndex, Number(day.trim()), Number(h), Number(m), Number(s))
  return Number.isNaN(at) ? undefined : at
}

/**
 * The backoff delay before retry number `retry` (1 for the first retry),
 * given a uniform random number in `[0, 1)`.
 *
 * @since 0.1.0
 * @category decisions
 */
export const backoff = (policy: Policy, retry: number, random: number): number => {
  const exp = policy.baseDelayMs * Math.pow(policy.factor, Math.max(0, retry - 1))
  const capped = Math.min(policy.maxDelayMs, exp)
  return Math.round(capped * (1 - policy.jitter * random))
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])

/**
 * Whether a request may be repeated without changing the outcome: an
 * idempotent method (RFC 9110 §9.2.2), or any request carrying an
 * `Idempotency-Key` header.
 *
 * @since 0.1.0
 * @category decisions
 */
export const isIdempotent = (method: string, headers?: Readonly<Record<string, string>>): boolean => {
  if (IDEMPOTENT.has(method.toUpperCase())) return true
  if (headers === undefined) return false
  if (headers["idempotency-key"] !== undefined) return true
  for (const name in headers) if (name.toLowerCase() === "idempotency-key") return true
  return false
}

/**
 * What {@link decide} needs to know about a failed attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure {
  /** The attempt that just failed, 1-based. */
  readonly attempt: number
  readonly error: HttpError.HttpError
  readonly idempotent: boolean
  /** Time since the first attempt started. */
  readonly elapsedMs: number
  /** Time left until the overall deadline, if there is one. */
  readonly remainingMs?: number | undefined
  readonly nowMs: number
  /** A uniform random number in `[0, 1)` for the jitter. */
  readonly random: number
}

/**
 * The outcome of {@link decide}.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly _tag: "Retry"; readonly delayMs: number; readonly retryAfter: boolean }
  | { readonly _tag: "Stop"; readonly reason: string }

const stop = (reason: string): Decision => ({ _tag: "Stop", reason })

/**
 * Whether the error kind is one the policy retries at all (ignoring attempt
 * counts and time).
 *
 * @since 0.1.0
 * @category decisions
 */
export const isRetryable = (policy: Policy, error: HttpError.HttpError): boolean => {
  switch (error._tag) {
    case "StatusError":
      return policy.statuses.includes(error.status)
    case "TimeoutError":
      return policy.onTimeout && error.phase !== "deadline"
    case "TransportError":
      return policy.onTransport
    case "DecodeError":
      return policy.onDecode
    default:
      return false
  }
}

/**
 * Decides whether and when to retry a failed attempt. Pure.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (policy: Policy, f: Failure): Decision => {
  if (!isRetryable(policy, f.error)) return stop("not retryable")
  if (!f.idempotent && !policy.nonIdempotent) {
    return stop(`${f.error.method} is not idempotent (set retry.nonIdempotent or send an Idempotency-Key header)`)
  }
  if (f.attempt >= policy.maxAttempts) return stop(`${policy.maxAttempts} attempts made`)
  let delayMs = backoff(policy, f.attempt, f.random)
  let retryAfter = false
  if (policy.honorRetryAfter && f.error._tag === "StatusError") {
    const asked = parseRetryAfter(f.error.headers["retry-after"], f.nowMs)
    if (asked !== undefined) {
      if (asked > policy.maxRetryAfterMs) {
        return stop(`Retry-After asks for ${asked} ms, more than retry.maxRetryAfter (${policy.maxRetryAfterMs} ms)`)
      }
      delayMs = asked
      retryAfter = true
    }
  }
  if (f.elapsedMs + delayMs > policy.maxElapsedMs) {
    return stop(`retrying after ${delayMs} ms would exceed retry.maxElapsed (${policy.maxElapsedMs} ms)`)
  }
  if (f.remainingMs !== undefined && delayMs >= f.remainingMs) {
    return stop(`retrying after ${delayMs} ms would pass the overall deadline`)
  }
  return { _tag: "Retry", delayMs, retryAfter }
}

/**
 * The policy as a `Schedule` over {@link HttpError.HttpError} inputs, for
 * `Effect.retry`. It outputs the delay it chose; `Retry-After` is read from
 * `StatusError` headers. The effect retried is assumed idempotent: use it only
 * for requests that are safe to repeat.
 *
 * @since 0.1.0
 * @category schedules
 */
export const schedule = (policy: Policy): Schedule.Schedule<number, HttpError.HttpError> =>
  Schedule.makeWithState<
    { readonly attempt: number; readonly startedAt: number | undefined },
    HttpError.HttpError,
    number,
    never
  >({ attempt: 1, startedAt: undefined }, (now, error, state) =>
    Effect.map(Random.next, (random) => {
      const startedAt = state.startedAt ?? now
      const decision = decide(policy, {
        attempt: state.attempt,
        error,
        idempotent: true,
        elapsedMs: now - startedAt,
        nowMs: now,
        random
      })
      const next = { attempt: state.attempt + 1, startedAt }
      return decision._tag === "Retry"
        ? [next, decision.delayMs, ScheduleDecision.continueWith(Interval.after(now + decision.delayMs))] as const
        : [next, 0, ScheduleDecision.done] as const
    }))
