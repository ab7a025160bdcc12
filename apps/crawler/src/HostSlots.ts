/**
 * `HostSlots`: politeness for all the workers of a crawl together, in
 * PostgreSQL. Two workers never together exceed a host's limits:
 *
 * - **In flight**: each host has `perHost` rows in `host_slots`; a request
 *   runs holding one ({@link Service.withSlot}), taken with
 *   `FOR UPDATE SKIP LOCKED`. The worker reuses a slot it took for its next
 *   requests to the host for up to a second (a busy worker pays about one
 *   statement per slot per second, not two per page) and gives it back once
 *   unused for 100 ms; held idle, a slot still counts, so the cap only errs
 *   on the safe side. A dead worker's slots are freed by `Workers.reap`
 *   (found dead after a lease of silence — at least 5 s — long after the
 *   slots it held could have been reused).
 * - **Starts**: the host's row in `hosts` holds the earliest next start
 *   (`next_at`, on the database server's clock). A worker reserves a start
 *   by moving it on by the host's spacing — the configured rate, the
 *   robots.txt Crawl-delay floor, the adaptive slow-down, whichever is
 *   longest — in one atomic `UPDATE`, and starts its request when the
 *   reservation comes (taking a slot reserves the first start with it).
 *   {@link Service.rateLimiter} hands these reservations to `Http` as a
 *   `KeyedRateLimiter`, so retries and redirect hops are reserved too. A
 *   host with no spacing needs no reservation: its requests start at once
 *   while the worker heard within the last half second that it is not
 *   paused. Each worker estimates its clock's offset from the server's from
 *   the round trips of these statements (as NTP does) and starts a request
 *   only within a window of its reservation that holds whatever that
 *   estimate's error, so the spacing holds between machines whose clocks
 *   disagree.
 * - **Backoff**: a 429/503 pauses the host for every worker until its
 *   `Retry-After` and halves its rate (when it has one); good answers win
 *   the rate back gradually, as `KeyedRateLimiter`'s adaptive mode does.
 *
 * The single-process SQLite crawl does not use it: its in-process limits
 * are exact there.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Http } from "@fiberkit/core"
 * import { HostSlots } from "@fiberkit/crawler"
 *
 * const program = Effect.gen(function*() {
 *   const slots = yield* HostSlots.make({ worker: "3f9c0a1b2c4d", perHost: 4, rate: undefined })
 *   const http = yield* Http.make({ rateLimiter: slots.rateLimiter, limits: { adaptive: true } })
 *   const page = yield* http.get("https://a.example/").pipe(slots.withSlot("a.example"))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Db } from "@fiberkit/core"
import type { DbError, KeyedRateLimiter } from "@fiberkit/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/hostSlots.js"

/**
 * Settings of {@link make}: the same for every worker of a crawl (they come
 * from the crawl's stored options).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The worker taking slots: a live row of `workers` (see `Workers.register`). */
  readonly worker: string
  /** Requests in flight to one host, all workers together. */
  readonly perHost: number
  /** Request starts per second to one host, all workers together; `undefined`: no limit beyond Crawl-delay. */
  readonly rate: number | undefined
}

/**
 * A host's shared state, for tests and diagnostics.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostState {
  readonly host: string
  /** Slots held right now. */
  readonly inFlight: number
  /** Slots in all (the per-host cap). */
  readonly slots: number
  /** The next start may come this many ms from now (negative: already allowed). */
  readonly nextInMs: number
  /** The spacing between starts in force: rate, Crawl-delay floor or slow-down. */
  readonly spacingMs: number
  readonly floorMs: number
  /** The adaptive slow-down (0: none). */
  readonly slowMs: number
  /** The shared Retry-After pause still to run. */
  readonly pausedForMs: number
  /** 429/503 answers recorded. */
  readonly throttles: number
}

/**
 * The service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Runs `self` (one request, its retries and redirects) holding one of
   * `host`'s in-flight slots, waiting for one when all are held, and with
   * its first start reserved. Database failures, after a few tries, are
   * defects.
   */
  readonly withSlot: (host: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * The start reservations as a `KeyedRateLimiter` for `Http`'s
   * `rateLimiter` (keys are hosts, `URL.host`): `unsafeTryStart` starts on
   * a reservation of this worker, or asks for one and says when to look
   * again; `setFloor` records a Crawl-delay for every worker;
   * `onThrottled` / `onSuccess` drive the shared backoff.
   */
  readonly rateLimiter: KeyedRateLimiter.KeyedRateLimiter<string>
  /** Every host's shared state. */
  readonly snapshot: Effect.Effect<ReadonlyArray<HostState>, DbError.DbError>
}

/**
 * The service tag. `Fetcher` uses it when it is in the context.
 *
 * @since 0.1.0
 * @category tags
 */
export class HostSlots extends Context.Tag("@fiberkit/crawler/HostSlots")<HostSlots, Service>() {}

/**
 * Builds the service on the `Db` of the context, which must be PostgreSQL
 * (a defect otherwise). Background writes (backoff signals) end with the
 * scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, Db.Db | Scope.Scope> =>
  Effect.flatMap(Db.Db, (db) => internal.make(db, options))
