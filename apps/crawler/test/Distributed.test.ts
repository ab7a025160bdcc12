/**
 * The pieces of a crawl run by several processes, each as two "workers"
 * over one real database: owner-tagged leases renewed by a heartbeat and
 * fenced by their token across workers; dead workers found by heartbeat age
 * or by a vanished pid, their leases and host slots handed back; resume
 * that leaves live workers' leases alone (Postgres). On Postgres only: the
 * cluster-wide host slots (in-flight cap), start reservations (Crawl-delay
 * spacing) and the shared Retry-After pause.
 */
import { expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import type { DbError } from "@fiberkit/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as ChildProcess from "node:child_process"
import * as Frontier from "../src/Frontier.js"
import * as HostSlots from "../src/HostSlots.js"
import { machine } from "../src/internal/workers.js"
import type * as Page from "../src/Page.js"
import * as Workers from "../src/Workers.js"
import { forEachDialect, openFrontier } from "./dbHarness.js"

const orDie = <A>(effect: Effect.Effect<A, DbError.DbError, Db.Db>, db: Db.Service): Effect.Effect<A> =>
  Effect.orDieWith(Effect.provideService(effect, Db.Db, db), (e) => new Error(e.message))

const seed = (name: string): Frontier.Seed => ({ key: `https://a.test/${name}`, url: `https://a.test/${name}`, host: "a.test" })

const done = (lease: Page.Lease): Page.Completion => ({
  _tag: "Done",
  lease,
  record: {
    url: lease.url,
    final_url: null,
    status: 200,
    content_type: "text/html",
    bytes: 1,
    title: null,
    canonical: null,
    depth: lease.depth,
    links_out: 0,
    fetched_at: new Date(0).toISOString(),
    elapsed_ms: 1,
    error_kind: null,
    error_message: null
  },
  links: []
})

const started = (input: Db.Input, names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const opened = yield* openFrontier(input)
    yield* Effect.orDie(opened.frontier.init({ seeds: names.map(seed), options: {} }))
    return opened
  })

/** The pid of a process that has exited (so `kill(pid, 0)` says it is gone). */
const deadPid = (): number => {
  const child = ChildProcess.spawnSync(process.execPath, ["-e", "0"])
  return child.pid ?? 999_999
}

