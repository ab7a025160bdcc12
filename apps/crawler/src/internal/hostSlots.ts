/**
 * Cluster-wide politeness over the `hosts` and `host_slots` tables
 * (Postgres): in-flight slots taken with `SKIP LOCKED`, request starts
 * reserved on the host's `next_at`, and a `KeyedRateLimiter` for `Http`
 * whose starts are those reservations.
 *
 * Every statement runs on its own with `synchronous_commit` off (set for
 * its transaction only): a host's row is hot — every worker of the crawl
 * updates it — and waiting for a WAL flush on each update would hold the
 * row lock for milliseconds. Losing the last of these updates to a server
 * crash costs nothing: the workers stop with the server, and a restart
 * reaps their slots.
 *
 * What a page costs: a worker reuses the slots it holds (one statement per
 * slot taken or given back, at most about one per slot per second while
 * busy); a host with a spacing costs one reservation per request start; a
 * host without costs none while the worker heard within half a second that
 * it is not paused.
 *
 * Times in these tables are the database server's clock, so workers on
 * machines whose clocks disagree still space their starts right. Each
 * worker estimates the offset of its own clock from the server's the way
 * NTP does, from the round trips of these statements (the best of the
 * recent ones), and uses a reserved start only inside a window that holds
 * whatever the estimate's error.
 *
 * @internal
 */
import type { Db, DbError } from "@fiberkit/core"
import type { KeyedRateLimiter } from "@fiberkit/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as HostSlots from "../HostSlots.js"

/** The server's clock in whole epoch ms (rounded up), read anew at each evaluation (also after a lock wait). */
const NOW = `ceil(extract(epoch FROM clock_timestamp()) * 1000)::bigint`
/** The server's clock in epoch ms with its sub-millisecond part, to estimate the clock offset. */
const DB_NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`
/** The host's spacing between two request starts: configured rate, robots Crawl-delay floor, adaptive slow-down. */
const SPACING = `greatest(h.base_ms, h.floor_ms, h.slow_ms)`
/**
 * What a reservation moves `next_at` on by: the spacing plus the reserving
 * worker's slack (the parameter), of which it uses at most half to start
 * late, so two starts stay a full spacing apart whatever the lateness.
 */
const reserved = (slack: string): string => `(CASE WHEN ${SPACING} > 0 THEN ${SPACING} + ${slack}::bigint ELSE 0 END)`
const ASYNC = `cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v)`

/**
 * The slack a worker reserves after each start (when the host has a
 * spacing): a quarter of the spacing, 8 to 50 ms, and at least four times
 * its clock estimate's error plus 4 ms, so the window it may start in stays
 * wide enough to hit with a timer.
 *
 * @internal
 */
export const slackOf = (spacing: number, clockErrorMs: number): number =>
  Math.max(Math.min(50, Math.max(8, Math.floor(spacing / 4))), Math.ceil(4 * clockErrorMs + 4))

const ENSURE = `WITH h AS (
  INSERT INTO hosts (host, base_ms) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING
)
INSERT INTO host_slots (host, slot) SELECT $1, g FROM generate_series(0, $3::int - 1) AS g ON CONFLICT DO NOTHING`

// The free slot is locked with SKIP LOCKED (acquirers never wait for each
// other's slots), then the host row (where concurrent starts serialize).
// Only a worker still alive in the table may take one; a slot taken in the
// instant its holder is declared dead is freed by the next reap.
const ACQUIRE = `WITH ${ASYNC},
free AS (
  SELECT slot FROM host_slots WHERE host = $1 AND worker IS NULL LIMIT 1 FOR UPDATE SKIP LOCKED
),
taken AS (
  UPDATE host_slots AS s SET worker = $2, taken_at = ${NOW}
  FROM free, cfg
  WHERE s.host = $1 AND s.slot = free.slot AND EXISTS (SELECT 1 FROM workers w WHERE w.id = $2 AND w.state = 'alive')
  RETURNING s.slot
)
UPDATE hosts AS h SET next_at = greatest(h.next_at, h.backoff_until, ${NOW}) + ${reserved("$3")}
FROM taken
WHERE h.host = $1
RETURNING taken.slot AS slot, h.next_at - ${reserved("$3")} AS start, ${DB_NOW} AS db_now, ${SPACING} AS spacing, h.slow_ms AS slow_ms, h.backoff_until AS backoff_until`

const RESERVE = `WITH ${ASYNC}
UPDATE hosts AS h SET next_at = greatest(h.next_at, h.backoff_until, ${NOW}) + ${reserved("$2")}
FROM cfg
WHERE h.host = $1
RETURNING h.next_at - ${reserved("$2")} AS start, ${DB_NOW} AS db_now, ${SPACING} AS spacing, h.slow_ms AS slow_ms, h.backoff_until AS backoff_until`

const RELEASE = `WITH ${ASYNC}
UPDATE host_slots AS s SET worker = NULL, taken_at = NULL FROM cfg WHERE s.host = $1 AND s.slot = $2 AND s.worker = $3`

// A 429/503: pause the host until Retry-After ($2 ms from now), and halve
// its rate (double the spacing, at most one start a minute) unless it has no
// rate (then it is only paused, as `KeyedRateLimiter` does) or this is the
// same event as a halving within the last second or spacing.
const CONFIGURED = `greatest(h.base_ms, h.floor_ms)`
const SAME_EVENT = `h.throttled_at > ${NOW} - greatest(1000, ${SPACING})`
const THROTTLE = `WITH ${ASYNC}
UPDATE hosts AS h SET
  backoff_until = greatest(h.backoff_until, ${NOW} + $2::bigint),
  slow_ms = CASE WHEN ${CONFIGURED} = 0 OR ${SAME_EVENT} THEN h.slow_ms ELSE least(60000, ${SPACING} * 2) END,
  throttled_at = CASE WHEN ${CONFIGURED} = 0 OR ${SAME_EVENT} THEN h.throttled_at ELSE ${NOW} END,
  throttles = h.throttles + 1
