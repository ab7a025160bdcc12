/**
 * `CircuitBreaker`: stop asking a source that keeps failing, and find out
 * cheaply when it is back.
 *
 * - **closed**: every request is allowed. `failureThreshold` consecutive
 *   failures (default 5) open the circuit; a success resets the count.
 * - **open**: no request is allowed until the cool-down (default 30 s) has
 *   passed since the circuit opened; then the circuit is half-open.
 * - **half_open**: exactly one request, the probe, is allowed at a time. Its
 *   success closes the circuit (and resets the cool-down); its failure opens
 *   it again with the cool-down multiplied by `backoffFactor` (default 2), up
 *   to `maxCoolDown` (default 5 min). A probe whose outcome is never recorded
 *   (its fiber was interrupted before `record`) is given up after
 *   `probeTimeout` (default 60 s), and the next `allow` grants a new probe.
 *
 * Outcomes recorded while the circuit is open, or half-open with no probe
 * out, come from requests allowed before it opened; they change nothing. Time is read from the Effect
 * `Clock`, so `TestClock` drives a breaker exactly. The transition from open
 * to half-open happens lazily, at the first `allow` or `state` after the
 * cool-down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as CircuitBreaker from "./CircuitBreaker.js"
 *
 * const guarded = (fetch: Effect.Effect<boolean>) =>
 *   Effect.gen(function*() {
 *     const breaker = yield* CircuitBreaker.make({ failureThreshold: 3, coolDown: "10 seconds" })
 *     if (!(yield* breaker.allow)) return "skipped: circuit open"
 *     const ok = yield* fetch
 *     yield* breaker.record(ok)
 *     return ok ? "ok" : "failed"
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type { CircuitState } from "./Model.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Consecutive failures that open a closed circuit. Default 5; values below 1 count as 1. */
  readonly failureThreshold?: number | undefined
  /** How long the circuit stays open before a probe. Default 30 s. */
  readonly coolDown?: Duration.DurationInput | undefined
  /** The cool-down is multiplied by this after each failed probe. Default 2; 1 keeps it constant. */
  readonly backoffFactor?: number | undefined
  /** The longest cool-down. Default 5 minutes (never shorter than `coolDown`). */
  readonly maxCoolDown?: Duration.DurationInput | undefined
  /** A probe with no recorded outcome after this long is given up. Default 60 s. */
  readonly probeTimeout?: Duration.DurationInput | undefined
  /**
   * Called after every state change, with the new {@link Snapshot}; e.g.
   * to log it or set a gauge. It runs in the fiber that caused the change.
   */
  readonly onTransition?: ((from: CircuitState, to: Snapshot) => Effect.Effect<void>) | undefined
}

/**
 * A breaker's state at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly state: CircuitState
  /** Epoch ms when the circuit last opened (kept after it closes), `null` if it never opened. */
  readonly openedAt: number | null
  /** Failures in a row (the failed probes included). */
  readonly consecutiveFailures: number
  /** The cool-down that applies the next time the circuit is open, in ms. */
  readonly coolDownMs: number
  /** While open: epoch ms from which a probe is allowed; otherwise `null`. */
  readonly probeAt: number | null
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker {
  /**
   * Whether a request may go out now. In half-open state a `true` is the
   * probe: its outcome must be passed to {@link CircuitBreaker.record}.
   */
  readonly allow: Effect.Effect<boolean>
  /** Records the outcome of a request that {@link CircuitBreaker.allow} let through. */
  readonly record: (success: boolean) => Effect.Effect<void>
  /** The current state (moving an expired open circuit to half-open). */
  readonly state: Effect.Effect<Snapshot>
}

interface Internal {
  readonly state: CircuitState
  readonly openedAt: number | null
  readonly consecutiveFailures: number
  readonly coolDownMs: number
  /** Epoch ms when the outstanding half-open probe was granted, `null` when none is out. */
  readonly probeSince: number | null
}

