import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as KeyedSemaphore from "../KeyedSemaphore.js"

/** @internal */
export class KeyedSemaphoreError extends Data.TaggedError("KeyedSemaphoreError")<{
  readonly reason: "InvalidPermits" | "PermitsExceedLimit" | "ReleaseWithoutTake"
  readonly key: unknown
  readonly detail: string
}> {
  override get message(): string {
    return `KeyedSemaphore${this.key === undefined ? "" : ` key ${describeKey(this.key)}`}: ${this.detail}`
  }
}

const describeKey = (key: unknown): string => typeof key === "string" ? JSON.stringify(key) : String(key)

const isLimit = (permits: number): boolean => permits === Infinity || (Number.isInteger(permits) && permits >= 1)

const invalidLimit = (key: unknown, permits: number): KeyedSemaphoreError =>
  new KeyedSemaphoreError({
    reason: "InvalidPermits",
    key,
    detail: `the configured limit is ${permits}; permits must be a positive integer, or Infinity for no limit.`
  })

const invalidCount = (key: unknown, n: number): KeyedSemaphoreError =>
  new KeyedSemaphoreError({
    reason: "InvalidPermits",
    key,
    detail: `cannot take or release ${n} permits; pass a non-negative integer.`
  })

const exceedsLimit = (key: unknown, n: number, permits: number): KeyedSemaphoreError =>
  new KeyedSemaphoreError({
    reason: "PermitsExceedLimit",
    key,
    detail: `asked for ${n} permits but the key allows only ${permits}, so the request could never be granted; ` +
      `ask for at most permitsFor(key), or raise the limit.`
  })

/**
 * A fiber queued for permits. `granted` flips when a release hands it the
 * permits directly, before its fiber has run again: whoever finishes the
 * waiter (its success path or its interruption) owns them from that moment.
 */
class Waiter<K> {
  entry: Entry<K> | undefined = undefined
  prev: Waiter<K> | undefined = undefined
  next: Waiter<K> | undefined = undefined
  queued = false
  granted = false
  resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  constructor(readonly n: number) {}
}

/**
 * Per-key state. An entry with nothing held and nobody waiting is idle: it
 * stays in the map for reuse until the next sweep (see `Limited.idle`).
 */
class Entry<K> {
  taken = 0
  waiting = 0
  head: Waiter<K> | undefined = undefined
  tail: Waiter<K> | undefined = undefined
  /**
   * Links in the ring of keys waiting for the shared total (only with a
   * `total`): an entry is in the ring exactly when its head waiter fits the
   * key's own limit and waits for total capacity alone.
   */
  inRing = false
  ringPrev: Entry<K> | undefined = undefined
  ringNext: Entry<K> | undefined = undefined
  constructor(readonly key: K, readonly permits: number) {}
}

const enqueue = <K>(entry: Entry<K>, waiter: Waiter<K>): void => {
  waiter.entry = entry
  waiter.queued = true
  waiter.prev = entry.tail
  if (entry.tail === undefined) entry.head = waiter
  else entry.tail.next = waiter
  entry.tail = waiter
  entry.waiting++
}

const unlink = <K>(entry: Entry<K>, waiter: Waiter<K>): void => {
  if (waiter.prev === undefined) entry.head = waiter.next
  else waiter.prev.next = waiter.next
  if (waiter.next === undefined) entry.tail = waiter.prev
  else waiter.next.prev = waiter.prev
  waiter.prev = undefined
  waiter.next = undefined
  waiter.queued = false
  entry.waiting--
}

/**
 * Builds `matchCauseEffect` handlers from two argument closures. tsx runs
 * esbuild with `keepNames`, which wraps every closure written as an object
 * literal property in an `Object.defineProperty` call; on the per-request
 * path that was the single largest cost. Closures passed as arguments are
 * left alone.
 */