FROM cfg
WHERE h.host = $1
RETURNING h.slow_ms AS slow_ms`

// $2 successes give back a tenth of the configured rate each (AIMD), until
// the configured rate is reached again.
const RECOVER = `WITH ${ASYNC}
UPDATE hosts AS h SET slow_ms = CASE
  WHEN ${CONFIGURED} = 0 THEN 0
  WHEN 1000.0 / h.slow_ms + $2::int * 100.0 / ${CONFIGURED} >= 1000.0 / ${CONFIGURED} THEN 0
  ELSE round(1000.0 / (1000.0 / h.slow_ms + $2::int * 100.0 / ${CONFIGURED}))::bigint END
FROM cfg
WHERE h.host = $1 AND h.slow_ms > 0
RETURNING h.slow_ms AS slow_ms`

const FLOOR = `INSERT INTO hosts AS h (host, base_ms, floor_ms) VALUES ($1, $2, $3)
ON CONFLICT (host) DO UPDATE SET floor_ms = EXCLUDED.floor_ms`

const RATE = `INSERT INTO hosts AS h (host, base_ms) VALUES ($1, $2)
ON CONFLICT (host) DO UPDATE SET base_ms = EXCLUDED.base_ms`

const PAUSE = `WITH ${ASYNC}
UPDATE hosts AS h SET backoff_until = greatest(h.backoff_until, ${NOW} + $2::bigint) FROM cfg WHERE h.host = $1`

const SNAPSHOT = `SELECT h.host, h.next_at, h.base_ms, h.floor_ms, h.slow_ms, h.backoff_until, h.throttles,
  (SELECT count(*) FROM host_slots s WHERE s.host = h.host AND s.worker IS NOT NULL) AS in_flight,
  (SELECT count(*) FROM host_slots s WHERE s.host = h.host) AS slots,
  ${NOW} AS now
