import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as HttpError from "../src/HttpError.js"
import * as Retry from "../src/Retry.js"

const ctx = { method: "GET", url: "http://127.0.0.1:1/x", attempt: 1 }

const status = (code: number, headers: Record<string, string> = {}, method = "GET") =>
  new HttpError.StatusError({ ...ctx, method, status: code, headers, bodyExcerpt: "" })

const transportError = (method = "GET") =>
  new HttpError.TransportError({ ...ctx, method, phase: "connect", code: "ECONNREFUSED", cause: new Error("refused") })

const timeout = (phase: HttpError.TimeoutPhase) => new HttpError.TimeoutError({ ...ctx, phase, timeoutMs: 100 })

/** A deterministic policy: no jitter, 100 ms doubling up to 1 s. */
const fixed: Retry.Policy = { ...Retry.defaults, baseDelayMs: 100, maxDelayMs: 1_000, jitter: 0 }

const failure = (error: HttpError.HttpError, over: Partial<Retry.Failure> = {}): Retry.Failure => ({
  attempt: 1,
  error,
  idempotent: true,
  elapsedMs: 0,
  nowMs: 1_000_000,
  random: 0,
  ...over
})

/** Runs `f` with the process time zone set to `tz` (Node re-reads TZ on assignment). */
const inTimeZone = <A>(tz: string, f: () => A): A => {
  const previous = process.env.TZ
  process.env.TZ = tz
  try {
    return f()
  } finally {
    if (previous === undefined) delete process.env.TZ
    else process.env.TZ = previous
  }
}

describe("Retry.parseRetryAfter", () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 0) // 1994-11-06T08:49:00Z

  it("reads delta-seconds, trimmed", () => {
    expect(Retry.parseRetryAfter("120", now)).toBe(120_000)
    expect(Retry.parseRetryAfter("  3 ", now)).toBe(3_000)
    expect(Retry.parseRetryAfter("0", now)).toBe(0)
  })

  it("reads an IMF-fixdate relative to now", () => {
    expect(Retry.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now)).toBe(37_000)
  })

  it("reads the obsolete RFC 850 form", () => {
    expect(Retry.parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now)).toBe(37_000)
  })

  it("reads the obsolete asctime form as GMT", () => {
    expect(Retry.parseRetryAfter("Sun Nov  6 08:49:37 1994", now)).toBe(37_000)
  })

  // RFC 9110 §5.6.7: asctime dates carry no zone and are in GMT. Date.parse
  // reads a zoneless date as local time, so off-UTC hosts get it wrong.
  it("reads the asctime form as GMT whatever the local time zone", () => {
    expect(inTimeZone("America/New_York", () => Retry.parseRetryAfter("Sun Nov  6 08:49:37 1994", now))).toBe(37_000)
    expect(inTimeZone("Asia/Tokyo", () => Retry.parseRetryAfter("Sun Nov  6 08:49:37 1994", now))).toBe(37_000)
  })

  it("gives 0 for a date in the past", () => {
    expect(Retry.parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now)).toBe(0)
    expect(Retry.parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", now)).toBe(0)
  })

  it("gives undefined for garbage, fractions, negatives and absence", () => {
    for (const value of ["", "   ", "soon", "1.5", "-1", "1e3", "2 hours", "Tue, 99 Foo 2020 GMT"]) {
      expect(Retry.parseRetryAfter(value, now), value).toBeUndefined()
    }
    expect(Retry.parseRetryAfter(undefined, now)).toBeUndefined()
    expect(Retry.parseRetryAfter([], now)).toBeUndefined()
  })

  // The documented contract is "anything else gives undefined"; V8's lenient
  // Date.parse turns words followed by a number into a date in 2001 (so "0 ms").
  it("gives undefined for words followed by a number", () => {
    for (const value of ["later 5", "next 3", "tomorrow 9"]) {
      expect(Retry.parseRetryAfter(value, now), value).toBeUndefined()
    }
  })

  it("uses the first value of a repeated header", () => {
    expect(Retry.parseRetryAfter(["7", "100"], now)).toBe(7_000)
    expect(Retry.parseRetryAfter(["Sun, 06 Nov 1994 08:49:10 GMT", "1"], now)).toBe(10_000)
  })
})