forEachDialect("distributed crawl", (h) => {
  it.scoped("leases carry their owner; a renewed lease survives its first expiry, a lost one can neither renew nor commit", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier: a } = yield* started(input, ["p1", "p2"])
      const { frontier: b } = yield* openFrontier(input)
      const held = yield* Effect.orDie(a.claim(2, 1_000, "wa"))
      expect(held.every((l) => l.token.startsWith("wa."))).toBe(true)
      const [kept, lost] = held
      if (kept === undefined || lost === undefined) throw new Error("nothing claimed")

      // A renews one lease before it runs out; the other expires and B takes it.
      yield* TestClock.adjust(900)
      expect(yield* Effect.orDie(a.renew([kept.token], 1_000))).toEqual([kept.token])
      yield* TestClock.adjust(200)
      const taken = yield* Effect.orDie(b.claim(5, 1_000, "wb"))
      expect(taken.map((l) => l.id)).toEqual([lost.id])
      expect(taken[0]?.token.startsWith("wb.")).toBe(true)

      // A's lost lease: no renewal, no commit; B's commit wins.
      expect(yield* Effect.orDie(a.renew([lost.token, kept.token], 1_000))).toEqual([kept.token])
      expect((yield* Effect.orDie(a.complete([done(lost), done(kept)]))).committed).toEqual([false, true])
      expect((yield* Effect.orDie(b.complete(taken.map(done)))).committed).toEqual([true])
      const pages = yield* orDie(db.typed(db.sql<{ readonly n: number | string }>`SELECT count(*) AS n FROM pages`), db)
      expect(Number(pages[0]?.n)).toBe(2)
    }))

  it.scoped("a worker silent for its lease is found dead: its leases go back, its late heartbeat says stop", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, ["p1", "p2", "p3"])
      const a = yield* orDie(Workers.register({ leaseMs: 3_000 }), db)
      yield* TestClock.adjust(1)
      const b = yield* orDie(Workers.register({ leaseMs: 3_000 }), db)
      const held = yield* Effect.orDie(frontier.claim(2, 3_000, a.id))
      expect(held).toHaveLength(2)

      yield* TestClock.adjust(2_000)
      expect(yield* orDie(Workers.heartbeat(b.id, 7), db)).toBe(true)
      expect((yield* orDie(Workers.reap(b.id), db)).dead).toEqual([])
      yield* TestClock.adjust(1_500)
      const reaped = yield* orDie(Workers.reap(b.id), db)
      expect(reaped).toMatchObject({ dead: [a.id], leases: 2 })
      // Reaped once: another reaper finds nothing more.
      expect((yield* orDie(Workers.reap(b.id), db)).dead).toEqual([])

      // Its leases are claimable at once (no waiting for them to expire) and its commits are refused.
      const again = yield* Effect.orDie(frontier.claim(5, 3_000, b.id))
      expect(again.map((l) => l.id).sort()).toEqual([...held.map((l) => l.id), 3].sort())
      expect((yield* Effect.orDie(frontier.complete(held.map(done)))).committed).toEqual([false, false])
      expect(yield* orDie(Workers.heartbeat(a.id, 1), db)).toBe(false)

      const rows = yield* orDie(Workers.list, db)
      expect(rows.map((r) => [r.id, r.state, r.alive])).toEqual([[a.id, "dead", false], [b.id, "alive", true]])
      expect(rows[1]?.pages).toBe(7)
      expect(Workers.format(rows, 3_500)).toContain("2: 1 alive")
      yield* orDie(Workers.end(b.id, "done", 9), db)
      expect((yield* orDie(Workers.list, db)).map((r) => r.state)).toEqual(["dead", "done"])
    }))

  it.scoped("on this machine, a worker whose process is gone is dead at once", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, ["p1"])
      const self = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      const gone = deadPid()
      yield* orDie(
        Effect.asVoid(db.insertMany("workers", [{
          id: "0badc0ffee00",
          host: "elsewhere",
          machine,
          pid: gone,
          started_at: 0,
          heartbeat_at: 0,
          lease_ms: 60_000,
          pages: 0,
          state: "alive"
        }])),
        db
      )
      yield* Effect.orDie(frontier.claim(1, 60_000, "0badc0ffee00"))
      const reaped = yield* orDie(Workers.reap(self.id), db)
      expect(reaped).toMatchObject({ dead: ["0badc0ffee00"], leases: 1 })
    }))

  it.scoped("resume gives back the leases of stopped processes, and on Postgres only theirs", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, ["p1", "p2"])
      const live = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      yield* Effect.orDie(frontier.claim(1, 60_000, live.id))
      yield* Effect.orDie(frontier.claim(1, 60_000, "5t0pped00000"))
      const resumed = yield* Effect.orDie(frontier.resume())
      // SQLite is one process: every lease left is a stopped one's.
      expect(resumed.released).toBe(h.dialect === "pg" ? 1 : 2)
    }))

  if (h.dialect !== "pg") return

  it.scopedLive("[pg] two workers never hold more than the host's slots; a dead worker's slots are freed by the reaper", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db } = yield* started(input, ["p1"])
      const a = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      const b = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      const slotsA = yield* Effect.provideService(HostSlots.make({ worker: a.id, perHost: 2, rate: undefined }), Db.Db, db)
      const slotsB = yield* Effect.provideService(HostSlots.make({ worker: b.id, perHost: 2, rate: undefined }), Db.Db, db)

      let inFlight = 0
      let peak = 0
      const request = Effect.acquireUseRelease(
        Effect.sync(() => {
          inFlight++
          peak = Math.max(peak, inFlight)
        }),
        () => Effect.sleep(Duration.millis(15)),
        () => Effect.sync(() => inFlight--)
      )
      yield* Effect.forEach(
        Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? slotsA : slotsB)),
        (slots) => slots.withSlot("a.test")(request),
        { concurrency: 24 }
      )
      expect(peak).toBe(2)
      // Slots a worker no longer uses go back to the table within a moment.
      const settled = yield* Effect.repeat(Effect.zipLeft(Effect.orDie(slotsA.snapshot), Effect.sleep(Duration.millis(10))), {
        until: (s) => s[0]?.inFlight === 0
      }).pipe(Effect.timeout(Duration.seconds(2)), Effect.orDie)
      expect(settled.map((s) => [s.host, s.inFlight, s.slots])).toEqual([["a.test", 0, 2]])

      // A takes both slots and goes silent; B waits until it reaps A.
      const hung = yield* Effect.fork(
        Effect.all([slotsA.withSlot("a.test")(Effect.never), slotsA.withSlot("a.test")(Effect.never)], { concurrency: 2 })
      )
      yield* Effect.repeat(Effect.orDie(slotsA.snapshot), { until: (s) => s[0]?.inFlight === 2 })
      const waiting = yield* Effect.fork(slotsB.withSlot("a.test")(Effect.succeed("B got a slot")))
      yield* Effect.sleep(Duration.millis(100))
      expect(waiting.unsafePoll()).toBeNull()
      yield* orDie(db.typed(db.sql`UPDATE workers SET heartbeat_at = 0 WHERE id = ${a.id}`.raw), db)
      expect(yield* orDie(Workers.reap(b.id), db)).toMatchObject({ dead: [a.id], slots: 2 })
      expect(yield* Fiber.join(waiting)).toBe("B got a slot")
      // A dead worker takes no slot, and its late releases free nothing of B's.
      const held = yield* Effect.fork(slotsB.withSlot("a.test")(Effect.never))
      yield* Effect.repeat(Effect.orDie(slotsB.snapshot), { until: (s) => s[0]?.inFlight === 1 })
      yield* Fiber.interrupt(hung)
      // A keeps the slots it used a moment for its next requests, then gives them back: to no effect.
      yield* Effect.sleep(Duration.millis(300))
      expect((yield* Effect.orDie(slotsB.snapshot))[0]?.inFlight).toBe(1)
      const late = yield* Effect.fork(slotsA.withSlot("a.test")(Effect.succeed("A got a slot")))
      yield* Effect.sleep(Duration.millis(100))
      expect(late.unsafePoll()).toBeNull()
      expect((yield* Effect.orDie(slotsB.snapshot))[0]?.inFlight).toBe(1)
      yield* Fiber.interrupt(late)
      yield* Fiber.interrupt(held)
      const freed = yield* Effect.repeat(Effect.zipLeft(Effect.orDie(slotsB.snapshot), Effect.sleep(Duration.millis(10))), {
        until: (s) => s[0]?.inFlight === 0
      }).pipe(Effect.timeout(Duration.seconds(2)), Effect.orDie)
      expect(freed[0]?.inFlight).toBe(0)
    }), { timeout: 30_000 })

  it.scopedLive("[pg] starts of two workers keep the Crawl-delay between them, and a 429 pauses both", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db } = yield* started(input, ["p1"])
      const a = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      const b = yield* orDie(Workers.register({ leaseMs: 60_000 }), db)
      const slotsA = yield* Effect.provideService(HostSlots.make({ worker: a.id, perHost: 8, rate: undefined }), Db.Db, db)
      const slotsB = yield* Effect.provideService(HostSlots.make({ worker: b.id, perHost: 8, rate: undefined }), Db.Db, db)
      yield* slotsA.rateLimiter.setFloor("a.test", 40)

      const starts: Array<number> = []
      const start = Effect.sync(() => {
        starts.push(performance.timeOrigin + performance.now())
      })
      // Through slots (first start reserved with the slot) and bare takes (retries, redirect hops).
      yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        (i) => {
          const slots = i % 2 === 0 ? slotsA : slotsB
          return i % 4 < 2
            ? slots.withSlot("a.test")(Effect.zipRight(slots.rateLimiter.take("a.test"), start))
            : Effect.zipRight(slots.rateLimiter.take("a.test"), start)
        },
        { concurrency: 16 }
      )
      starts.sort((x, y) => x - y)
      const gaps = starts.slice(1).map((t, i) => t - (starts[i] ?? 0))
      expect(starts).toHaveLength(16)
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(40)

      // A 429 with Retry-After seen by A holds B back too.
      slotsA.rateLimiter.unsafeOnThrottled("a.test", 400)
      yield* Effect.repeat(Effect.orDie(slotsA.snapshot), { until: (s) => (s[0]?.pausedForMs ?? 0) > 0 })
      const t0 = Date.now()
      yield* slotsB.rateLimiter.take("a.test")
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
      const [state] = yield* Effect.orDie(slotsB.snapshot)
      // It had a rate (the floor): halved, i.e. the spacing doubled, for everyone.
      expect(state).toMatchObject({ throttles: 1, floorMs: 40, slowMs: 80, spacingMs: 80 })
      // Good answers win it back.
      for (let i = 0; i < 30; i++) slotsB.rateLimiter.unsafeOnSuccess("a.test")
      const recovered = yield* Effect.repeat(Effect.zipLeft(Effect.orDie(slotsB.snapshot), Effect.sleep(Duration.millis(10))), {
        until: (s) => (s[0]?.slowMs ?? 80) < 80
      }).pipe(Effect.timeout(Duration.seconds(2)), Effect.orDie)
      expect(recovered[0]?.slowMs).toBeGreaterThanOrEqual(40)
    }), { timeout: 30_000 })
})