const handlers = <E, A, A2, E2, R2, A3, E3, R3>(
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>,
  onSuccess: (a: A) => Effect.Effect<A3, E3, R3>
) => ({ onFailure, onSuccess })

const UNLIMITED = Symbol("UNLIMITED")

/** The permits are not available now: the fiber has to queue on `entry`. */
class Blocked<K> {
  constructor(readonly entry: Entry<K>) {}
}

class Unlimited<K> implements KeyedSemaphore.KeyedSemaphore<K> {
  readonly withPermit = (_key: K) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => self
  readonly withPermits = (_key: K, _n: number) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    self
  readonly take = (_key: K, _n?: number): Effect.Effect<void> => Effect.void
  readonly release = (_key: K, _n?: number): Effect.Effect<void> => Effect.void
  readonly permitsFor = (_key: K): number => Infinity
  readonly state = (_key: K): KeyedSemaphore.State => ({ inUse: 0, waiting: 0, permits: Infinity })
  readonly totalState = (): KeyedSemaphore.TotalState => ({ inUse: 0, permits: Infinity, keysWaiting: 0 })
  readonly size = (): number => 0
  readonly unsafeTake = (_key: K): boolean => true
  readonly unsafeAwait = (_key: K, onGranted: () => void): () => void => {
    onGranted()
    return noop
  }
  readonly unsafeRelease = (_key: K): void => {}
}

const noop = (): void => {}

/**
 * Idle entries are swept once there are more than this many and they
 * outnumber the live ones. Dropping a key the moment it goes idle costs an
 * allocation, a `Map.set` and a `Map.delete` per use of a key nobody else is
 * using (about a third of an uncontended `withPermit`); keeping it makes the
 * next use a plain lookup, and the sweep is O(1) amortised per idle entry.
 */
const SWEEP_MIN = 1024

/**
 * Per-key limits, and optionally a shared total across keys.
 *
 * Without a total, a release hands the key's permits to its own queue in
 * order. With one, a key whose head waiter fits the key's limit but not the
 * total joins a ring of keys; freed total capacity goes round the ring, one
 * grant per key per turn, so a key with ten thousand waiters and a key with
 * one alternate instead of the first draining its queue. The ring is served
 * strictly in order: if the next key's head needs more than is free, later
 * keys wait too (no small request starves a big one).
 */
class Limited<K> implements KeyedSemaphore.KeyedSemaphore<K> {
  private readonly entries = new Map<K, Entry<K>>()
  /** Entries in `entries` that are idle: `size()` is the others. */
  private idle = 0
  /** Permits held across all keys. */
  private totalTaken = 0
  private readonly capped: boolean
  private ringHead: Entry<K> | undefined = undefined
  private ringTail: Entry<K> | undefined = undefined
  private ringSize = 0

  constructor(
    private readonly limit: number | ((key: K) => number),
    private readonly total: number
  ) {
    this.capped = total !== Infinity
  }

  private limitOf(key: K): number {
    return typeof this.limit === "number" ? this.limit : this.limit(key)
  }

  readonly permitsFor = (key: K): number => {
    const entry = this.entries.get(key)
    return entry === undefined ? this.limitOf(key) : entry.permits
  }

  readonly state = (key: K): KeyedSemaphore.State => {
    const entry = this.entries.get(key)
    return entry === undefined
      ? { inUse: 0, waiting: 0, permits: this.permitsFor(key) }
      : { inUse: entry.taken, waiting: entry.waiting, permits: entry.permits }
  }

  readonly totalState = (): KeyedSemaphore.TotalState => ({
    inUse: this.totalTaken,
    permits: this.total,
    keysWaiting: this.ringSize
  })

  readonly size = (): number => this.entries.size - this.idle

  /** The number of entries held in memory, idle ones included: for tests of the sweep. */
  readonly trackedUnsafe = (): number => this.entries.size

