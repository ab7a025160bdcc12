import type * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as KeyedRateLimiter from "../KeyedRateLimiter.js"

/** @internal */
export class KeyedRateLimiterError extends Data.TaggedError("KeyedRateLimiterError")<{
  readonly reason: "InvalidRate" | "InvalidBurst" | "InvalidPause" | "InvalidFloor" | "InvalidAdaptive"
  readonly key: unknown
  readonly detail: string
}> {
  override get message(): string {
    return `KeyedRateLimiter${this.key === undefined ? "" : ` key ${describeKey(this.key)}`}: ${this.detail}`
  }
}

const describeKey = (key: unknown): string => typeof key === "string" ? JSON.stringify(key) : String(key)

const isRate = (perSecond: number): boolean => perSecond > 0

const isBurst = (burst: number): boolean => Number.isInteger(burst) && burst >= 1

const invalidRate = (key: unknown, perSecond: number): KeyedRateLimiterError =>
  new KeyedRateLimiterError({
    reason: "InvalidRate",
    key,
    detail: `the rate is ${perSecond} per second; pass a number above 0, or Infinity for no limit.`
  })

const invalidBurst = (key: unknown, burst: number): KeyedRateLimiterError =>
  new KeyedRateLimiterError({
    reason: "InvalidBurst",
    key,
    detail: `the burst is ${burst}; pass a positive integer (1 = no burst).`
  })

const invalidPause = (key: unknown, what: string): KeyedRateLimiterError =>
  new KeyedRateLimiterError({ reason: "InvalidPause", key, detail: what })

/** The adaptive settings, resolved; `undefined` on a limiter without `adaptive`. */
interface Adaptive {
  readonly decrease: number
  readonly increase: number | undefined
  readonly min: number
  readonly max: number
  readonly forgetAfterMs: number
}

const resolveAdaptive = (
  options: KeyedRateLimiter.AdaptiveOptions | undefined
): Adaptive | KeyedRateLimiterError | undefined => {
  if (options === undefined) return undefined
  const decrease = options.decrease ?? 0.5
  const min = options.min ?? 1 / 60
  const max = options.max ?? Infinity
  const forgetAfterMs = options.forgetAfter === undefined
    ? 600_000
    : Duration.toMillis(Duration.decode(options.forgetAfter))
  const bad = (detail: string) => new KeyedRateLimiterError({ reason: "InvalidAdaptive", key: undefined, detail })
  if (!(decrease > 0 && decrease < 1)) {
    return bad(`adaptive.decrease is ${decrease}; pass a factor between 0 and 1 (0.5 halves the rate).`)
  }
  if (options.increase !== undefined && !(options.increase > 0 && Number.isFinite(options.increase))) {
    return bad(`adaptive.increase is ${options.increase}; pass the starts per second to add back per success (> 0).`)
  }
  if (!(min > 0 && Number.isFinite(min))) return bad(`adaptive.min is ${min}; pass a rate above 0 (1/60 = one a minute).`)
  if (!(max > 0)) return bad(`adaptive.max is ${max}; pass a rate above 0, or leave it out.`)
  if (!(forgetAfterMs >= 0)) return bad(`adaptive.forgetAfter is ${forgetAfterMs} ms; pass a duration >= 0.`)
  return { decrease, increase: options.increase, min, max, forgetAfterMs }
}

const MIN_SLEEP_MS = 0.001

/**
 * Below this many keys the limiter never sweeps; above it, it sweeps when the
 * number of keys has doubled since the last sweep, so sweeping costs O(1)
 * amortised per new key and idle keys never outnumber live ones by more than
 * about 2 to 1.
 */
const SWEEP_MIN = 4096

/**
 * Builds `matchCauseEffect` handlers from two argument closures: tsx runs
 * esbuild with `keepNames`, which wraps closures written as object literal
 * properties in an `Object.defineProperty` call per evaluation.
 */
const handlers = <E, A, A2, E2, R2, A3, E3, R3>(
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>,
  onSuccess: (a: A) => Effect.Effect<A3, E3, R3>
) => ({ onFailure, onSuccess })