describe("Retry.backoff", () => {
  it("grows by the factor from baseDelay and caps at maxDelay", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => Retry.backoff(fixed, n, 0))).toEqual([100, 200, 400, 800, 1_000, 1_000])
    const triple: Retry.Policy = { ...fixed, factor: 3, maxDelayMs: 10_000 }
    expect([1, 2, 3].map((n) => Retry.backoff(triple, n, 0))).toEqual([100, 300, 900])
  })

  it("treats retry numbers below 1 as the first retry", () => {
    expect(Retry.backoff(fixed, 0, 0)).toBe(100)
  })

  it("randomises within [(1 - jitter) × delay, delay]", () => {
    const p: Retry.Policy = { ...fixed, jitter: 0.5 }
    expect(Retry.backoff(p, 3, 0)).toBe(400)
    expect(Retry.backoff(p, 3, 0.999_999)).toBe(200)
    expect(Retry.backoff(p, 3, 0.5)).toBe(300)
    const full: Retry.Policy = { ...fixed, jitter: 1 }
    expect(Retry.backoff(full, 3, 0.999_999)).toBe(0)
  })

  it("is deterministic with jitter 0", () => {
    expect(Retry.backoff(fixed, 2, 0.123)).toBe(200)
    expect(Retry.backoff(fixed, 2, 0.987)).toBe(200)
  })

  it.prop(
    "always lies within [(1 - jitter) · min(max, base · f^(n-1)), min(max, base · f^(n-1))]",
    {
      base: FastCheck.integer({ min: 0, max: 5_000 }),
      extra: FastCheck.integer({ min: 0, max: 100_000 }),
      factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
      jitter: FastCheck.double({ min: 0, max: 1, noNaN: true }),
      retry: FastCheck.integer({ min: 1, max: 40 }),
      random: FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
    },
    ({ base, extra, factor, jitter, random, retry }) => {
      const policy: Retry.Policy = { ...Retry.defaults, baseDelayMs: base, maxDelayMs: base + extra, factor, jitter }
      const ceiling = Math.min(policy.maxDelayMs, base * Math.pow(factor, retry - 1))
      const delay = Retry.backoff(policy, retry, random)
      // backoff rounds to whole milliseconds
      expect(delay).toBeGreaterThanOrEqual(Math.floor((1 - jitter) * ceiling))
      expect(delay).toBeLessThanOrEqual(Math.ceil(ceiling))
      expect(delay).toBeLessThanOrEqual(policy.maxDelayMs)
    }
  )

  it.prop(
    "never shrinks from one retry to the next without jitter",
    { base: FastCheck.integer({ min: 1, max: 1_000 }), factor: FastCheck.double({ min: 1, max: 3, noNaN: true }), retry: FastCheck.integer({ min: 1, max: 30 }) },
    ({ base, factor, retry }) => {
      const policy: Retry.Policy = { ...fixed, baseDelayMs: base, maxDelayMs: 60_000, factor }
      expect(Retry.backoff(policy, retry + 1, 0)).toBeGreaterThanOrEqual(Retry.backoff(policy, retry, 0))
    }
  )
})

describe("Retry.isIdempotent", () => {
  it("accepts the idempotent methods of RFC 9110 and nothing else", () => {
    for (const m of ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]) expect(Retry.isIdempotent(m), m).toBe(true)
    for (const m of ["POST", "PATCH", "CONNECT"]) expect(Retry.isIdempotent(m), m).toBe(false)
  })

  it("accepts any request carrying an Idempotency-Key", () => {
    expect(Retry.isIdempotent("POST", { "idempotency-key": "k1" })).toBe(true)
    expect(Retry.isIdempotent("POST", { "content-type": "application/json" })).toBe(false)
  })

  // Header names are case-insensitive; the function is public and documented
  // as "any request carrying an Idempotency-Key header".
  it("finds the Idempotency-Key whatever its case", () => {
    expect(Retry.isIdempotent("POST", { "Idempotency-Key": "k1" })).toBe(true)
  })
})