  private sweep(): void {
    for (const [key, entry] of this.entries) {
      if (entry.taken === 0 && entry.head === undefined) this.entries.delete(key)
    }
    this.idle = 0
  }

  /**
   * Takes `n` permits synchronously if that is allowed right now without
   * passing a queued fiber (of this key, or of any key waiting for the
   * total). Returns the entry holding them, `UNLIMITED` for a key without a
   * limit, `Blocked` (only on the slow path, so the allocation is fine), or
   * the defect to die with.
   */
  private tryTake(key: K, n: number): Entry<K> | typeof UNLIMITED | Blocked<K> | KeyedSemaphoreError {
    const entry = this.entries.get(key)
    if (entry === undefined) {
      const permits = this.limitOf(key)
      if (permits === Infinity && !this.capped) return UNLIMITED
      if (!isLimit(permits)) return invalidLimit(key, permits)
      if (n > permits || n > this.total) return exceedsLimit(key, n, permits < this.total ? permits : this.total)
      const created = new Entry(key, permits)
      this.entries.set(key, created)
      if (this.capped && (this.ringHead !== undefined || this.totalTaken + n > this.total)) {
        // Idle until a waiter queues on it (see `queueOn`).
        this.idle++
        return new Blocked(created)
      }
      created.taken = n
      this.totalTaken += n
      return created
    }
    if (
      entry.head === undefined && entry.taken + n <= entry.permits &&
      (!this.capped || (this.ringHead === undefined && this.totalTaken + n <= this.total))
    ) {
      // Nothing taken and nobody queued: the entry was idle.
      if (entry.taken === 0) this.idle--
      entry.taken += n
      this.totalTaken += n
      return entry
    }
    if (n > entry.permits || n > this.total) {
      return exceedsLimit(key, n, entry.permits < this.total ? entry.permits : this.total)
    }
    return new Blocked(entry)
  }

  /** Queues `waiter` on `entry`, in the same synchronous step as the `tryTake` that returned `Blocked`. */
  private queueOn(entry: Entry<K>, waiter: Waiter<K>): void {
    if (entry.taken === 0 && entry.head === undefined) this.idle--
    enqueue(entry, waiter)
    // A new head that fits the key's limit was blocked by the total: it waits in the ring.
    if (this.capped && entry.head === waiter) this.reconsider(entry)
  }

  /**
   * Parks the fiber until `waiter` is granted. The fast check ran in an
   * earlier step and the fiber may have yielded since, so registration checks
   * again: the entry may be gone or have room by now.
   */
  private park(key: K, waiter: Waiter<K>): Effect.Effect<void> {
    // One-parameter callback: Effect.async then allocates no AbortController,
    // and with no canceler returned it adds no onInterrupt wrapper; the caller
    // handles interruption in an uninterruptible region, where it can see
    // whether the permits were already granted.
    return Effect.async<void>((resume) => {
      const taken = this.tryTake(key, waiter.n)
      if (taken instanceof Blocked) {
        this.queueOn(taken.entry, waiter)
        waiter.resume = resume
        return
      }
      if (taken instanceof Entry) {
        waiter.entry = taken
        waiter.granted = true
      } else if (taken !== UNLIMITED) {
        return resume(Effect.die(taken))
      }
      resume(Effect.void)
    })
  }

  /** Called when a waiter's fiber fails or is interrupted before it could use its permits. */
  private abandon(waiter: Waiter<K>): void {
    const entry = waiter.entry
    if (entry === undefined) return
    if (waiter.granted) {
      waiter.granted = false
      this.releaseUnsafe(entry, waiter.n)
    } else if (waiter.queued) {
      unlink(entry, waiter)
      // The departed waiter may have been blocking smaller requests behind it.
      this.releaseUnsafe(entry, 0)
    }
  }

  private grant(entry: Entry<K>, waiter: Waiter<K>): void {
    entry.taken += waiter.n
    this.totalTaken += waiter.n
    unlink(entry, waiter)
    waiter.granted = true
    const resume = waiter.resume
    waiter.resume = undefined
    if (resume !== undefined) resume(Effect.void)
  }

