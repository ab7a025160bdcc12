import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as internal from "../src/internal/keyedSemaphore.js"
import * as KeyedSemaphore from "../src/KeyedSemaphore.js"

/** Yields until `key` has `n` queued fibers: forked fibers start asynchronously. */
const awaitWaiting = <K>(sem: KeyedSemaphore.KeyedSemaphore<K>, key: K, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (sem.state(key).waiting === n) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`key never had ${n} waiters (has ${sem.state(key).waiting})`)
  })

/** Runs `self` while counting how many fibers are inside it per key. */
const makeGauge = () => {
  const current = new Map<string, number>()
  const max = new Map<string, number>()
  const inside = (key: string, yields: number) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const now = (current.get(key) ?? 0) + 1
        current.set(key, now)
        max.set(key, Math.max(max.get(key) ?? 0, now))
      }),
      () => Effect.repeatN(Effect.yieldNow(), yields - 1),
      () => Effect.sync(() => current.set(key, (current.get(key) ?? 0) - 1))
    )
  return { inside, max }
}

const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe("KeyedSemaphore", () => {
  it.effect("limits concurrency per key, keys independently", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 3 })
      const gauge = makeGauge()
      const jobs = Array.from({ length: 200 }, (_, i) => {
        const key = ["a", "b", "c"][i % 3] ?? "a"
        return gauge.inside(key, 1 + (i % 5)).pipe(sem.withPermit(key))
      })
      yield* Effect.all(jobs, { concurrency: "unbounded", discard: true })
      expect(Object.fromEntries(gauge.max)).toEqual({ a: 3, b: 3, c: 3 })
      expect(sem.size()).toBe(0)
    }))

  it.effect("a saturated key does not block another key", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 2 })
      const gate = yield* Deferred.make<void>()
      const holders = yield* Effect.fork(
        Effect.all([1, 2, 3].map(() => Deferred.await(gate).pipe(sem.withPermit("busy"))), {
          concurrency: "unbounded"
        })
      )
      yield* awaitWaiting(sem, "busy", 1)
      expect(sem.state("busy")).toEqual({ inUse: 2, waiting: 1, permits: 2 })
      // The other key's permits are all free: two nested acquisitions succeed synchronously.
      const other = yield* Effect.succeed("ok").pipe(sem.withPermit("idle"), sem.withPermit("idle"))
      expect(other).toBe("ok")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holders)
      expect(sem.size()).toBe(0)
    }))

  it.effect("serves waiters in FIFO order, and a release hands over without barging", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 1 })
      const order: Array<number> = []
      yield* sem.take("k")
      const waiters: Array<Fiber.RuntimeFiber<number>> = []
      for (let i = 0; i < 10; i++) {
        waiters.push(yield* Effect.fork(Effect.sync(() => order.push(i)).pipe(sem.withPermit("k"))))
        yield* awaitWaiting(sem, "k", i + 1)
      }
      yield* sem.release("k")
      // Handed straight to waiter 0, which has not run yet: the permit stays in use.
      expect(sem.state("k")).toEqual({ inUse: 1, waiting: 9, permits: 1 })
      // A newcomer arriving now (this fiber) must queue behind everyone, not take the permit.
      yield* sem.take("k")
      order.push(99)
      yield* sem.release("k")
      yield* Fiber.joinAll(waiters)
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99])
      expect(sem.size()).toBe(0)
    }))

  it.effect("FIFO holds for multi-permit requests: a small request does not pass a big one", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 3 })
      const order: Array<string> = []
      yield* sem.take("k", 2)
      const big = yield* Effect.fork(Effect.sync(() => order.push("big")).pipe(sem.withPermits("k", 2)))
      yield* awaitWaiting(sem, "k", 1)
      const small = yield* Effect.fork(Effect.sync(() => order.push("small")).pipe(sem.withPermits("k", 1)))
      yield* awaitWaiting(sem, "k", 2)
      // One permit is free, but the big request is first in line.
      expect(sem.state("k")).toEqual({ inUse: 2, waiting: 2, permits: 3 })
      yield* sem.release("k", 2)
      yield* Fiber.joinAll([big, small])
      expect(order).toEqual(["big", "small"])
      expect(sem.size()).toBe(0)
    }))

  it.effect("drops idle keys: a million one-off keys leave size() at 0 and memory bounded", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 2 })
      let peak = 0
      let peakTracked = 0
      for (let i = 0; i < 1_000_000; i++) {
        yield* Effect.sync(() => {
          peak = Math.max(peak, sem.size())
        }).pipe(sem.withPermit(`host-${i}`))
        peakTracked = Math.max(peakTracked, internal.trackedUnsafe(sem))
      }
      expect(peak).toBe(1)
      expect(sem.size()).toBe(0)
      // Idle entries wait for a sweep, which runs once they pass 1024 and outnumber live ones.
      expect(peakTracked).toBeLessThanOrEqual(1025)
      // 100 live keys, then 10,000 one-off keys: idle entries never exceed max(1024, live) + 1.
      const live = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => `live-${i}`),
        (key) => Effect.fork(Effect.never.pipe(sem.withPermit(key)))
      )
      while (sem.size() < 100) yield* Effect.yieldNow()
      for (let i = 0; i < 10_000; i++) {
        yield* Effect.void.pipe(sem.withPermit(`again-${i}`))
        expect(internal.trackedUnsafe(sem)).toBeLessThanOrEqual(100 + 1025)
      }
      yield* Fiber.interruptAll(live)
      expect(sem.size()).toBe(0)
      yield* sem.take("x")
      yield* sem.take("y", 2)
      expect(sem.size()).toBe(2)
      yield* sem.release("x")
      yield* sem.release("y", 2)
      expect(sem.size()).toBe(0)
    }), 60_000)

  it.effect("an interrupted waiter leaves the queue, holds nothing, and the others proceed", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 1 })
      yield* sem.take("k")
      const first = yield* Effect.fork(sem.take("k"))
      yield* awaitWaiting(sem, "k", 1)
      const second = yield* Effect.fork(Effect.succeed("second").pipe(sem.withPermit("k")))
      yield* awaitWaiting(sem, "k", 2)
      const exit = yield* Fiber.interrupt(first)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(sem.state("k")).toEqual({ inUse: 1, waiting: 1, permits: 1 })
      yield* sem.release("k")
      expect(yield* Fiber.join(second)).toBe("second")
      expect(sem.size()).toBe(0)
    }))

  describe("a waiter interrupted just after it was handed a permit gives it back", () => {
    const race = (order: "release-then-interrupt" | "interrupt-then-release", lowLevel: boolean) =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 1 })
        const ran: Array<string> = []
        yield* sem.take("k")
        // With the low-level take, a permit kept by an interrupted waiter would stay in use forever.
        const victim = yield* Effect.fork(
          lowLevel ? sem.take("k") : Effect.sync(() => ran.push("victim")).pipe(sem.withPermit("k"))
        )
        yield* awaitWaiting(sem, "k", 1)
        const next = yield* Effect.fork(Effect.sync(() => ran.push("next")).pipe(sem.withPermit("k")))
        yield* awaitWaiting(sem, "k", 2)
        // Both messages reach the victim before it runs again, in the chosen order
        // (Fiber.interruptFork would interrupt from another fiber, later).
        const interrupt = Effect.fiberIdWith((id) => Effect.sync(() => victim.unsafeInterruptAsFork(id)))
        if (order === "release-then-interrupt") {
          yield* sem.release("k")
          expect(sem.state("k")).toEqual({ inUse: 1, waiting: 1, permits: 1 })
          yield* interrupt
        } else {
          yield* interrupt
          yield* sem.release("k")
          expect(sem.state("k")).toEqual({ inUse: 1, waiting: 1, permits: 1 })
        }
        const exit = yield* Fiber.await(victim)
        expect(Exit.isInterrupted(exit)).toBe(true)
        // The victim passed the permit on: `next` is no longer queued.
        expect(sem.state("k").waiting).toBe(0)
        yield* Fiber.join(next)
        expect(ran).toEqual(["next"])
        expect(sem.size()).toBe(0)
      })
    it.effect("release, then interrupt (take)", () => race("release-then-interrupt", true))
    it.effect("interrupt, then release (take)", () => race("interrupt-then-release", true))
    it.effect("release, then interrupt (withPermit)", () => race("release-then-interrupt", false))
    it.effect("interrupt, then release (withPermit)", () => race("interrupt-then-release", false))
  })

  it.effect("withPermit releases on failure, defect and interruption", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 1 })
      const failed = yield* Effect.exit(Effect.fail("boom").pipe(sem.withPermit("k")))
      expect(failed).toEqual(Exit.fail("boom"))
      expect(sem.size()).toBe(0)
      const died = yield* Effect.exit(Effect.dieMessage("bug").pipe(sem.withPermit("k")))
      expect(Exit.isFailure(died)).toBe(true)
      expect(sem.size()).toBe(0)
      const started = yield* Deferred.make<void>()
      const running = yield* Effect.fork(
        Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never), sem.withPermit("k"))
      )
      yield* Deferred.await(started)
      expect(sem.state("k").inUse).toBe(1)
      yield* Fiber.interrupt(running)
      expect(sem.size()).toBe(0)
      // Also when the permit was obtained after waiting.
      yield* sem.take("k")
      const queued = yield* Effect.fork(Effect.fail("late").pipe(sem.withPermit("k")))
      yield* awaitWaiting(sem, "k", 1)
      yield* sem.release("k")
      expect(yield* Fiber.await(queued)).toEqual(Exit.fail("late"))
      expect(sem.size()).toBe(0)
    }))

  it.effect("permits: Infinity is a no-op that returns the effect unchanged", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: Infinity })
      const self = Effect.succeed(1)
      expect(sem.withPermit("k")(self)).toBe(self)
      expect(sem.withPermits("k", 1000)(self)).toBe(self)
      yield* Effect.all(Array.from({ length: 100 }, () => sem.take("k")), { concurrency: "unbounded" })
      expect(sem.state("k")).toEqual({ inUse: 0, waiting: 0, permits: Infinity })
      expect(sem.permitsFor("k")).toBe(Infinity)
      expect(sem.size()).toBe(0)
    }))

  it.effect("permits by key: each key gets its own limit, Infinity included", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({
        permits: (key) => key === "wide" ? 5 : key === "open" ? Infinity : 1
      })
      expect([sem.permitsFor("wide"), sem.permitsFor("narrow"), sem.permitsFor("open")]).toEqual([5, 1, Infinity])
      const gauge = makeGauge()
      const jobs = ["wide", "narrow", "open"].flatMap((key) =>
        Array.from({ length: 40 }, () => gauge.inside(key, 3).pipe(sem.withPermit(key)))
      )
      yield* Effect.all(jobs, { concurrency: "unbounded", discard: true })
      expect(gauge.max.get("wide")).toBe(5)
      expect(gauge.max.get("narrow")).toBe(1)
      expect(gauge.max.get("open")).toBe(40)
      expect(sem.size()).toBe(0)
    }))

  it.effect("misuse dies with a KeyedSemaphoreError that says what to do", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 2 })
      const tooMany = defectOf(yield* Effect.exit(Effect.void.pipe(sem.withPermits("k", 3))))
      expect(tooMany).toBeInstanceOf(KeyedSemaphore.KeyedSemaphoreError)
      expect((tooMany as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("PermitsExceedLimit")
      expect((tooMany as Error).message).toContain(`key "k"`)
      expect((tooMany as Error).message).toContain("at most permitsFor(key)")
      const unheld = defectOf(yield* Effect.exit(sem.release("k")))
      expect((unheld as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("ReleaseWithoutTake")
      const negative = defectOf(yield* Effect.exit(sem.take("k", -1)))
      expect((negative as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("InvalidPermits")
      const badLimit = defectOf(yield* Effect.exit(KeyedSemaphore.make({ permits: 0 })))
      expect((badLimit as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("InvalidPermits")
      const badFn = yield* KeyedSemaphore.make<string>({ permits: () => 1.5 })
      const fromFn = defectOf(yield* Effect.exit(Effect.void.pipe(badFn.withPermit("k"))))
      expect((fromFn as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("InvalidPermits")
      expect(sem.size() + badFn.size()).toBe(0)
    }))

  it.effect("stays consistent under random interruption", () =>
    Effect.gen(function*() {
      const sem = yield* KeyedSemaphore.make<string>({ permits: 2 })
      const gauge = makeGauge()
      let completed = 0
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < 400; i++) {
        const key = `k${i % 4}`
        const body = gauge.inside(key, 1 + (i % 7)).pipe(Effect.tap(() => completed++))
        const job = i % 3 === 0
          ? Effect.acquireUseRelease(sem.take(key), () => body, () => sem.release(key))
          : body.pipe(sem.withPermit(key))
        fibers.push(yield* Effect.fork(job))
        if ((yield* Random.nextIntBetween(0, 4)) === 0) {
          const victim = fibers[yield* Random.nextIntBetween(0, fibers.length)]
          if (victim !== undefined) yield* Fiber.interruptFork(victim)
        }
        if (i % 10 === 0) yield* Effect.yieldNow()
      }
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      const succeeded = exits.filter(Exit.isSuccess).length
      expect(exits.every((exit) => Exit.isSuccess(exit) || Exit.isInterrupted(exit))).toBe(true)
      // A fiber interrupted right after its body ended counts as completed but not succeeded.
      expect(succeeded).toBeLessThanOrEqual(completed)
      expect(succeeded).toBeGreaterThan(100)
      expect(succeeded).toBeLessThan(400)
      for (const max of gauge.max.values()) expect(max).toBe(2)
      expect(sem.size()).toBe(0)
    }))

  describe("total: a shared cap across keys, served round-robin", () => {
    /** Counts fibers inside per key and in all. */
    const makeTotalGauge = () => {
      const perKey = makeGauge()
      let current = 0
      let max = 0
      const inside = (key: string, yields: number) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            current++
            max = Math.max(max, current)
          }),
          () => perKey.inside(key, yields),
          () => Effect.sync(() => current--)
        )
      return { inside, perKey: perKey.max, maxTotal: () => max }
    }

    it.effect("caps permits in all while each key keeps its own limit", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 3, total: 5 })
        const gauge = makeTotalGauge()
        const jobs = Array.from({ length: 300 }, (_, i) => {
          const key = `k${i % 4}`
          return gauge.inside(key, 1 + (i % 5)).pipe(sem.withPermit(key))
        })
        yield* Effect.all(jobs, { concurrency: "unbounded", discard: true })
        expect(gauge.maxTotal()).toBe(5)
        for (const max of gauge.perKey.values()) expect(max).toBeLessThanOrEqual(3)
        expect(sem.size()).toBe(0)
        expect(sem.totalState()).toEqual({ inUse: 0, permits: 5, keysWaiting: 0 })
      }))

    it.effect("a hot key with 10,000 waiters does not starve a key with one", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: Infinity, total: 2 })
        const order: Array<string> = []
        yield* sem.take("hot", 2)
        const hot = yield* Effect.fork(
          Effect.all(Array.from({ length: 10_000 }, () => Effect.sync(() => order.push("hot")).pipe(sem.withPermit("hot"))), {
            concurrency: "unbounded",
            discard: true
          })
        )
        yield* awaitWaiting(sem, "hot", 10_000)
        const cold = yield* Effect.fork(Effect.sync(() => order.push("cold")).pipe(sem.withPermit("cold")))
        yield* awaitWaiting(sem, "cold", 1)
        expect(sem.totalState()).toEqual({ inUse: 2, permits: 2, keysWaiting: 2 })
        // A newcomer on a third key queues behind both instead of taking freed capacity first.
        expect(sem.unsafeTake("newcomer")).toBe(false)
        yield* sem.release("hot", 2)
        yield* Fiber.join(cold)
        yield* Fiber.join(hot)
        // Hot had its turn first (it was first in the ring), then cold: one hot grant ahead of it, not 10,000.
        expect(order.indexOf("cold")).toBe(1)
        expect(order.length).toBe(10_001)
        expect(sem.size()).toBe(0)
        expect(sem.totalState().inUse).toBe(0)
      }), 30_000)

    it.effect("keys take turns: one grant per key per round, FIFO within a key", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 10, total: 1 })
        const order: Array<string> = []
        yield* sem.take("holder")
        const fibers: Array<Fiber.RuntimeFiber<number>> = []
        for (const key of ["a", "b", "c"]) {
          for (let i = 0; i < 3; i++) {
            fibers.push(yield* Effect.fork(Effect.sync(() => order.push(`${key}${i}`)).pipe(sem.withPermit(key))))
            yield* awaitWaiting(sem, key, i + 1)
          }
        }
        yield* sem.release("holder")
        yield* Fiber.joinAll(fibers)
        expect(order).toEqual(["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"])
        expect(sem.size()).toBe(0)
      }))

    it.effect("a key at its own limit does not take a turn: freed capacity goes to a key that can use it", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 1, total: 2 })
        const order: Array<string> = []
        yield* sem.take("a")
        yield* sem.take("x")
        const a = yield* Effect.fork(Effect.sync(() => order.push("a")).pipe(sem.withPermit("a")))
        yield* awaitWaiting(sem, "a", 1)
        const b = yield* Effect.fork(Effect.sync(() => order.push("b")).pipe(sem.withPermit("b")))
        yield* awaitWaiting(sem, "b", 1)
        // a is blocked by its own limit, b only by the total.
        expect(sem.totalState().keysWaiting).toBe(1)
        yield* sem.release("x")
        yield* Fiber.join(b)
        expect(order).toEqual(["b"])
        expect(sem.state("a")).toEqual({ inUse: 1, waiting: 1, permits: 1 })
        yield* sem.release("a")
        yield* Fiber.join(a)
        expect(order).toEqual(["b", "a"])
        expect(sem.size()).toBe(0)
      }))

    it.effect("a big request at the front of the ring is not passed by smaller ones", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 3, total: 3 })
        const order: Array<string> = []
        yield* sem.take("x", 2)
        const big = yield* Effect.fork(Effect.sync(() => order.push("big")).pipe(sem.withPermits("big", 3)))
        yield* awaitWaiting(sem, "big", 1)
        const small = yield* Effect.fork(Effect.sync(() => order.push("small")).pipe(sem.withPermits("small", 1)))
        yield* awaitWaiting(sem, "small", 1)
        // One permit is free, but the big request is first in the ring.
        expect(sem.totalState()).toEqual({ inUse: 2, permits: 3, keysWaiting: 2 })
        yield* sem.release("x", 2)
        yield* Fiber.joinAll([big, small])
        expect(order).toEqual(["big", "small"])
        const tooBig = defectOf(yield* Effect.exit(Effect.void.pipe(sem.withPermits("k", 4))))
        expect((tooBig as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("PermitsExceedLimit")
      }))

    it.effect("an interrupted waiter leaves the ring and its turn passes on", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 2, total: 1 })
        yield* sem.take("holder")
        const a = yield* Effect.fork(sem.take("a"))
        yield* awaitWaiting(sem, "a", 1)
        const b = yield* Effect.fork(Effect.succeed("b").pipe(sem.withPermit("b")))
        yield* awaitWaiting(sem, "b", 1)
        expect(sem.totalState().keysWaiting).toBe(2)
        yield* Fiber.interrupt(a)
        expect(sem.totalState().keysWaiting).toBe(1)
        expect(sem.state("a")).toEqual({ inUse: 0, waiting: 0, permits: 2 })
        yield* sem.release("holder")
        expect(yield* Fiber.join(b)).toBe("b")
        expect(sem.size()).toBe(0)
        expect(sem.totalState()).toEqual({ inUse: 0, permits: 1, keysWaiting: 0 })
      }))

    it.effect("the unsafe API takes part in the cap and the round-robin", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 4, total: 2 })
        const order: Array<string> = []
        expect(sem.unsafeTake("a")).toBe(true)
        expect(sem.unsafeTake("a")).toBe(true)
        expect(sem.unsafeTake("b")).toBe(false)
        sem.unsafeAwait("a", () => order.push("a1"))
        sem.unsafeAwait("a", () => order.push("a2"))
        const withdraw = sem.unsafeAwait("c", () => order.push("c"))
        sem.unsafeAwait("b", () => order.push("b"))
        expect(sem.totalState().keysWaiting).toBe(3)
        withdraw()
        expect(sem.totalState().keysWaiting).toBe(2)
        sem.unsafeRelease("a")
        expect(order).toEqual(["a1"])
        sem.unsafeRelease("a")
        expect(order).toEqual(["a1", "b"])
        sem.unsafeRelease("a")
        expect(order).toEqual(["a1", "b", "a2"])
        sem.unsafeRelease("a")
        sem.unsafeRelease("b")
        expect(sem.size()).toBe(0)
        expect(sem.totalState().inUse).toBe(0)
      }))

    it.effect("idle keys are still dropped", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: 2, total: 8 })
        let peakTracked = 0
        for (let i = 0; i < 20_000; i++) {
          yield* Effect.void.pipe(sem.withPermit(`host-${i}`))
          peakTracked = Math.max(peakTracked, internal.trackedUnsafe(sem))
        }
        expect(sem.size()).toBe(0)
        expect(peakTracked).toBeLessThanOrEqual(1025)
      }))

    it.effect("stays consistent under random interruption", () =>
      Effect.gen(function*() {
        const sem = yield* KeyedSemaphore.make<string>({ permits: (key) => (key === "k0" ? 3 : 2), total: 4 })
        const gauge = makeTotalGauge()
        const fibers: Array<Fiber.RuntimeFiber<void>> = []
        for (let i = 0; i < 600; i++) {
          const key = `k${i % 6}`
          const body = gauge.inside(key, 1 + (i % 7))
          const job = i % 3 === 0
            ? Effect.acquireUseRelease(sem.take(key), () => body, () => sem.release(key))
            : body.pipe(sem.withPermit(key))
          fibers.push(yield* Effect.fork(job))
          if ((yield* Random.nextIntBetween(0, 4)) === 0) {
            const victim = fibers[yield* Random.nextIntBetween(0, fibers.length)]
            if (victim !== undefined) yield* Fiber.interruptFork(victim)
          }
          if (i % 10 === 0) yield* Effect.yieldNow()
        }
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        expect(exits.every((exit) => Exit.isSuccess(exit) || Exit.isInterrupted(exit))).toBe(true)
        expect(exits.filter(Exit.isSuccess).length).toBeGreaterThan(150)
        expect(gauge.maxTotal()).toBe(4)
        expect(gauge.perKey.get("k0")).toBeLessThanOrEqual(3)
        expect(gauge.perKey.get("k1")).toBeLessThanOrEqual(2)
        expect(sem.size()).toBe(0)
        expect(sem.totalState()).toEqual({ inUse: 0, permits: 4, keysWaiting: 0 })
      }))

    it.effect("an invalid total dies with a KeyedSemaphoreError", () =>
      Effect.gen(function*() {
        const zero = defectOf(yield* Effect.exit(KeyedSemaphore.make({ permits: 2, total: 0 })))
        expect((zero as KeyedSemaphore.KeyedSemaphoreError).reason).toBe("InvalidPermits")
        expect((zero as Error).message).toContain("total")
      }))
  })
})