describe("Retry.decide", () => {
  it("never retries kinds that cannot get better", () => {
    const errors: Array<HttpError.HttpError> = [
      new HttpError.InvalidUrl({ ...ctx, attempt: 0, reason: "bad" }),
      new HttpError.InvalidRequest({ ...ctx, attempt: 0, reason: "bad" }),
      new HttpError.BodyTooLarge({ ...ctx, limit: 1, received: 2, stage: "received" }),
      new HttpError.DecodeError({ ...ctx, reason: "Json", path: [], detail: "bad" }),
      new HttpError.RedirectError({ ...ctx, reason: "Loop", chain: ["a", "b", "a"] }),
      timeout("deadline")
    ]
    for (const error of errors) {
      expect(Retry.isRetryable(fixed, error), error._tag).toBe(false)
      expect(Retry.decide(fixed, failure(error)), error._tag).toEqual({ _tag: "Stop", reason: "not retryable" })
    }
  })

  it("retries the configured statuses only", () => {
    for (const code of [408, 425, 429, 500, 502, 503, 504]) {
      expect(Retry.decide(fixed, failure(status(code))), String(code)).toEqual({ _tag: "Retry", delayMs: 100, retryAfter: false })
    }
    for (const code of [400, 401, 403, 404, 409, 501]) {
      expect(Retry.decide(fixed, failure(status(code)))._tag, String(code)).toBe("Stop")
    }
    const custom: Retry.Policy = { ...fixed, statuses: [404] }
    expect(Retry.decide(custom, failure(status(404)))._tag).toBe("Retry")
    expect(Retry.decide(custom, failure(status(503)))._tag).toBe("Stop")
  })

  it("retries timeouts of every phase but the deadline, unless onTimeout is off", () => {
    for (const phase of ["connect", "headers", "body", "attempt"] as const) {
      expect(Retry.decide(fixed, failure(timeout(phase)))._tag, phase).toBe("Retry")
      expect(Retry.decide({ ...fixed, onTimeout: false }, failure(timeout(phase)))._tag, phase).toBe("Stop")
    }
  })

  it("retries transport failures unless onTransport is off", () => {
    expect(Retry.decide(fixed, failure(transportError()))._tag).toBe("Retry")
    expect(Retry.decide({ ...fixed, onTransport: false }, failure(transportError()))).toEqual({
      _tag: "Stop",
      reason: "not retryable"
    })
  })

  it("stops a non-idempotent request unless nonIdempotent is set", () => {
    const post = failure(status(503, {}, "POST"), { idempotent: false })
    const stopped = Retry.decide(fixed, post)
    expect(stopped._tag).toBe("Stop")
    expect(stopped._tag === "Stop" && stopped.reason).toContain("POST is not idempotent")
    expect(Retry.decide({ ...fixed, nonIdempotent: true }, post)._tag).toBe("Retry")
    // A POST with an Idempotency-Key is idempotent for the caller of decide.
    const keyed = failure(status(503, {}, "POST"), {
      idempotent: Retry.isIdempotent("POST", { "idempotency-key": "k" })
    })
    expect(Retry.decide(fixed, keyed)._tag).toBe("Retry")
  })

  it("stops once maxAttempts attempts were made", () => {
    const p: Retry.Policy = { ...fixed, maxAttempts: 3 }
    expect(Retry.decide(p, failure(status(503), { attempt: 1 }))).toEqual({ _tag: "Retry", delayMs: 100, retryAfter: false })
    expect(Retry.decide(p, failure(status(503), { attempt: 2 }))).toEqual({ _tag: "Retry", delayMs: 200, retryAfter: false })
    expect(Retry.decide(p, failure(status(503), { attempt: 3 }))).toEqual({ _tag: "Stop", reason: "3 attempts made" })
    expect(Retry.decide(Retry.none, failure(status(503)))._tag).toBe("Stop")
  })

  it("waits what Retry-After asks instead of the backoff", () => {
    expect(Retry.decide(fixed, failure(status(503, { "retry-after": "7" })))).toEqual({
      _tag: "Retry",
      delayMs: 7_000,
      retryAfter: true
    })
    const now = Date.UTC(2024, 0, 1, 12, 0, 0)
    expect(Retry.decide(fixed, failure(status(429, { "retry-after": "Mon, 01 Jan 2024 12:00:02 GMT" }), { nowMs: now })))
      .toEqual({ _tag: "Retry", delayMs: 2_000, retryAfter: true })
    // An unparseable value falls back to the backoff.
    expect(Retry.decide(fixed, failure(status(503, { "retry-after": "soon" })))).toEqual({
      _tag: "Retry",
      delayMs: 100,
      retryAfter: false
    })
  })

  it("ignores Retry-After when honorRetryAfter is off", () => {
    expect(Retry.decide({ ...fixed, honorRetryAfter: false }, failure(status(503, { "retry-after": "7" })))).toEqual({
      _tag: "Retry",
      delayMs: 100,
      retryAfter: false
    })
  })

  it("stops with a reason when Retry-After asks for more than maxRetryAfter", () => {
    const decision = Retry.decide({ ...fixed, maxRetryAfterMs: 5_000 }, failure(status(429, { "retry-after": "6" })))
    expect(decision._tag).toBe("Stop")
    expect(decision._tag === "Stop" && decision.reason).toContain("Retry-After asks for 6000 ms")
    expect(Retry.decide({ ...fixed, maxRetryAfterMs: 6_000 }, failure(status(429, { "retry-after": "6" })))._tag).toBe(
      "Retry"
    )
  })

  it("stops when the delay would pass maxElapsed", () => {
    const p: Retry.Policy = { ...fixed, maxElapsedMs: 1_000 }
    expect(Retry.decide(p, failure(status(503), { elapsedMs: 900 }))._tag).toBe("Retry")
    const late = Retry.decide(p, failure(status(503), { elapsedMs: 901 }))
    expect(late._tag).toBe("Stop")
    expect(late._tag === "Stop" && late.reason).toContain("retry.maxElapsed")
  })

  it("stops when the delay would reach the overall deadline", () => {
    expect(Retry.decide(fixed, failure(status(503), { remainingMs: 101 }))._tag).toBe("Retry")
    const late = Retry.decide(fixed, failure(status(503), { remainingMs: 100 }))
    expect(late._tag).toBe("Stop")
    expect(late._tag === "Stop" && late.reason).toContain("deadline")
    expect(Retry.decide(fixed, failure(status(503, { "retry-after": "2" }), { remainingMs: 1_500 }))._tag).toBe("Stop")
  })

  it.prop(
    "a Retry decision never exceeds maxDelay, maxRetryAfter or the remaining budget",
    {
      attempt: FastCheck.integer({ min: 1, max: 10 }),
      elapsed: FastCheck.integer({ min: 0, max: 200_000 }),
      remaining: FastCheck.option(FastCheck.integer({ min: 0, max: 200_000 }), { nil: undefined }),
      retryAfter: FastCheck.option(FastCheck.integer({ min: 0, max: 120 }), { nil: undefined }),
      random: FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
    },
    ({ attempt, elapsed, random, remaining, retryAfter }) => {
      const headers: Record<string, string> = retryAfter === undefined ? {} : { "retry-after": String(retryAfter) }
      const decision = Retry.decide(
        Retry.defaults,
        failure(status(503, headers), { attempt, elapsedMs: elapsed, remainingMs: remaining, random })
      )
      if (decision._tag === "Retry") {
        expect(attempt).toBeLessThan(Retry.defaults.maxAttempts)
        expect(elapsed + decision.delayMs).toBeLessThanOrEqual(Retry.defaults.maxElapsedMs)
        if (remaining !== undefined) expect(decision.delayMs).toBeLessThan(remaining)
        if (decision.retryAfter) expect(decision.delayMs).toBeLessThanOrEqual(Retry.defaults.maxRetryAfterMs)
        else expect(decision.delayMs).toBeLessThanOrEqual(Retry.defaults.maxDelayMs)
      }
    }
  )
})