  /**
   * Returns permits and hands them on: to the key's own queue in order, or,
   * with a total, round the ring of waiting keys. The entry was live before
   * the call.
   */
  private releaseUnsafe(entry: Entry<K>, n: number): void {
    entry.taken -= n
    this.totalTaken -= n
    if (this.capped) {
      this.reconsider(entry)
      this.serveRing()
    } else {
      let waiter = entry.head
      while (waiter !== undefined && entry.taken + waiter.n <= entry.permits) {
        this.grant(entry, waiter)
        waiter = entry.head
      }
    }
    if (entry.taken === 0 && entry.head === undefined) {
      this.idle++
      if (this.idle > SWEEP_MIN && this.idle > this.entries.size - this.idle) this.sweep()
    }
  }

  /** Puts `entry` in the ring, or takes it out, after its head or its permits changed. */
  private reconsider(entry: Entry<K>): void {
    const head = entry.head
    const eligible = head !== undefined && entry.taken + head.n <= entry.permits
    if (eligible === entry.inRing) return
    if (eligible) {
      entry.inRing = true
      entry.ringPrev = this.ringTail
      if (this.ringTail === undefined) this.ringHead = entry
      else this.ringTail.ringNext = entry
      this.ringTail = entry
      this.ringSize++
    } else {
      this.ringRemove(entry)
    }
  }

  private ringRemove(entry: Entry<K>): void {
    if (entry.ringPrev === undefined) this.ringHead = entry.ringNext
    else entry.ringPrev.ringNext = entry.ringNext
    if (entry.ringNext === undefined) this.ringTail = entry.ringPrev
    else entry.ringNext.ringPrev = entry.ringPrev
    entry.ringPrev = undefined
    entry.ringNext = undefined
    entry.inRing = false
    this.ringSize--
  }

  /** Grants free total capacity round the ring: one waiter per key, then the key goes to the back. */
  private serveRing(): void {
    let entry = this.ringHead
    while (entry !== undefined) {
      const waiter = entry.head
      // Ring members always have a head that fits their key (see `reconsider`).
      if (waiter === undefined || this.totalTaken + waiter.n > this.total) return
      this.ringRemove(entry)
      this.grant(entry, waiter)
      this.reconsider(entry)
      entry = this.ringHead
    }
  }

  private holding<A, E, R>(entry: Entry<K>, n: number, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.matchCauseEffect(
      self,
      handlers(
        (cause: Cause.Cause<E>) => {
          this.releaseUnsafe(entry, n)
          return Effect.failCause(cause)
        },
        (a: A) => {
          this.releaseUnsafe(entry, n)
          return Effect.succeed(a)
        }
      )
    )
  }

