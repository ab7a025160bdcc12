/**
 * A `@retry(stop=stop_after_attempt(4), wait=wait_exponential(...))`
 * decorator (tenacity/backoff), or the hand-written loop with
 * `await asyncio.sleep(base * 2 ** attempt)`.
 *
 * `Effect.retry(effect, { schedule, times, while })` is that decorator as a
 * function on values: `Schedule.exponential(base)` doubles the delay,
 * `Schedule.jittered` spreads retries out, `times` caps them, and `while`
 * retries only what is worth retrying (a 404 is not). The schedule runs on
 * the `Clock` service, so tests check the delays on `TestClock`. (`Http`
 * already retries transient failures with backoff and honours
 * `Retry-After`; this is the general tool for anything else.)
 */
import { Http, type HttpError, Retry } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/flaky", Faults.sequence(503, 503, Faults.json({ ok: true }))),
  Faults.get("/missing", Faults.status(404, "no such thing"))
]

/** A retry policy: exponential delays from `base`, at most `retries` retries. */
export interface Backoff<E> {
  /** The first delay; each next one doubles. */
  readonly base: Duration.DurationInput
  /** Retries after the first attempt. */
  readonly retries: number
  /** Randomise each delay (0.8×–1.2×) so many clients do not retry in lockstep. Default `true`. */
  readonly jitter?: boolean
  /** Retry only errors for which this holds. Default: all. */
  readonly while?: (error: E) => boolean
}

/** The decorator: `effect.pipe(retrying({ base: "100 millis", retries: 3 }))`. */
export const retrying = <E>(options: Backoff<E>) => <A, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const exponential = Schedule.exponential(options.base)
  return Effect.retry(effect, {
    schedule: options.jitter === false ? exponential : Schedule.jittered(exponential),
    times: options.retries,
    ...(options.while === undefined ? {} : { while: options.while })
  })
}

/** HTTP errors worth retrying: 5xx, 429, 408, timeouts and transport failures (the `Http` default policy's view). */
export const transient = (error: HttpError.HttpError): boolean => Retry.isRetryable(Retry.defaults, error)

/** The cookbook entry (`npm run cookbook -- retry-backoff`). */
export const pattern = Pattern.make({
  name: "retry-backoff",
  title: "Retry decorator with exponential backoff",
  asyncio: "@retry(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.1))\nasync def fetch(url): ...",
  primitive: "Effect.retry + Schedule.exponential / jittered",
  summary: "A retry policy is a value applied to any effect; it retries only what `while` allows, on a testable clock.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const policy = retrying({ base: "50 millis", retries: 3, while: transient })
    for (const path of ["/flaky", "/missing"]) {
      const result = yield* Http.text(path).pipe(policy, Effect.either, Effect.provideService(Http.Http, http))
      const log = yield* server.requestsTo(path)
      const first = log[0]?.arrivedAt ?? 0
      yield* Console.log(
        `${path}: ${Either.match(result, { onRight: (body) => `ok ${body}`, onLeft: (e) => e.message })}`
      )
      yield* Console.log(
        `  attempts at ${log.map((r) => `${Pattern.formatMs(r.arrivedAt - first)} (${r.status})`).join(", ")}`
      )
    }
  }))
})