describe("Retry.withOverrides and validate", () => {
  it("applies Duration inputs and keeps what is not overridden", () => {
    const p = Retry.withOverrides(Retry.defaults, {
      baseDelay: "2 seconds",
      maxDelay: Duration.minutes(1),
      maxElapsed: 5_000,
      maxRetryAfter: "90 seconds",
      maxAttempts: 6,
      statuses: [503]
    })
    expect(p).toEqual({
      ...Retry.defaults,
      baseDelayMs: 2_000,
      maxDelayMs: 60_000,
      maxElapsedMs: 5_000,
      maxRetryAfterMs: 90_000,
      maxAttempts: 6,
      statuses: [503]
    })
    expect(Retry.withOverrides(Retry.defaults, {})).toEqual(Retry.defaults)
    expect(Retry.withOverrides(fixed, { jitter: 0.25, nonIdempotent: true, onTimeout: false })).toEqual({
      ...fixed,
      jitter: 0.25,
      nonIdempotent: true,
      onTimeout: false
    })
  })

  it("accepts the defaults and reports the first invalid field", () => {
    expect(Retry.validate(Retry.defaults)).toBeUndefined()
    expect(Retry.validate(Retry.none)).toBeUndefined()
    const cases: Array<[Partial<Retry.Policy>, string]> = [
      [{ maxAttempts: 0 }, "retry.maxAttempts"],
      [{ maxAttempts: 1.5 }, "retry.maxAttempts"],
      [{ baseDelayMs: -1 }, "retry.baseDelay"],
      [{ baseDelayMs: Number.NaN }, "retry.baseDelay"],
      [{ baseDelayMs: 500, maxDelayMs: 100 }, "retry.maxDelay"],
      [{ factor: 0.5 }, "retry.factor"],
      [{ jitter: 1.5 }, "retry.jitter"],
      [{ jitter: -0.1 }, "retry.jitter"],
      [{ maxElapsedMs: -1 }, "retry.maxElapsed"],
      [{ maxRetryAfterMs: -1 }, "retry.maxRetryAfter"]
    ]
    for (const [over, field] of cases) {
      expect(Retry.validate({ ...Retry.defaults, ...over }), JSON.stringify(over)).toMatch(new RegExp(`^${field} `))
    }
  })
})