  private withPermitsUnchecked<A, E, R>(key: K, n: number, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) => {
      const taken = this.tryTake(key, n)
      if (taken instanceof Entry) return this.holding(taken, n, restore(self))
      if (taken === UNLIMITED) return restore(self)
      if (!(taken instanceof Blocked)) return Effect.die(taken)
      const waiter = new Waiter<K>(n)
      return Effect.matchCauseEffect(
        restore(this.park(key, waiter)),
        handlers(
          (cause: Cause.Cause<never>) => {
            this.abandon(waiter)
            return Effect.failCause(cause)
          },
          () => {
            const entry = waiter.entry
            if (entry === undefined) return restore(self)
            waiter.granted = false
            return this.holding(entry, n, restore(self))
          }
        )
      )
    })
  }

  readonly withPermit = (key: K) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    this.withPermitsUnchecked(key, 1, self)

  readonly withPermits = (key: K, n: number) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    if (!(Number.isInteger(n) && n >= 0)) return Effect.die(invalidCount(key, n))
    return n === 0 ? self : this.withPermitsUnchecked(key, n, self)
  }

  readonly take = (key: K, n = 1): Effect.Effect<void> => {
    if (!(Number.isInteger(n) && n >= 0)) return Effect.die(invalidCount(key, n))
    if (n === 0) return Effect.void
    return Effect.uninterruptibleMask((restore) => {
      const taken = this.tryTake(key, n)
      if (taken instanceof Entry || taken === UNLIMITED) return Effect.void
      if (!(taken instanceof Blocked)) return Effect.die(taken)
      const waiter = new Waiter<K>(n)
      return Effect.matchCauseEffect(
        restore(this.park(key, waiter)),
        handlers(
          (cause: Cause.Cause<never>) => {
            this.abandon(waiter)
            return Effect.failCause(cause)
          },
          () => {
            waiter.granted = false
            return Effect.void
          }
        )
      )
    })
  }

  readonly unsafeTake = (key: K): boolean => {
    const taken = this.tryTake(key, 1)
    if (taken instanceof Entry || taken === UNLIMITED) return true
    if (taken instanceof Blocked) return false
    throw taken
  }

  readonly unsafeAwait = (key: K, onGranted: () => void): () => void => {
    const taken = this.tryTake(key, 1)
    if (taken instanceof Entry || taken === UNLIMITED) {
      onGranted()
      return noop
    }
    if (!(taken instanceof Blocked)) throw taken
    const waiter = new Waiter<K>(1)
    this.queueOn(taken.entry, waiter)
    waiter.resume = () => {
      // The permit now belongs to the caller; `granted` only matters to fibers.
      waiter.granted = false
      onGranted()
    }
    return () => {
      if (waiter.queued) this.abandon(waiter)
    }
  }

  readonly unsafeRelease = (key: K): void => {
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.taken > 0) this.releaseUnsafe(entry, 1)
  }

  readonly release = (key: K, n = 1): Effect.Effect<void> => {
    if (!(Number.isInteger(n) && n >= 0)) return Effect.die(invalidCount(key, n))
    return Effect.suspend(() => {
      if (n === 0) return Effect.void
      const entry = this.entries.get(key)
      if (entry === undefined && this.limitOf(key) === Infinity && !this.capped) return Effect.void
      const held = entry === undefined ? 0 : entry.taken
      if (entry === undefined || held < n) {
        return Effect.die(
          new KeyedSemaphoreError({
            reason: "ReleaseWithoutTake",
            key,
            detail: `release of ${n} permits, but only ${held} are held; release exactly what take acquired ` +
              `(withPermit does this for you).`
          })
        )
      }
      this.releaseUnsafe(entry, n)
      return Effect.void
    })
  }
}

/**
 * The raw entry count of a semaphore made by {@link make}, idle entries
 * included, for tests of the sweep (`size()` counts only live keys).
 *
 * @internal
 */
export const trackedUnsafe = <K>(semaphore: KeyedSemaphore.KeyedSemaphore<K>): number =>
  semaphore instanceof Limited ? semaphore.trackedUnsafe() : 0

/** @internal */
export const make = <K>(options: KeyedSemaphore.Options<K>): Effect.Effect<KeyedSemaphore.KeyedSemaphore<K>> =>
  Effect.suspend(() => {
    const permits = options.permits
    const total = options.total ?? Infinity
    if (!isLimit(total)) {
      return Effect.die(
        new KeyedSemaphoreError({
          reason: "InvalidPermits",
          key: undefined,
          detail: `the total is ${total}; it must be a positive integer, or Infinity (the default) for no shared cap.`
        })
      )
    }
    if (typeof permits === "number") {
      if (!isLimit(permits)) return Effect.die(invalidLimit(undefined, permits))
      if (permits === Infinity && total === Infinity) return Effect.succeed(new Unlimited<K>())
    }
    return Effect.succeed(new Limited<K>(permits, total))
  })