FROM hosts h ORDER BY h.host`

interface Reserved {
  /** The reserved start, on the server's clock. */
  readonly start: number | string
  readonly db_now: number | string
  readonly backoff_until: number | string
  readonly spacing: number | string
  readonly slow_ms: number | string
}

interface Acquired extends Reserved {
  readonly slot: number | string
}

/** A slot this worker holds, taken at `takenAt` (local ms). */
interface Held {
  readonly slot: number
  readonly takenAt: number
  /** When it was last given back to this worker's idle slots (local ms). */
  readonly idleSince?: number
}

/** A start this worker may make, reserved in the hosts table: from `at` to `until` (local epoch ms). */
interface Grant {
  readonly at: number
  readonly until: number
}

/** What this worker last learnt of a host. */
interface View {
  spacing: number
  slowMs: number
  /** The shared pause, on this machine's clock. */
  pausedUntil: number
  /** When the server last told us about the host (local ms). */
  seenAt: number
  throttles: number
  successes: number
  writing: boolean
  lastRecoverAt: number
  failedUntil: number
}

/** How often a call waiting for a reservation looks again (ms). */
const POLL_MS = 2
/**
 * A host with no spacing (no rate, no Crawl-delay, not slowed) and no pause
 * starts requests without asking the server, for this long after it last
 * heard from it about the host (a pause another worker set reaches it then).
 */
const FRESH_MS = 500
/** A slot this worker took is reused by its next request to the host for this long, then given back. */
const HOLD_MS = 1_000
/** A slot no request of this worker reuses within this long is given back. */
const LINGER_MS = 100
/** How fast two clocks may drift apart, for the age of an offset estimate: 100 ppm. */
const DRIFT = 1e-4

/** This machine's clock in epoch ms, sub-millisecond. */
const hr = (): number => performance.timeOrigin + performance.now()

/**
 * The offset of the server's clock from ours, from round trips: a sample
 * `server time − midpoint of the round trip` is off by at most half the
 * round trip. The best sample wins until a fresher one is at least as good
 * once aged by the drift allowance.
 */
class ServerClock {
  private offset = 0
  private error = Number.POSITIVE_INFINITY
  private at = 0

  sample(send: number, recv: number, server: number): void {
    const error = (recv - send) / 2
    if (error <= this.errorAt(recv)) {
      this.offset = server - (send + recv) / 2
      this.error = error
      this.at = recv
    }
  }

  /** The estimate's error bound at local time `now`. */
  errorAt(now: number): number {
    return this.error + Math.max(0, now - this.at) * DRIFT
  }

  /** A server time on this machine's clock. */
  toLocal(server: number): number {
    return server - this.offset
  }
}
/** Successes are written at most this often per host while it is slowed. */
const RECOVER_EVERY_MS = 250
/** Hosts whose rows are known to exist, kept in memory. */
const ENSURED_MAX = 100_000

const rateToMs = (perSecond: number | undefined): number =>
  perSecond === undefined || !Number.isFinite(perSecond) ? 0 : Math.max(1, Math.round(1000 / perSecond))

/** Transient database errors: a few tries with backoff, then a defect (the crawl cannot go on without its database). */
const retrying = <A>(what: string, effect: Effect.Effect<A, DbError.DbError>): Effect.Effect<A> =>
  effect.pipe(
    Effect.retry(Schedule.exponential(Duration.millis(20), 2).pipe(Schedule.intersect(Schedule.recurs(6)))),
    Effect.orDieWith((e) => new Error(`cluster politeness: ${what} failed: ${e.message}`))
  )

/** @internal */
export const make = (
  db: Db.Service,
  options: HostSlots.Options
): Effect.Effect<HostSlots.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (db.dialect !== "pg") {
      return yield* Effect.dieMessage("HostSlots needs PostgreSQL: a SQLite crawl has one process, whose own limits are exact")
    }
    const clock = yield* Effect.clock
    const background = yield* FiberSet.make()
    const runFork = yield* FiberSet.runtime(background)<never>()
    /** Set when the scope closes: slots are given back at once, and the idle ones too. */
    let closing = false
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        const all = [...idle].flatMap(([host, list]) => list.map((held) => ({ host, slot: held.slot })))
        idle.clear()
        return Effect.forEach(all, ({ host, slot }) => release(host, slot), { discard: true, concurrency: 4 })
      })
    )
    const sql = db.sql
    const baseMs = rateToMs(options.rate)
    const cap = options.perHost
    const worker = options.worker

    const grants = new Map<string, Array<Grant>>()
    const reserving = new Set<string>()
    const views = new Map<string, View>()
    const ensured = new Set<string>()

    const viewOf = (host: string): View => {
      let view = views.get(host)
      if (view === undefined) {
        view = {
          spacing: baseMs,
          slowMs: 0,
          pausedUntil: 0,
          seenAt: Number.NEGATIVE_INFINITY,
          throttles: 0,
          successes: 0,
          writing: false,
          lastRecoverAt: 0,
          failedUntil: 0
        }
        views.set(host, view)
        if (views.size > ENSURED_MAX) {
          const oldest = views.keys().next()
          if (oldest.done !== true) views.delete(oldest.value)
        }
      }
      return view
    }

    const serverClock = new ServerClock()
    /**
     * The slack to reserve with, from what this worker knows of the host and
     * its clock. The error term is capped: with a worse estimate, windows
     * come out empty and starts are lost, never misused.
     */
    const slackFor = (host: string): number => slackOf(views.get(host)?.spacing ?? baseMs, Math.min(5, serverClock.errorAt(hr())))
    // A first estimate of the clock offset before any reservation.
    const ping = Effect.suspend(() => {
      const send = hr()
      return Effect.map(
        db.typed(sql.unsafe<{ readonly db_now: number | string }>(`SELECT ${DB_NOW} AS db_now`)),
        (rows) => serverClock.sample(send, hr(), Number(rows[0]?.db_now))
      )
    })
    yield* retrying("reading the server's clock", Effect.repeatN(ping, 4))

    /**
     * Records a start the server reserved, sent at `send` and answered at
     * `recv` (local), with `slack` after it: usable from its start to half
     * the slack after, both taken inward by the clock estimate's error. A
     * window too narrow to use is dropped (the start is lost, not misused).
     */
    const deposit = (host: string, row: Reserved, send: number, recv: number, slack: number): void => {
      serverClock.sample(send, recv, Number(row.db_now))
      const spacing = Number(row.spacing)
      const view = viewOf(host)
      view.spacing = spacing
      view.slowMs = Number(row.slow_ms)
      view.pausedUntil = serverClock.toLocal(Number(row.backoff_until))
      view.seenAt = recv
      const error = serverClock.errorAt(recv)
      const start = serverClock.toLocal(Number(row.start))
      const at = start + error
      const until = spacing > 0 ? start + slack / 2 - error : Number.POSITIVE_INFINITY
      if (until < at) return
      const list = grants.get(host) ?? []
      let i = list.length
      while (i > 0 && (list[i - 1] as Grant).at > at) i--
      list.splice(i, 0, { at, until })
      grants.set(host, list)
    }

    const ensure = (host: string): Effect.Effect<void> =>
      ensured.has(host) ? Effect.void : retrying(
        `creating the row of ${host}`,
        Effect.asVoid(db.typed(sql.unsafe(ENSURE, [host, baseMs, cap])))
      ).pipe(Effect.tap(() =>
        Effect.sync(() => {
          ensured.add(host)
          if (ensured.size > ENSURED_MAX) ensured.clear()
        })
      ))

    const reserve = (host: string): Effect.Effect<void> =>
      Effect.flatMap(ensure(host), () =>
        Effect.suspend(() => {
          const slack = slackFor(host)
          const send = hr()
          return Effect.flatMap(db.typed(sql.unsafe<Reserved>(RESERVE, [host, slack])), (rows) =>
            Effect.sync(() => {
              const row = rows[0]
              if (row !== undefined) deposit(host, row, send, hr(), slack)
            }))
        })).pipe(
        Effect.catchAll((error) =>
          Effect.zipRight(
            Effect.sync(() => {
              viewOf(host).failedUntil = clock.unsafeCurrentTimeMillis() + 500
            }),
            Effect.logWarning(`cluster politeness: reserving a request start for ${host} failed (${error.message}); trying again`)
          )
        ),
        Effect.ensuring(Effect.sync(() => reserving.delete(host)))
      )

    const requestGrant = (host: string): void => {
      if (reserving.has(host)) return
      if ((views.get(host)?.failedUntil ?? 0) > clock.unsafeCurrentTimeMillis()) return
      reserving.add(host)
      runFork(reserve(host))
    }

    /** The first usable grant of `host` (expired ones dropped), if any. */
    const firstGrant = (host: string, now: number): Grant | undefined => {
      const list = grants.get(host)
      if (list === undefined) return undefined
      while (list.length > 0 && (list[0] as Grant).until < now) list.shift()
      if (list.length === 0) {
        grants.delete(host)
        return undefined
      }
      return list[0]
    }

    const unsafeTryStart = (host: string): number => {
      const now = hr()
      const grant = firstGrant(host, now)
      if (grant !== undefined) {
        if (grant.at <= now) {
          grants.get(host)?.shift()
          return 0
        }
        return Math.max(1, Math.ceil(grant.at - now))
      }
      // Nothing to space: only a pause could hold the start back, and this worker heard lately there is none.
      const view = views.get(host)
      if (view !== undefined && view.spacing === 0 && view.pausedUntil <= now && now - view.seenAt < FRESH_MS) return 0
      requestGrant(host)
      return POLL_MS
    }

    const unsafeWaitTime = (host: string): number => {
      const now = hr()
      const grant = firstGrant(host, now)
      return grant === undefined || grant.at <= now ? 0 : Math.ceil(grant.at - now)
    }

    const throttle = (host: string, retryAfterMs: number): Effect.Effect<void> =>
      Effect.flatMap(ensure(host), () =>
        Effect.flatMap(db.typed(sql.unsafe<{ readonly slow_ms: number | string }>(THROTTLE, [host, Math.max(0, Math.round(retryAfterMs))])), (rows) =>
          Effect.sync(() => {
            const row = rows[0]
            if (row !== undefined) viewOf(host).slowMs = Number(row.slow_ms)
          }))).pipe(
        Effect.catchAll((error) => Effect.logWarning(`cluster politeness: recording a 429/503 of ${host} failed: ${error.message}`))
      )

    const unsafeOnThrottled = (host: string, retryAfterMs?: number): void => {
      // Starts reserved before the server pushed back are given up.
      grants.delete(host)
      const view = viewOf(host)
      if (retryAfterMs !== undefined && retryAfterMs > 0) view.pausedUntil = Math.max(view.pausedUntil, hr() + retryAfterMs)
      view.seenAt = Number.NEGATIVE_INFINITY
      view.throttles++
      view.successes = 0
      runFork(throttle(host, retryAfterMs ?? 0))
    }

    const recover = (host: string, view: View): Effect.Effect<void> => {
      const n = view.successes
      view.successes = 0
      view.writing = true
      view.lastRecoverAt = clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(db.typed(sql.unsafe<{ readonly slow_ms: number | string }>(RECOVER, [host, n])), (rows) =>
        Effect.sync(() => {
          view.slowMs = rows[0] === undefined ? 0 : Number(rows[0].slow_ms)
        })).pipe(
          Effect.catchAll((error) => Effect.logWarning(`cluster politeness: recording the recovery of ${host} failed: ${error.message}`)),
          Effect.ensuring(Effect.sync(() => {
            view.writing = false
          }))
        )
    }

    const unsafeOnSuccess = (host: string): void => {
      const view = views.get(host)
      if (view === undefined || view.slowMs === 0) return
      view.successes++
      if (!view.writing && clock.unsafeCurrentTimeMillis() - view.lastRecoverAt >= RECOVER_EVERY_MS) {
        runFork(recover(host, view))
      }
    }

    const take = (host: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const wait = unsafeTryStart(host)
        return wait === 0 ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(wait)), take(host))
      })

    const rateLimiter: KeyedRateLimiter.KeyedRateLimiter<string> = {
      take,
      withToken: (host) => (self) => Effect.zipRight(take(host), self),
      pauseUntil: (host, epochMillis) =>
        Effect.suspend(() => {
          const ms = epochMillis - clock.unsafeCurrentTimeMillis()
          if (!(ms > 0)) return Effect.void
          grants.delete(host)
          return Effect.flatMap(ensure(host), () =>
            retrying(`pausing ${host}`, Effect.asVoid(db.typed(sql.unsafe(PAUSE, [host, Math.round(ms)])))))
        }),
      setRate: (host, perSecond) =>
        retrying(`setting the rate of ${host}`, Effect.asVoid(db.typed(sql.unsafe(RATE, [host, rateToMs(perSecond)])))),
      setFloor: (host, floorMs) =>
        Effect.zipRight(
          retrying(`setting the Crawl-delay of ${host}`, Effect.asVoid(db.typed(sql.unsafe(FLOOR, [host, baseMs, Math.max(0, Math.round(floorMs))])))),
          Effect.sync(() => {
            // Reservations made before the floor was known may be too close together.
            grants.delete(host)
            const view = viewOf(host)
            view.spacing = Math.max(view.spacing, Math.round(floorMs))
          })
        ),
      onThrottled: (host, options) => Effect.sync(() => unsafeOnThrottled(host, options?.retryAfterMs)),
      onSuccess: (host) => Effect.sync(() => unsafeOnSuccess(host)),
      state: (host) => {
        const now = hr()
        const view = views.get(host)
        const spacing = view?.spacing ?? baseMs
        const configured = baseMs
        return {
          perSecond: spacing > 0 ? 1000 / spacing : Number.POSITIVE_INFINITY,
          configuredPerSecond: configured > 0 ? 1000 / configured : Number.POSITIVE_INFINITY,
          burst: 1,
          floorMs: 0,
          nextAllowedAt: Math.max(now, firstGrant(host, now)?.at ?? now),
          pausedUntil: undefined,
          waiting: 0,
          throttles: view?.throttles ?? 0,
          successes: view?.successes ?? 0
        }
      },
      size: () => views.size,
      unsafeTryStart,
      unsafeWaitTime,
      unsafeOnThrottled,
      unsafeOnSuccess
    }

    // -- in-flight slots ------------------------------------------------------
    // A slot taken from the table is held by this worker: for one request,
    // then reused by its next requests to the host for up to HOLD_MS (the
    // common case costs no statement), and given back once unused for
    // LINGER_MS or held for HOLD_MS, so that other workers get their turn.
    // Held idle, it still counts as in flight: the cap only errs on the safe side.
    const idle = new Map<string, Array<Held>>()

    /** A slot held idle by this worker, young enough to reuse. */
    const takeIdle = (host: string): Held | undefined => {
      const list = idle.get(host)
      if (list === undefined) return undefined
      const now = hr()
      let found: Held | undefined
      while (found === undefined && list.length > 0) {
        const held = list.pop() as Held
        if (now - held.takenAt < HOLD_MS) found = held
        else runFork(release(host, held.slot))
      }
      if (list.length === 0) idle.delete(host)
      return found
    }

    /** One try: a slot held idle, else one from the table (with its first start, deposited as a grant), else none. */
    const tryAcquire = (host: string): Effect.Effect<Option.Option<Held>> =>
      Effect.suspend(() => {
        const cached = takeIdle(host)
        if (cached !== undefined) return Effect.succeed(Option.some(cached))
        return retrying(
          `taking a slot of ${host}`,
          Effect.suspend(() => {
            const slack = slackFor(host)
            const send = hr()
            return Effect.map(db.typed(sql.unsafe<Acquired>(ACQUIRE, [host, worker, slack])), (rows) => {
              const row = rows[0]
              if (row === undefined) return Option.none()
              const recv = hr()
              deposit(host, row, send, recv, slack)
              return Option.some({ slot: Number(row.slot), takenAt: recv })
            })
          })
        )
      })

    /** After a request: keep the slot for the next one, or give it back. */
    const giveBack = (host: string, held: Held): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (closing || hr() - held.takenAt >= HOLD_MS) return release(host, held.slot)
        const list = idle.get(host) ?? []
        list.push({ slot: held.slot, takenAt: held.takenAt, idleSince: hr() })
        idle.set(host, list)
        return Effect.void
      })

    /** Gives back the slots idle for LINGER_MS or held for HOLD_MS (one sweep for all hosts, not a timer per request). */
    const sweep = Effect.suspend(() => {
      const now = hr()
      const stale: Array<{ readonly host: string; readonly slot: number }> = []
      for (const [host, list] of idle) {
        const keep = list.filter((held) => {
          const old = now - (held.idleSince ?? now) >= LINGER_MS || now - held.takenAt >= HOLD_MS
          if (old) stale.push({ host, slot: held.slot })
          return !old
        })
        if (keep.length === 0) idle.delete(host)
        else idle.set(host, keep)
      }
      return Effect.forEach(stale, ({ host, slot }) => release(host, slot), { discard: true, concurrency: 4 })
    })
    runFork(Effect.forever(Effect.zipRight(Effect.sleep(Duration.millis(LINGER_MS / 4)), sweep)))

    const release = (host: string, slot: number): Effect.Effect<void> =>
      db.typed(sql.unsafe(RELEASE, [host, slot, worker])).pipe(
        Effect.retry(Schedule.exponential(Duration.millis(20), 2).pipe(Schedule.intersect(Schedule.recurs(6)))),
        Effect.catchAll((error) =>
          // Held until this worker ends or is found dead, when it is freed.
          Effect.logWarning(`cluster politeness: giving back slot ${slot} of ${host} failed: ${error.message}`)
        ),
        Effect.asVoid
      )

    const withSlot = (host: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      // Taking a slot cannot be interrupted half-way (a slot taken must be
      // given back); waiting between tries can.
      const attempt = (delayMs: number): Effect.Effect<A, E, R> =>
        Effect.flatMap(
          Effect.acquireUseRelease(
            tryAcquire(host),
            (held) => Option.isSome(held) ? Effect.map(self, Option.some) : Effect.succeed(Option.none<A>()),
            (held) => Option.isSome(held) ? giveBack(host, held.value) : Effect.void
          ),
          (result) =>
            Option.isSome(result)
              ? Effect.succeed(result.value)
              : Effect.zipRight(
                Effect.sleep(Duration.millis(delayMs * (0.5 + Math.random()))),
                attempt(Math.min(delayMs * 2, 50))
              )
        )
      return Effect.zipRight(ensure(host), attempt(2))
    }

    const snapshot = Effect.map(
      db.typed(sql.unsafe<{
        readonly host: string
        readonly next_at: number | string
        readonly base_ms: number | string
        readonly floor_ms: number | string
        readonly slow_ms: number | string
        readonly backoff_until: number | string
        readonly throttles: number | string
        readonly in_flight: number | string
        readonly slots: number | string
        readonly now: number | string
      }>(SNAPSHOT)),
      (rows) =>
        rows.map((r): HostSlots.HostState => ({
          host: r.host,
          inFlight: Number(r.in_flight),
          slots: Number(r.slots),
          nextInMs: Number(r.next_at) - Number(r.now),
          spacingMs: Math.max(Number(r.base_ms), Number(r.floor_ms), Number(r.slow_ms)),
          floorMs: Number(r.floor_ms),
          slowMs: Number(r.slow_ms),
          pausedForMs: Math.max(0, Number(r.backoff_until) - Number(r.now)),
          throttles: Number(r.throttles)
        }))
    )

    return { withSlot, rateLimiter, snapshot }
  })
