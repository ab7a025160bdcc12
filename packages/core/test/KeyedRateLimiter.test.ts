import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as KeyedRateLimiter from "../src/KeyedRateLimiter.js"
import * as internal from "../src/internal/keyedRateLimiter.js"

/** Yields until `key` has `n` queued fibers: forked fibers start asynchronously. */
const awaitWaiting = <K>(limiter: KeyedRateLimiter.KeyedRateLimiter<K>, key: K, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (limiter.state(key).waiting === n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`key never had ${n} waiters (has ${limiter.state(key).waiting})`)
  })

/** Start times (TestClock ms) of the requests of one run, tagged. */
const makeLog = () => {
  const starts: Array<{ readonly tag: string; readonly at: number }> = []
  const start = <K>(limiter: KeyedRateLimiter.KeyedRateLimiter<K>, key: K, tag = String(key)) =>
    limiter.take(key).pipe(
      Effect.zipRight(Clock.currentTimeMillis),
      Effect.tap((at) => Effect.sync(() => starts.push({ tag, at })))
    )
  const times = (tag?: string) => starts.filter((s) => tag === undefined || s.tag === tag).map((s) => s.at)
  return { start, times, starts }
}

const pendingSleeps = Effect.map(TestClock.sleeps(), Chunk.toReadonlyArray)

/** Yields until the TestClock has `n` pending sleeps (the head sleeps in a forked race). */
const awaitSleeps = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      const sleeps = yield* pendingSleeps
      if (sleeps.length >= n) return sleeps
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`never saw ${n} pending sleeps`)
  })

const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

/** The most starts any window of `windowMs` contains (windows anchored at starts are the worst ones). */
const maxInWindow = (times: ReadonlyArray<number>, windowMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  for (let i = 0; i < sorted.length; i++) {
    let j = i
    while (j < sorted.length && (sorted[j] ?? Infinity) - (sorted[i] ?? 0) <= windowMs) j++
    best = Math.max(best, j - i)
  }
  return best
}