describe("Retry.schedule", () => {
  /** Fails with `errors` in order, then succeeds with the attempt count; records attempt times. */
  const scripted = (errors: ReadonlyArray<HttpError.HttpError>) =>
    Effect.gen(function*() {
      const times = yield* Ref.make<ReadonlyArray<number>>([])
      const attempt = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const seen = yield* Ref.updateAndGet(times, (t) => [...t, now])
        const error = errors[seen.length - 1]
        return error === undefined ? seen.length : yield* Effect.fail(error)
      })
      return { attempt, times }
    })

  it.effect("waits exactly what Retry-After asks before each retry", () =>
    Effect.gen(function*() {
      const busy = status(503, { "retry-after": "3" })
      const { attempt, times } = yield* scripted([busy, busy])
      const fiber = yield* Effect.fork(Effect.retry(attempt, Retry.schedule(Retry.defaults)))
      yield* TestClock.adjust(2_999)
      expect(yield* Ref.get(times)).toEqual([0])
      yield* TestClock.adjust(1)
      expect(yield* Ref.get(times)).toEqual([0, 3_000])
      yield* TestClock.adjust(2_999)
      expect(yield* Ref.get(times)).toEqual([0, 3_000])
      yield* TestClock.adjust(1)
      expect(yield* Fiber.join(fiber)).toBe(3)
      expect(yield* Ref.get(times)).toEqual([0, 3_000, 6_000])
    }))

  it.effect("uses the backoff when there is no Retry-After", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* scripted([status(502), status(502)])
      const fiber = yield* Effect.fork(Effect.retry(attempt, Retry.schedule(fixed)))
      yield* TestClock.adjust(99)
      expect(yield* Ref.get(times)).toEqual([0])
      yield* TestClock.adjust(1)
      expect(yield* Ref.get(times)).toEqual([0, 100])
      yield* TestClock.adjust(200)
      expect(yield* Fiber.join(fiber)).toBe(3)
      expect(yield* Ref.get(times)).toEqual([0, 100, 300])
    }))

  it.effect("gives up after maxAttempts with the last error", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* scripted([status(503), status(503), status(504), status(503)])
      const fiber = yield* Effect.fork(Effect.exit(Effect.retry(attempt, Retry.schedule({ ...fixed, maxAttempts: 3 }))))
      yield* TestClock.adjust(10_000)
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(exit).toStrictEqual(Exit.fail(status(504)))
      expect((yield* Ref.get(times)).length).toBe(3)
    }))

  it.effect("does not retry what is not retryable", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* scripted([status(404)])
      const error = yield* Effect.flip(Effect.retry(attempt, Retry.schedule(fixed)))
      expect(error).toStrictEqual(status(404))
      expect(yield* Ref.get(times)).toEqual([0])
    }))

  it.effect("stops when Retry-After is above maxRetryAfter", () =>
    Effect.gen(function*() {
      const { attempt, times } = yield* scripted([status(429, { "retry-after": "120" })])
      const error = yield* Effect.flip(Effect.retry(attempt, Retry.schedule(Retry.defaults)))
      expect(error._tag).toBe("StatusError")
      expect(yield* Ref.get(times)).toEqual([0])
    }))
})