class Waiter {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  admitted = false
  resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** The entry's `tat` before and after this waiter's start, to undo a start its fiber never saw. */
  tatBefore = 0
  tatAfter = 0
}

/**
 * GCRA state of one key. `tat` is the theoretical arrival time: a start at
 * `now` moves it to `max(tat, now) + interval`, and a start is allowed once
 * `now >= tat - tolerance` (a full bucket of `burst` tokens is `tat <= now`).
 *
 * The rate GCRA uses (`perSecond`) is the lowest of the key's configured rate
 * (`target`), its adapted rate after throttling (`adapted`), and its floor.
 */
class Entry<K> {
  tat = -Infinity
  pausedUntil = -Infinity
  perSecond = 0
  burst = 1
  interval = 0
  tolerance = 0
  /** The configured rate: the limiter's rate for the key, or a `setRate` override. */
  target: number
  override = false
  /** The rate after throttle signals; `Infinity` while the key is not slowed. */
  adapted = Infinity
  /** Minimum spacing between starts (robots Crawl-delay); 0 for none. */
  floorMs = 0
  lastDecreaseAt = -Infinity
  /** Whether the key started a request since its last decrease: a signal before that is the same event. */
  startedSinceDecrease = true
  throttles = 0
  successes = 0
  waiting = 0
  head: Waiter | undefined = undefined
  tail: Waiter | undefined = undefined
  /** Ends the head's sleep early, when the key may start sooner than the head was told. */
  kick: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** A kick that came while the head was setting up its sleep, before `kick` was registered. */
  recheck = false

  constructor(readonly key: K, perSecond: number, burst: number) {
    this.target = perSecond
    this.setRate(perSecond, burst)
  }

  setRate(perSecond: number, burst: number): void {
    this.perSecond = perSecond
    this.burst = burst
    this.interval = perSecond === Infinity ? 0 : 1000 / perSecond
    this.tolerance = (burst - 1) * this.interval
  }

  /** The rate the key runs at when not slowed: its target, capped by its floor. */
  ceiling(): number {
    const byFloor = this.floorMs > 0 ? 1000 / this.floorMs : Infinity
    return byFloor < this.target ? byFloor : this.target
  }

  allowedAt(): number {
    const byRate = this.tat - this.tolerance
    return byRate > this.pausedUntil ? byRate : this.pausedUntil
  }

  start(now: number): void {
    this.tat = (this.tat > now ? this.tat : now) + this.interval
    this.startedSinceDecrease = true
  }

  isIdle(now: number, forgetAfterMs: number): boolean {
    return this.head === undefined && !this.override && this.floorMs === 0 && this.tat <= now &&
      this.pausedUntil <= now &&
      // A slowed key is kept until it has recovered, or has been left alone long enough to start over.
      (this.adapted === Infinity ||
        (this.tat + forgetAfterMs <= now && this.lastDecreaseAt + forgetAfterMs <= now))
  }

  enqueue(waiter: Waiter): void {
    waiter.prev = this.tail
    if (this.tail === undefined) this.head = waiter
    else this.tail.next = waiter
    this.tail = waiter
    this.waiting++
  }

  unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    this.waiting--
  }
}

const wake = (waiter: Waiter): void => {
  const resume = waiter.resume
  if (resume !== undefined) {
    waiter.resume = undefined
    resume(Effect.void)
  }
}

/** Makes the head of the queue look at the key again, whether it is parked or sleeping. */
const wakeHead = <K>(entry: Entry<K>): void => {
  const kick = entry.kick
  if (kick !== undefined) {
    entry.kick = undefined
    kick(Effect.void)
  } else if (entry.head !== undefined) {
    if (entry.head.resume !== undefined) wake(entry.head)
    else entry.recheck = true
  }
}

class Limiter<K> implements KeyedRateLimiter.KeyedRateLimiter<K> {
  private readonly entries = new Map<K, Entry<K>>()
  private sweepAt = SWEEP_MIN
  private readonly unlimited: boolean

  private readonly forgetAfterMs: number

  constructor(
    private readonly clock: Clock.Clock,
    private readonly rate: number | ((key: K) => number),
    private readonly burst: number,
    private readonly adaptive: Adaptive | undefined
  ) {
    this.unlimited = rate === Infinity
    this.forgetAfterMs = adaptive === undefined ? 0 : adaptive.forgetAfterMs
  }