describe("KeyedRateLimiter", () => {
  it.effect("rate 2/s, burst 1: starts at 0, 500, 1000, 1500, 2000 ms", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 2 })
      const log = makeLog()
      const run = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => log.start(limiter, "k"))))
      yield* awaitWaiting(limiter, "k", 1)
      // Only the head of the queue sleeps, exactly until the next slot.
      expect(yield* awaitSleeps(1)).toEqual([500])
      yield* TestClock.adjust(499)
      expect(log.times()).toEqual([0])
      yield* TestClock.adjust(1)
      expect(log.times()).toEqual([0, 500])
      yield* TestClock.adjust(1500)
      yield* Fiber.join(run)
      expect(log.times()).toEqual([0, 500, 1000, 1500, 2000])
    }))

  it.effect("concurrent takes of one key are spaced by the rate", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 4 })
      const log = makeLog()
      const run = yield* Effect.fork(
        Effect.all(Array.from({ length: 8 }, () => log.start(limiter, "k")), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust(2000)
      yield* Fiber.join(run)
      expect(log.times()).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750])
    }))

  it.effect("burst: a full bucket allows `burst` back-to-back starts, then the rate", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1, burst: 3 })
      const log = makeLog()
      const first = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => log.start(limiter, "k"))))
      yield* TestClock.adjust(2000)
      yield* Fiber.join(first)
      expect(log.times()).toEqual([0, 0, 0, 1000, 2000])
      // Idle for 2.5 s refills 2.5 tokens: two immediate starts, the third when the bucket reaches 3.
      yield* TestClock.adjust(2500)
      const second = yield* Effect.fork(Effect.all(Array.from({ length: 4 }, () => log.start(limiter, "k"))))
      yield* TestClock.adjust(3000)
      yield* Fiber.join(second)
      expect(log.times().slice(5)).toEqual([4500, 4500, 5000, 6000])
      expect(maxInWindow(log.times(), 1000)).toBeLessThanOrEqual(3 + 1)
    }))

  it.effect("keys are independent", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: (key) => key === "fast" ? 10 : 1 })
      const log = makeLog()
      const run = yield* Effect.fork(
        Effect.all(
          ["fast", "slow", "other"].map((key) => Effect.all(Array.from({ length: 3 }, () => log.start(limiter, key)))),
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust(2000)
      yield* Fiber.join(run)
      expect(log.times("fast")).toEqual([0, 100, 200])
      expect(log.times("slow")).toEqual([0, 1000, 2000])
      expect(log.times("other")).toEqual([0, 1000, 2000])
    }))

  it.effect("pauseUntil delays starts, never shortens a pause, and shifts queued waiters", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 2 })
      const log = makeLog()
      yield* limiter.pauseUntil("k", 3000)
      yield* limiter.pauseUntil("k", 1000)
      expect(limiter.state("k")).toEqual({
        perSecond: 2,
        configuredPerSecond: 2,
        burst: 1,
        floorMs: 0,
        nextAllowedAt: 3000,
        pausedUntil: 3000,
        waiting: 0,
        throttles: 0,
        successes: 0
      })
      const run = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "k"))))
      yield* TestClock.adjust(2999)
      expect(log.times()).toEqual([])
      yield* TestClock.adjust(1)
      expect(log.times()).toEqual([3000])
      // A Retry-After arriving while a waiter is queued moves it too.
      yield* limiter.pauseUntil("k", 5000)
      yield* TestClock.adjust(3000)
      yield* Fiber.join(run)
      expect(log.times()).toEqual([3000, 5000, 5500])
      // Other keys are untouched; a pause in the past is a no-op.
      yield* limiter.pauseUntil("other", 0)
      expect(yield* log.start(limiter, "other")).toBe(6000)
    }))

  it.effect("pauseUntil works when the rate is unlimited", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: Infinity })
      const log = makeLog()
      yield* limiter.pauseUntil("k", 1000)
      const run = yield* Effect.fork(
        Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "k")), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust(1000)
      yield* Fiber.join(run)
      expect(log.times()).toEqual([1000, 1000, 1000])
      expect(limiter.size()).toBe(0)
    }))

  it.effect("setRate overrides one key, and setting it back to the default removes the override", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 10 })
      const log = makeLog()
      // Crawl-delay: 2 -> one start every 2 s
      yield* limiter.setRate("slow", 0.5)
      expect(limiter.state("slow")).toMatchObject({ perSecond: 0.5, burst: 1 })
      const run = yield* Effect.fork(
        Effect.all(
          [
            Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "slow"))),
            Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "fast")))
          ],
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust(4000)
      yield* Fiber.join(run)
      expect(log.times("slow")).toEqual([0, 2000, 4000])
      expect(log.times("fast")).toEqual([0, 100, 200])
      // The override is explicit state: it survives while the key is idle.
      yield* TestClock.adjust(60_000)
      expect(limiter.size()).toBe(1)
      expect(limiter.state("slow").perSecond).toBe(0.5)
      yield* limiter.setRate("slow", 10)
      expect(limiter.size()).toBe(0)
    }))

  it.effect("setRate converts the tokens already consumed to the new rate", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1 })
      const log = makeLog()
      yield* log.start(limiter, "k")
      // One token used at 1/s; at 0.1/s the same token takes 10 s to come back.
      yield* limiter.setRate("k", 0.1)
      const run = yield* Effect.fork(log.start(limiter, "k"))
      yield* TestClock.adjust(10_000)
      yield* Fiber.join(run)
      expect(log.times()).toEqual([0, 10_000])
      // Speeding up while a waiter is queued applies to that waiter's next check.
      yield* limiter.setRate("k", 2, 2)
      expect(limiter.state("k")).toMatchObject({ perSecond: 2, burst: 2, nextAllowedAt: 10_000 })
    }))

  it.effect("waiters start in FIFO order", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 10 })
      const log = makeLog()
      yield* log.start(limiter, "k", "first")
      const fibers: Array<Fiber.RuntimeFiber<number>> = []
      for (let i = 0; i < 10; i++) {
        fibers.push(yield* Effect.fork(log.start(limiter, "k", `w${i}`)))
        yield* awaitWaiting(limiter, "k", i + 1)
      }
      yield* TestClock.adjust(1000)
      yield* Fiber.joinAll(fibers)
      expect(log.starts.map((s) => s.tag)).toEqual(["first", ...Array.from({ length: 10 }, (_, i) => `w${i}`)])
      expect(log.times()).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])
    }))

  it.effect("a newcomer never passes a queued waiter, even when the key is free right now", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1 })
      const log = makeLog()
      yield* log.start(limiter, "k", "a")
      const b = yield* Effect.fork(log.start(limiter, "k", "b"))
      yield* awaitWaiting(limiter, "k", 1)
      yield* awaitSleeps(1)
      yield* TestClock.adjust(500)
      // A burst of 2 makes the key free at once: the sleeping head is kicked, but has not run yet
      // when this fiber asks in the same step.
      yield* limiter.setRate("k", 1, 2)
      expect(limiter.state("k")).toMatchObject({ nextAllowedAt: 500, waiting: 1 })
      // Once b has started, let time run so that c (queued behind it) can start too.
      const clock = yield* Effect.fork(
        Effect.gen(function*() {
          while (log.starts.length < 2) yield* Effect.yieldNow()
          yield* TestClock.adjust(500)
        })
      )
      const c = yield* log.start(limiter, "k", "c")
      yield* Fiber.join(b)
      yield* Fiber.join(clock)
      expect(log.starts).toEqual([{ tag: "a", at: 0 }, { tag: "b", at: 500 }, { tag: "c", at: c }])
      expect(c).toBe(1000)
    }))

  it.effect("a rate raised while the head sleeps applies at once", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 0.1 })
      const log = makeLog()
      yield* log.start(limiter, "k")
      const next = yield* Effect.fork(log.start(limiter, "k"))
      expect(yield* awaitSleeps(1)).toEqual([10_000])
      yield* TestClock.adjust(1000)
      // 1 s of the 10 s token has refilled; the remaining 0.9 token takes 0.9 × 100 ms at 10/s.
      yield* limiter.setRate("k", 10)
      yield* TestClock.adjust(90)
      expect(log.times()).toEqual([0, 1090])
      yield* Fiber.join(next)
    }))

  it.effect("a rate raised while the head is still setting up its sleep is not missed", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 0.1 })
      const log = makeLog()
      yield* log.start(limiter, "k")
      const next = yield* Effect.fork(log.start(limiter, "k"))
      // The head has queued and decided to sleep; its sleep fibers have not started yet.
      yield* awaitWaiting(limiter, "k", 1)
      yield* limiter.setRate("k", 10)
      yield* TestClock.adjust(100)
      expect(yield* Fiber.join(next)).toBe(100)
    }))

  it.effect("a start whose fiber is interrupted before it runs is given back", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1, burst: 2 })
      yield* limiter.pauseUntil("k", 1000)
      let victim: Fiber.RuntimeFiber<void> | undefined
      const driver = yield* Effect.fork(
        Effect.gen(function*() {
          yield* awaitWaiting(limiter, "k", 1)
          victim = yield* Effect.fork(limiter.take("k"))
          yield* awaitWaiting(limiter, "k", 2)
          yield* awaitSleeps(1)
          yield* TestClock.adjust(1000)
        })
      )
      // This fiber is the head: at 1000 it starts itself and, in the same step, the victim
      // (a burst of 2 allows both). The victim is interrupted before it can run.
      yield* limiter.take("k")
      if (victim === undefined) return yield* Effect.dieMessage("the victim was never forked")
      const forked = victim
      yield* Effect.fiberIdWith((id) => Effect.sync(() => forked.unsafeInterruptAsFork(id)))
      expect(Exit.isInterrupted(yield* Fiber.await(forked))).toBe(true)
      yield* Fiber.join(driver)
      // The victim's token is back: a newcomer at 1000 starts at once (2 starts = the burst).
      expect(yield* limiter.take("k").pipe(Effect.zipRight(Clock.currentTimeMillis))).toBe(1000)
      expect(limiter.state("k").nextAllowedAt).toBe(2000)
    }))

  it.effect("an interrupted waiter gives its turn back and never lets the key start more", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1 })
      const log = makeLog()
      yield* log.start(limiter, "k", "a")
      const b = yield* Effect.fork(log.start(limiter, "k", "b"))
      yield* awaitWaiting(limiter, "k", 1)
      const c = yield* Effect.fork(log.start(limiter, "k", "c"))
      yield* awaitWaiting(limiter, "k", 2)
      const d = yield* Effect.fork(log.start(limiter, "k", "d"))
      yield* awaitWaiting(limiter, "k", 3)
      // Interrupt one in the middle and the head, which is the one sleeping.
      yield* Fiber.interrupt(c)
      yield* TestClock.adjust(400)
      yield* Fiber.interrupt(b)
      expect(limiter.state("k").waiting).toBe(1)
      yield* TestClock.adjust(600)
      expect(yield* Fiber.join(d)).toBe(1000)
      // Interrupting every waiter grants nothing extra: a newcomer at 1500 still waits for 2000.
      const e = yield* Effect.fork(log.start(limiter, "k", "e"))
      yield* awaitWaiting(limiter, "k", 1)
      yield* Fiber.interrupt(e)
      yield* TestClock.adjust(500)
      const f = yield* Effect.fork(log.start(limiter, "k", "f"))
      yield* TestClock.adjust(499)
      expect(log.times("f")).toEqual([])
      yield* TestClock.adjust(1)
      expect(yield* Fiber.join(f)).toBe(2000)
      expect(log.starts.map((s) => s.tag)).toEqual(["a", "d", "f"])
    }))

  it.effect("never exceeds burst + T × rate under random arrivals and interruptions", () =>
    Effect.gen(function*() {
      const rate = 5
      const burst = 3
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: rate, burst })
      const log = makeLog()
      const fibers: Array<Fiber.RuntimeFiber<number>> = []
      for (let step = 0; step < 300; step++) {
        const arrivals = yield* Random.nextIntBetween(0, 4)
        for (let i = 0; i < arrivals; i++) fibers.push(yield* Effect.fork(log.start(limiter, "k")))
        if ((yield* Random.nextIntBetween(0, 3)) === 0 && fibers.length > 0) {
          const victim = fibers[yield* Random.nextIntBetween(0, fibers.length)]
          if (victim !== undefined) yield* Fiber.interruptFork(victim)
        }
        if ((yield* Random.nextIntBetween(0, 5)) === 0) yield* limiter.pauseUntil("k", step * 37 + 200)
        yield* TestClock.adjust(yield* Random.nextIntBetween(1, 120))
      }
      yield* TestClock.adjust(1_000_000)
      yield* Effect.forEach(fibers, Fiber.await)
      const times = log.times()
      expect(times.length).toBeGreaterThan(100)
      for (const windowMs of [0, 1, 199, 200, 500, 1000, 5000]) {
        expect(maxInWindow(times, windowMs)).toBeLessThanOrEqual(burst + Math.floor((windowMs * rate) / 1000))
      }
      expect(limiter.size()).toBe(0)
    }))

  it.effect("drops keys once they are indistinguishable from fresh ones", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1 })
      for (let i = 0; i < 1000; i++) yield* limiter.take(`host-${i}`)
      yield* limiter.pauseUntil("paused", 5000)
      expect(limiter.size()).toBe(1001)
      yield* TestClock.adjust(999)
      expect(limiter.size()).toBe(1001)
      yield* TestClock.adjust(1)
      // Each bucket is full again: only the pause is still state.
      expect(limiter.size()).toBe(1)
      yield* TestClock.adjust(4000)
      expect(limiter.size()).toBe(0)
    }))

  it.effect("memory stays bounded under millions-of-hosts traffic without calling size()", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 2, burst: 2 })
      let peak = 0
      // 20 waves of 10,000 one-off hosts, one wave per second.
      for (let wave = 0; wave < 20; wave++) {
        for (let i = 0; i < 10_000; i++) {
          yield* limiter.take(`w${wave}-host-${i}`)
          peak = Math.max(peak, internal.trackedUnsafe(limiter))
        }
        yield* TestClock.adjust(1000)
      }
      // Live keys per wave are 10,000; sweeping on doubling keeps the rest below that again.
      expect(peak).toBeLessThanOrEqual(2 * 10_000)
      expect(limiter.size()).toBe(0)
    }), 60_000)

  it.effect("perSecond: Infinity starts everything at once and tracks nothing", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: Infinity })
      const log = makeLog()
      yield* Effect.all(Array.from({ length: 1000 }, (_, i) => log.start(limiter, `k${i % 10}`)), {
        concurrency: "unbounded"
      })
      expect(new Set(log.times())).toEqual(new Set([0]))
      expect(yield* pendingSleeps).toEqual([])
      expect(limiter.size()).toBe(0)
      expect(limiter.state("k0")).toMatchObject({ perSecond: Infinity, burst: 1, nextAllowedAt: 0, waiting: 0 })
      // Unlimited per key, through the function form.
      const mixed = yield* KeyedRateLimiter.make<string>({ perSecond: (key) => key === "open" ? Infinity : 1 })
      const run = yield* Effect.fork(
        Effect.all([
          Effect.all(Array.from({ length: 3 }, () => log.start(mixed, "open", "open"))),
          Effect.all(Array.from({ length: 2 }, () => log.start(mixed, "closed", "closed")))
        ], { concurrency: "unbounded" })
      )
      yield* TestClock.adjust(1000)
      yield* Fiber.join(run)
      expect(log.times("open")).toEqual([0, 0, 0])
      expect(log.times("closed")).toEqual([0, 1000])
    }))

  it.effect("withToken limits the start and holds nothing while the effect runs", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1 })
      const running = yield* Effect.fork(Effect.never.pipe(limiter.withToken("k")))
      const log = makeLog()
      const next = yield* Effect.fork(
        Clock.currentTimeMillis.pipe(limiter.withToken("k"), Effect.tap((at) => Effect.sync(() => log.starts.push({ tag: "k", at }))))
      )
      yield* TestClock.adjust(1000)
      expect(yield* Fiber.join(next)).toBe(1000)
      // The same effect value is limited again on every run (e.g. under Effect.retry).
      const once = Clock.currentTimeMillis.pipe(limiter.withToken("k"))
      const twice = yield* Effect.fork(Effect.all([once, once]))
      yield* TestClock.adjust(2000)
      expect(yield* Fiber.join(twice)).toEqual([2000, 3000])
      yield* Fiber.interrupt(running)
    }))

  it.effect("misuse dies with a KeyedRateLimiterError that says what to do", () =>
    Effect.gen(function*() {
      const zero = defectOf(yield* Effect.exit(KeyedRateLimiter.make({ perSecond: 0 })))
      expect((zero as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidRate")
      expect((zero as Error).message).toContain("above 0")
      const burst = defectOf(yield* Effect.exit(KeyedRateLimiter.make({ perSecond: 1, burst: 0.5 })))
      expect((burst as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidBurst")
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: (key) => key === "bad" ? -1 : 1 })
      const fromFn = defectOf(yield* Effect.exit(limiter.take("bad")))
      expect((fromFn as Error).message).toContain(`key "bad"`)
      const setRate = defectOf(yield* Effect.exit(limiter.setRate("k", Number.NaN)))
      expect((setRate as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidRate")
      const pause = defectOf(yield* Effect.exit(limiter.pauseUntil("k", Number.NaN)))
      expect((pause as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidPause")
      expect(limiter.size()).toBe(0)
    }))

  describe("adaptive mode", () => {
    const rateOf = <K>(limiter: KeyedRateLimiter.KeyedRateLimiter<K>, key: K) => limiter.state(key).perSecond

    it.effect("halves on a throttle, ignores the echo of requests in flight, stops at min, recovers additively", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({
          perSecond: 8,
          adaptive: { decrease: 0.5, increase: 1, min: 1 }
        })
        const log = makeLog()
        const trajectory: Array<number> = [rateOf(limiter, "k")]
        const throttle = Effect.zipRight(
          limiter.onThrottled("k"),
          Effect.sync(() => trajectory.push(rateOf(limiter, "k")))
        )
        yield* log.start(limiter, "k")
        yield* throttle
        // Other requests started before the decrease answer 429 too: the same event.
        yield* throttle
        expect(limiter.state("k")).toMatchObject({ perSecond: 4, configuredPerSecond: 8, throttles: 2 })
        // The token used at 8/s (125 ms) is owed at 4/s (250 ms): starts at 250, 500, 750.
        const run = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "k"))))
        yield* TestClock.adjust(750)
        yield* Fiber.join(run)
        expect(log.times()).toEqual([0, 250, 500, 750])
        // Started since the decrease, and an interval has passed: each throttle halves again, down to min.
        for (let i = 0; i < 3; i++) {
          yield* throttle
          const next = yield* Effect.fork(log.start(limiter, "k"))
          yield* TestClock.adjust(1000 / rateOf(limiter, "k"))
          yield* Fiber.join(next)
        }
        expect(trajectory).toEqual([8, 4, 4, 2, 1, 1])
        expect(log.times().slice(4)).toEqual([1250, 2250, 3250])
        // Additive increase: +1/s per success, back to the configured rate, where the key counts as recovered.
        const recovery: Array<number> = []
        for (let i = 0; i < 7; i++) {
          yield* limiter.onSuccess("k")
          recovery.push(rateOf(limiter, "k"))
          if (i === 3) expect(limiter.state("k")).toMatchObject({ throttles: 5, successes: 4 })
        }
        expect(recovery).toEqual([2, 3, 4, 5, 6, 7, 8])
        expect(limiter.state("k")).toMatchObject({ perSecond: 8, throttles: 0, successes: 0 })
        // Successes at full rate change nothing; once its last token is back the key is forgotten.
        yield* limiter.onSuccess("k")
        expect(rateOf(limiter, "k")).toBe(8)
        yield* TestClock.adjust(1000)
        expect(limiter.size()).toBe(0)
      }))

    it.effect("Retry-After pauses the key, then starts follow the decreased rate", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 4, adaptive: {} })
        const log = makeLog()
        yield* log.start(limiter, "k")
        yield* limiter.onThrottled("k", { retryAfterMs: 5000 })
        expect(limiter.state("k")).toMatchObject({ perSecond: 2, pausedUntil: 5000, nextAllowedAt: 5000 })
        const run = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "k"))))
        yield* TestClock.adjust(4999)
        expect(log.times()).toEqual([0])
        yield* TestClock.adjust(1001)
        yield* Fiber.join(run)
        expect(log.times()).toEqual([0, 5000, 5500, 6000])
        // A shorter Retry-After never shortens a pause; the default increase is a tenth of the configured rate.
        yield* limiter.onThrottled("k", { retryAfterMs: 10_000 })
        yield* limiter.onThrottled("k", { retryAfterMs: 1 })
        expect(limiter.state("k")).toMatchObject({ perSecond: 1, pausedUntil: 16_000 })
        yield* limiter.onSuccess("k")
        expect(rateOf(limiter, "k")).toBeCloseTo(1.4, 10)
      }))

    it.effect("a floor (Crawl-delay) caps the rate, and recovery stops at it", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 4, adaptive: { increase: 1 } })
        const log = makeLog()
        yield* limiter.setFloor("k", 1000)
        expect(limiter.state("k")).toMatchObject({ perSecond: 1, configuredPerSecond: 4, floorMs: 1000 })
        const run = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => log.start(limiter, "k"))))
        yield* TestClock.adjust(2000)
        yield* Fiber.join(run)
        expect(log.times()).toEqual([0, 1000, 2000])
        yield* limiter.onThrottled("k")
        expect(rateOf(limiter, "k")).toBe(0.5)
        yield* limiter.onSuccess("k")
        expect(limiter.state("k")).toMatchObject({ perSecond: 1, throttles: 0 })
        // The floor is explicit state: it outlives idleness, and removing it restores the rate.
        yield* TestClock.adjust(60_000)
        expect(limiter.size()).toBe(1)
        yield* limiter.setFloor("k", 0)
        expect(rateOf(limiter, "k")).toBe(4)
        expect(limiter.size()).toBe(0)
      }))

    it.effect("a rate raised by a success wakes the sleeping head at once", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({
          perSecond: 10,
          adaptive: { decrease: 0.1, min: 1, increase: 9 }
        })
        const log = makeLog()
        yield* log.start(limiter, "k")
        yield* limiter.onThrottled("k")
        const next = yield* Effect.fork(log.start(limiter, "k"))
        // One token owed at 1/s: the head sleeps until 1000.
        expect(yield* awaitSleeps(1)).toEqual([1000])
        yield* TestClock.adjust(100)
        yield* limiter.onSuccess("k")
        // Back at 10/s the remaining 0.9 token takes 90 ms.
        yield* TestClock.adjust(90)
        expect(yield* Fiber.join(next)).toBe(190)
      }))

    it.effect("unlimited keys slow down from `max` and become unlimited again once recovered", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({
          perSecond: Infinity,
          adaptive: { max: 10, increase: 5 }
        })
        yield* limiter.onThrottled("k")
        expect(limiter.state("k")).toMatchObject({ perSecond: 5, configuredPerSecond: Infinity })
        yield* limiter.onSuccess("k")
        expect(rateOf(limiter, "k")).toBe(Infinity)
        expect(limiter.size()).toBe(0)
        // Without max there is no rate to decrease from: only the pause applies.
        const noMax = yield* KeyedRateLimiter.make<string>({ perSecond: Infinity, adaptive: {} })
        yield* noMax.onThrottled("k", { retryAfterMs: 1000 })
        expect(noMax.state("k")).toMatchObject({ perSecond: Infinity, pausedUntil: 1000 })
      }))

    it.effect("a slowed key left alone for forgetAfter starts over at its configured rate", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 2, adaptive: { forgetAfter: "1 minute" } })
        yield* limiter.onThrottled("k")
        expect(rateOf(limiter, "k")).toBe(1)
        yield* TestClock.adjust(59_999)
        expect(limiter.size()).toBe(1)
        yield* TestClock.adjust(1)
        expect(limiter.size()).toBe(0)
        expect(rateOf(limiter, "k")).toBe(2)
      }))

    it.effect("without adaptive, onThrottled only pauses and onSuccess does nothing", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 2 })
        yield* limiter.onThrottled("k", { retryAfterMs: 3000 })
        expect(limiter.state("k")).toMatchObject({ perSecond: 2, pausedUntil: 3000, throttles: 1 })
        yield* limiter.onSuccess("k")
        yield* limiter.onThrottled("quiet")
        expect(limiter.size()).toBe(1)
        limiter.unsafeOnThrottled("k", 4000)
        expect(limiter.state("k").pausedUntil).toBe(4000)
      }))

    it.effect("never starts faster than the rates in force while it moves", () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedRateLimiter.make<string>({
          perSecond: 10,
          adaptive: { decrease: 0.5, increase: 1, min: 0.5 }
        })
        // One timeline of starts and rate changes. With burst 1, tokens owed are carried over
        // when the rate changes, so two consecutive starts are never closer than the smallest
        // interval in force at any moment between them.
        const timeline: Array<{ readonly start: boolean; readonly at: number; readonly interval: number }> = []
        const record = (start: boolean) =>
          Effect.map(Clock.currentTimeMillis, (at) => {
            timeline.push({ start, at, interval: 1000 / limiter.state("k").perSecond })
          })
        const fibers: Array<Fiber.RuntimeFiber<void>> = []
        for (let step = 0; step < 200; step++) {
          fibers.push(yield* Effect.fork(Effect.zipRight(limiter.take("k"), record(true))))
          const dice = yield* Random.nextIntBetween(0, 10)
          if (dice === 0) yield* Effect.zipRight(limiter.onThrottled("k"), record(false))
          else if (dice < 5) yield* Effect.zipRight(limiter.onSuccess("k"), record(false))
          yield* TestClock.adjust(yield* Random.nextIntBetween(1, 150))
        }
        yield* TestClock.adjust(10_000_000)
        yield* Effect.forEach(fibers, Fiber.join)
        expect(timeline.filter((e) => e.start).length).toBe(200)
        expect(new Set(timeline.map((e) => e.interval)).size).toBeGreaterThan(3)
        let previous = -1
        let smallest = Infinity
        timeline.forEach((event, i) => {
          smallest = Math.min(smallest, event.interval)
          if (!event.start) return
          const before = timeline[previous]
          if (before !== undefined) expect(event.at - before.at).toBeGreaterThanOrEqual(smallest - 1e-6)
          previous = i
          smallest = event.interval
        })
      }))

    it.effect("misuse dies with a KeyedRateLimiterError", () =>
      Effect.gen(function*() {
        const decrease = defectOf(yield* Effect.exit(KeyedRateLimiter.make({ perSecond: 1, adaptive: { decrease: 1.5 } })))
        expect((decrease as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidAdaptive")
        expect((decrease as Error).message).toContain("between 0 and 1")
        const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: 1, adaptive: {} })
        const floor = defectOf(yield* Effect.exit(limiter.setFloor("k", -1)))
        expect((floor as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidFloor")
        const retry = defectOf(yield* Effect.exit(limiter.onThrottled("k", { retryAfterMs: Number.NaN })))
        expect((retry as KeyedRateLimiter.KeyedRateLimiterError).reason).toBe("InvalidPause")
        expect(limiter.size()).toBe(0)
      }))
  })
})