/**
 * A breaker, closed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<CircuitBreaker> =>
  Effect.gen(function*() {
    const threshold = Math.max(1, Math.floor(options.failureThreshold ?? 5))
    const baseCoolDownMs = Duration.toMillis(options.coolDown ?? Duration.seconds(30))
    const maxCoolDownMs = Math.max(baseCoolDownMs, Duration.toMillis(options.maxCoolDown ?? Duration.minutes(5)))
    const factor = Math.max(1, options.backoffFactor ?? 2)
    const probeTimeoutMs = Duration.toMillis(options.probeTimeout ?? Duration.seconds(60))
    const onTransition = options.onTransition

    const ref = yield* Ref.make<Internal>({
      state: "closed",
      openedAt: null,
      consecutiveFailures: 0,
      coolDownMs: baseCoolDownMs,
      probeSince: null
    })

    const snapshotOf = (s: Internal): Snapshot => ({
      state: s.state,
      openedAt: s.openedAt,
      consecutiveFailures: s.consecutiveFailures,
      coolDownMs: s.coolDownMs,
      probeAt: s.state === "open" && s.openedAt !== null ? s.openedAt + s.coolDownMs : null
    })

    /** An open circuit whose cool-down has passed is half-open, with no probe out. */
    const advance = (s: Internal, now: number): Internal =>
      s.state === "open" && s.openedAt !== null && now >= s.openedAt + s.coolDownMs
        ? { ...s, state: "half_open", probeSince: null }
        : s

    /** Applies `step` atomically at the current time; reports a state change. */
    const transact = <A>(step: (s: Internal, now: number) => readonly [A, Internal]): Effect.Effect<A> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(ref, (before): readonly [readonly [A, Internal, CircuitState], Internal] => {
            const [result, after] = step(before, now)
            return [[result, after, before.state], after]
          }),
          ([result, after, from]) =>
            onTransition !== undefined && after.state !== from
              ? Effect.as(onTransition(from, snapshotOf(after)), result)
              : Effect.succeed(result)
        ))

    const allow = transact((before, now): readonly [boolean, Internal] => {
      const s = advance(before, now)
      switch (s.state) {
        case "closed":
          return [true, s]
        case "open":
          return [false, s]
        case "half_open":
          if (s.probeSince === null || now - s.probeSince >= probeTimeoutMs) {
            return [true, { ...s, probeSince: now }]
          }
          return [false, s]
      }
    })

    const open = (s: Internal, now: number, coolDownMs: number): Internal => ({
      state: "open",
      openedAt: now,
      consecutiveFailures: s.consecutiveFailures + 1,
      coolDownMs,
      probeSince: null
    })

    const record = (success: boolean): Effect.Effect<void> =>
      transact((before, now): readonly [void, Internal] => {
        const s = advance(before, now)
        switch (s.state) {
          case "closed":
            if (success) return [undefined, s.consecutiveFailures === 0 ? s : { ...s, consecutiveFailures: 0 }]
            return [
              undefined,
              s.consecutiveFailures + 1 >= threshold
                ? open(s, now, s.coolDownMs)
                : { ...s, consecutiveFailures: s.consecutiveFailures + 1 }
            ]
          case "open":
            return [undefined, s]
          case "half_open":
            // no probe out: a late outcome of a request allowed before the circuit opened
            if (s.probeSince === null) return [undefined, s]
            if (success) {
              return [undefined, {
                state: "closed",
                openedAt: s.openedAt,
                consecutiveFailures: 0,
                coolDownMs: baseCoolDownMs,
                probeSince: null
              }]
            }
            return [undefined, open(s, now, Math.min(maxCoolDownMs, s.coolDownMs * factor))]
        }
      })

    const state = transact((before, now): readonly [Snapshot, Internal] => {
      const s = advance(before, now)
      return [snapshotOf(s), s]
    })

    return { allow, record, state } satisfies CircuitBreaker
  })