  private rateOf(key: K): number {
    return typeof this.rate === "number" ? this.rate : this.rate(key)
  }

  /** Tracks a new key, sweeping idle ones when the map has doubled since the last sweep. */
  private track(entry: Entry<K>, now: number): void {
    this.entries.set(entry.key, entry)
    if (this.entries.size >= this.sweepAt) this.sweep(now)
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.isIdle(now, this.forgetAfterMs)) this.entries.delete(key)
    }
    this.sweepAt = Math.max(SWEEP_MIN, this.entries.size * 2)
  }

  /** The entry of `key`, created with the key's default rate; a defect if that rate is invalid. */
  private entryOf(key: K, now: number): Entry<K> | KeyedRateLimiterError {
    const existing = this.entries.get(key)
    if (existing !== undefined) return existing
    const perSecond = this.rateOf(key)
    if (!isRate(perSecond)) return invalidRate(key, perSecond)
    const entry = new Entry(key, perSecond, this.burst)
    this.track(entry, now)
    return entry
  }

  /**
   * Starts one request for `key` now if the rate allows it and nobody is
   * queued; returns `undefined` then, else the effect that waits (or dies).
   */
  private tryStart(key: K): Effect.Effect<void> | undefined {
    if (this.unlimited && this.entries.size === 0) return undefined
    const now = this.clock.unsafeCurrentTimeMillis()
    const entry = this.entries.get(key)
    if (entry === undefined) {
      const perSecond = this.rateOf(key)
      if (perSecond === Infinity) return undefined
      if (!isRate(perSecond)) return Effect.die(invalidRate(key, perSecond))
      const created = new Entry(key, perSecond, this.burst)
      created.start(now)
      this.track(created, now)
      return undefined
    }
    if (entry.head === undefined && now >= entry.allowedAt()) {
      entry.start(now)
      return undefined
    }
    // Queue in the same synchronous step as the check: an entry with a waiter
    // is never swept, so the waiter cannot end up on a forgotten entry.
    const waiter = new Waiter()
    entry.enqueue(waiter)
    return this.wait(entry, waiter)
  }

  /**
   * Waits until `waiter` has been started. The head of the queue drives: it
   * sleeps until the key's next allowed time, re-checks (a pause may have
   * moved it), then starts itself and every waiter behind it that is also
   * allowed, and wakes the new head. The others park until they are started
   * or become the head. Nothing is reserved ahead of time, so an interrupted
   * waiter leaves no trace in the rate. The head's sleep races a kick, so a
   * rate raised while it sleeps takes effect at once.
   */
  private wait(entry: Entry<K>, waiter: Waiter): Effect.Effect<void> {
    return Effect.uninterruptibleMask((restore) => {
      const park = Effect.async<void>((resume) => {
        if (waiter.admitted || entry.head === waiter) resume(Effect.void)
        else waiter.resume = resume
      })
      const kicked = Effect.async<void>((resume) => {
        if (entry.recheck) {
          entry.recheck = false
          return resume(Effect.void)
        }
        entry.kick = resume
        return Effect.sync(() => {
          if (entry.kick === resume) entry.kick = undefined
        })
      })
      const turn: Effect.Effect<void> = Effect.suspend(() => {
        if (waiter.admitted) return Effect.void
        if (entry.head !== waiter) return Effect.flatMap(restore(park), () => turn)
        const now = this.clock.unsafeCurrentTimeMillis()
        const at = entry.allowedAt()
        // This check sees every change made so far.
        entry.recheck = false
        if (now < at) {
          // Fractional times (1000 / 7 ms intervals) can leave a remainder that
          // rounds to a zero Duration on the clock: never sleep less than 1 µs,
          // or the head would spin without time moving.
          const sleep = this.clock.sleep(Duration.millis(at - now > MIN_SLEEP_MS ? at - now : MIN_SLEEP_MS))
          return Effect.flatMap(restore(Effect.raceFirst(sleep, kicked)), () => turn)
        }
        this.startQueued(entry, now)
        return Effect.void
      })
      return Effect.matchCauseEffect(
        turn,
        handlers(
          (cause: Cause.Cause<never>) => {
            this.abandon(entry, waiter)
            return Effect.failCause(cause)
          },
          () => Effect.void
        )
      )
    })
  }

  private startQueued(entry: Entry<K>, now: number): void {
    let waiter = entry.head
    while (waiter !== undefined && now >= entry.allowedAt()) {
      waiter.tatBefore = entry.tat
      entry.start(now)
      waiter.tatAfter = entry.tat
      entry.unlink(waiter)
      waiter.admitted = true
      wake(waiter)
      waiter = entry.head
    }
    if (waiter !== undefined) wake(waiter)
  }

  /**
   * A waiter failed or was interrupted. Queued, it just leaves (nothing was
   * reserved) and, if it was the head, the next waiter takes over. Already
   * started by the head but interrupted before its fiber ran, its start is
   * undone if no other start came after it (then the key is exactly as if it
   * had never asked); otherwise the slot is spent: slower, never faster.
   */
  private abandon(entry: Entry<K>, waiter: Waiter): void {
    // A started waiter's entry may have gone idle and been swept since (the
    // live clock moves): then there is nothing left to undo or drop.
    if (this.entries.get(entry.key) !== entry) return
    if (waiter.admitted) {
      if (entry.tat === waiter.tatAfter && entry.interval > 0) {
        entry.tat = waiter.tatBefore
        wakeHead(entry)
      }
    } else {
      const wasHead = entry.head === waiter
      entry.unlink(waiter)
      waiter.resume = undefined
      if (wasHead && entry.head !== undefined) wake(entry.head)
    }
    if (entry.head === undefined && entry.isIdle(this.clock.unsafeCurrentTimeMillis(), this.forgetAfterMs)) {
      this.entries.delete(entry.key)
    }
  }

  readonly unsafeTryStart = (key: K): number => {
    if (this.unlimited && this.entries.size === 0) return 0
    const now = this.clock.unsafeCurrentTimeMillis()
    const entry = this.entries.get(key)
    if (entry === undefined) {
      const perSecond = this.rateOf(key)
      if (perSecond === Infinity) return 0
      if (!isRate(perSecond)) throw invalidRate(key, perSecond)
      const created = new Entry(key, perSecond, this.burst)
      created.start(now)
      this.track(created, now)
      return 0
    }
    const at = entry.allowedAt()
    if (entry.head === undefined && now >= at) {
      entry.start(now)
      return 0
    }
    // Queued fibers go first; come back when the key is next allowed.
    return Math.max(1, at - now)
  }

  readonly unsafeWaitTime = (key: K): number => {
    const entry = this.entries.get(key)
    if (entry === undefined) return 0
    const wait = entry.allowedAt() - this.clock.unsafeCurrentTimeMillis()
    return wait > 0 ? wait : entry.head === undefined ? 0 : 1
  }

  readonly take = (key: K): Effect.Effect<void> =>
    Effect.suspend(() => {
      const waiting = this.tryStart(key)
      return waiting === undefined ? Effect.void : waiting
    })

  readonly withToken = (key: K) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const waiting = this.tryStart(key)
      return waiting === undefined ? self : Effect.zipRight(waiting, self)
    })

  readonly pauseUntil = (key: K, epochMillis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (Number.isNaN(epochMillis)) {
        return Effect.die(
          new KeyedRateLimiterError({
            reason: "InvalidPause",
            key,
            detail: "pauseUntil was given NaN; pass epoch milliseconds (e.g. Date.now() + retryAfterMs)."
          })
        )
      }
      const now = this.clock.unsafeCurrentTimeMillis()
      // A pause that has already ended changes nothing, and needs no entry.
      if (epochMillis <= now) return Effect.void
      const entry = this.entryOf(key, now)
      if (entry instanceof KeyedRateLimiterError) return Effect.die(entry)
      if (epochMillis > entry.pausedUntil) entry.pausedUntil = epochMillis
      return Effect.void
    })

  /**
   * Moves the key to the rate its target, adapted rate and floor now give.
   * Tokens already consumed stay consumed, converted to the new rate, and the
   * head of the queue looks again (a faster rate applies at once).
   */
  private applyRate(entry: Entry<K>, now: number, burst: number): void {
    const ceiling = entry.ceiling()
    const perSecond = entry.adapted < ceiling ? entry.adapted : ceiling
    if (perSecond === entry.perSecond && burst === entry.burst) return
    const oldInterval = entry.interval
    entry.setRate(perSecond, burst)
    // Carry the debt over in tokens rather than milliseconds: what was
    // consumed under the old rate is still owed under the new one.
    if (entry.tat > now) {
      entry.tat = oldInterval > 0 ? now + (entry.tat - now) * (entry.interval / oldInterval) : now
    }
    if (entry.head !== undefined) wakeHead(entry)
  }

  /** Drops the entry if it holds nothing a fresh one would not. */
  private dropIfIdle(entry: Entry<K>, now: number): void {
    if (entry.isIdle(now, this.forgetAfterMs)) this.entries.delete(entry.key)
  }

  readonly setRate = (key: K, perSecond: number, burst: number = this.burst): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!isRate(perSecond)) return Effect.die(invalidRate(key, perSecond))
      if (!isBurst(burst)) return Effect.die(invalidBurst(key, burst))
      const now = this.clock.unsafeCurrentTimeMillis()
      const entry = this.entryOf(key, now)
      if (entry instanceof KeyedRateLimiterError) return Effect.die(entry)
      entry.target = perSecond
      entry.override = perSecond !== this.rateOf(key) || burst !== this.burst
      // A slowed key stays below its new ceiling; reaching it counts as recovered.
      if (entry.adapted >= entry.ceiling()) this.recovered(entry)
      this.applyRate(entry, now, burst)
      this.dropIfIdle(entry, now)
      return Effect.void
    })

  readonly setFloor = (key: K, floorMs: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!(floorMs >= 0 && Number.isFinite(floorMs))) {
        return Effect.die(
          new KeyedRateLimiterError({
            reason: "InvalidFloor",
            key,
            detail: `the floor is ${floorMs} ms; pass the minimum spacing between starts in ms ` +
              `(Crawl-delay × 1000), or 0 to remove it.`
          })
        )
      }
      const now = this.clock.unsafeCurrentTimeMillis()
      const existing = this.entries.get(key)
      if (existing === undefined && floorMs === 0) return Effect.void
      const entry = existing ?? this.entryOf(key, now)
      if (entry instanceof KeyedRateLimiterError) return Effect.die(entry)
      entry.floorMs = floorMs
      if (entry.adapted >= entry.ceiling()) this.recovered(entry)
      this.applyRate(entry, now, entry.burst)
      this.dropIfIdle(entry, now)
      return Effect.void
    })

  private recovered(entry: Entry<K>): void {
    entry.adapted = Infinity
    entry.throttles = 0
    entry.successes = 0
    entry.lastDecreaseAt = -Infinity
    entry.startedSinceDecrease = true
  }

  readonly unsafeOnThrottled = (key: K, retryAfterMs?: number): void => {
    if (retryAfterMs !== undefined && !(retryAfterMs >= 0)) {
      throw invalidPause(key, `onThrottled was given retryAfterMs ${retryAfterMs}; pass milliseconds >= 0.`)
    }
    const now = this.clock.unsafeCurrentTimeMillis()
    const entry = this.entryOf(key, now)
    if (entry instanceof KeyedRateLimiterError) throw entry
    entry.throttles++
    if (retryAfterMs !== undefined && now + retryAfterMs > entry.pausedUntil) entry.pausedUntil = now + retryAfterMs
    const adaptive = this.adaptive
    if (adaptive !== undefined) {
      // Responses to requests started before a decrease arrive after it: at
      // most one decrease per interval, and only once the key has started at
      // the decreased rate.
      const fresh = entry.adapted === Infinity ||
        (entry.startedSinceDecrease && now >= entry.lastDecreaseAt + entry.interval)
      const from = entry.perSecond === Infinity ? adaptive.max : entry.perSecond
      if (fresh && from !== Infinity) {
        const lowest = adaptive.min < from ? adaptive.min : from
        const next = from * adaptive.decrease
        entry.adapted = next > lowest ? next : lowest
        entry.lastDecreaseAt = now
        entry.startedSinceDecrease = false
        this.applyRate(entry, now, entry.burst)
      }
    }
    // A paused key holds state; one with nothing to remember (non-adaptive, no pause) goes.
    this.dropIfIdle(entry, now)
  }

  readonly unsafeOnSuccess = (key: K): void => {
    const entry = this.entries.get(key)
    const adaptive = this.adaptive
    if (entry === undefined || entry.adapted === Infinity || adaptive === undefined) return
    entry.successes++
    const ceiling = entry.ceiling() === Infinity ? adaptive.max : entry.ceiling()
    entry.adapted += adaptive.increase ?? ceiling / 10
    const now = this.clock.unsafeCurrentTimeMillis()
    if (entry.adapted >= ceiling) this.recovered(entry)
    this.applyRate(entry, now, entry.burst)
  }

  readonly onThrottled = (
    key: K,
    options?: { readonly retryAfterMs?: number | undefined }
  ): Effect.Effect<void> =>
    Effect.suspend(() => {
      const retryAfterMs = options?.retryAfterMs
      if (retryAfterMs !== undefined && !(retryAfterMs >= 0)) {
        return Effect.die(invalidPause(key, `onThrottled was given retryAfterMs ${retryAfterMs}; pass milliseconds >= 0.`))
      }
      const existing = this.entries.get(key)
      if (existing === undefined) {
        const perSecond = this.rateOf(key)
        if (!isRate(perSecond)) return Effect.die(invalidRate(key, perSecond))
      }
      this.unsafeOnThrottled(key, retryAfterMs)
      return Effect.void
    })

  readonly onSuccess = (key: K): Effect.Effect<void> => Effect.sync(() => this.unsafeOnSuccess(key))

  readonly state = (key: K): KeyedRateLimiter.State => {
    const now = this.clock.unsafeCurrentTimeMillis()
    const entry = this.entries.get(key)
    if (entry === undefined) {
      const perSecond = this.rateOf(key)
      return {
        perSecond,
        configuredPerSecond: perSecond,
        burst: this.burst,
        floorMs: 0,
        nextAllowedAt: now,
        pausedUntil: undefined,
        waiting: 0,
        throttles: 0,
        successes: 0
      }
    }
    const at = entry.allowedAt()
    return {
      perSecond: entry.perSecond,
      configuredPerSecond: entry.target,
      burst: entry.burst,
      floorMs: entry.floorMs,
      nextAllowedAt: at > now ? at : now,
      pausedUntil: entry.pausedUntil > now ? entry.pausedUntil : undefined,
      waiting: entry.waiting,
      throttles: entry.throttles,
      successes: entry.successes
    }
  }

  readonly size = (): number => {
    this.sweep(this.clock.unsafeCurrentTimeMillis())
    return this.entries.size
  }

  /** The number of entries held right now, idle ones not yet swept included. */
  readonly trackedUnsafe = (): number => this.entries.size
}

/** @internal */
export const make = <K>(
  options: KeyedRateLimiter.Options<K>
): Effect.Effect<KeyedRateLimiter.KeyedRateLimiter<K>> =>
  Effect.clockWith((clock) => {
    const burst = options.burst ?? 1
    if (!isBurst(burst)) return Effect.die(invalidBurst(undefined, burst))
    if (typeof options.perSecond === "number" && !isRate(options.perSecond)) {
      return Effect.die(invalidRate(undefined, options.perSecond))
    }
    const adaptive = resolveAdaptive(options.adaptive)
    if (adaptive instanceof KeyedRateLimiterError) return Effect.die(adaptive)
    return Effect.succeed(new Limiter<K>(clock, options.perSecond, burst, adaptive))
  })

/**
 * The raw entry count of a limiter made by {@link make}, for tests of the
 * amortised sweep (`size()` sweeps first, so it cannot show it).
 *
 * @internal
 */
export const trackedUnsafe = <K>(limiter: KeyedRateLimiter.KeyedRateLimiter<K>): number =>
  limiter instanceof Limiter ? limiter.trackedUnsafe() : 0
