/**
 * `Frontier` on SQLite and Postgres: the database check, init / resume,
 * breadth-first claims with leases, fenced group commits (exactly once
 * under concurrency, lease expiry, interruption and restarts), dedup of
 * discovered keys at volume, postponement, release, stats, robots cache.
 */
import { expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import type { DbError } from "@fiberkit/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as Frontier from "../src/Frontier.js"
import type * as Page from "../src/Page.js"
import { forEachDialect, openDb, openFrontier } from "./dbHarness.js"

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const link = (name: string, depth = 1, parentId = 0): Page.Discovered => {
  const url = `https://h${name.length % 3}.test/${name}`
  return { key: url, url, host: `h${name.length % 3}.test`, depth, parentId }
}

const seedOf = (name: string, depth = 0): Frontier.Seed => {
  const { key, url, host } = link(name)
  return { key, url, host, depth }
}

const record = (lease: Page.Lease, over: Partial<Page.PageRecord> = {}): Page.PageRecord => ({
  url: lease.url,
  final_url: null,
  status: 200,
  content_type: "text/html",
  bytes: 100,
  title: `title of ${lease.key}`,
  canonical: null,
  depth: lease.depth,
  links_out: 0,
  fetched_at: new Date(1_000 + lease.id).toISOString(),
  elapsed_ms: 5,
  error_kind: null,
  error_message: null,
  ...over
})

const done = (lease: Page.Lease, links: ReadonlyArray<Page.Discovered> = [], over: Partial<Page.PageRecord> = {}): Page.Completion => ({
  _tag: "Done",
  lease,
  record: record(lease, { links_out: links.length, ...over }),
  links
})

const orDie = <A>(effect: Effect.Effect<A, DbError.DbError>): Effect.Effect<A> =>
  Effect.orDieWith(effect, (e) => new Error(e.message))

const count = (db: Db.Service, from: string): Effect.Effect<number> =>
  orDie(Effect.map(db.typed(db.sql.unsafe<{ readonly n: number | string }>(`SELECT count(*) AS n FROM ${from}`)), (r) => Number(r[0]?.n)))

const query = <A extends object>(db: Db.Service, text: string): Effect.Effect<ReadonlyArray<A>> =>
  orDie(db.typed(db.sql.unsafe<A>(text)))

/** A database with a crawl of `seeds` started. */
const started = (input: Db.Input, seeds: ReadonlyArray<Frontier.Seed>) =>
  Effect.gen(function*() {
    const opened = yield* openFrontier(input)
    yield* Effect.orDie(opened.frontier.init({ seeds, options: { maxDepth: 3 } }))
    return opened
  })

const names = (n: number, prefix = "p"): Array<string> => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

forEachDialect("Frontier", (h) => {
  // -------------------------------------------------------------------------
  // The database check
  // -------------------------------------------------------------------------

  it.scoped("refuses a database holding another tool's tables, and writes nothing to it", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const raw = yield* openDb(input)
      yield* orDie(raw.typed(raw.sql`CREATE TABLE urls (id INTEGER PRIMARY KEY, href TEXT)`))
      const exit = yield* Effect.exit(Effect.provideService(Frontier.make, Db.Db, raw))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error).toBeInstanceOf(Frontier.IncompatibleDatabase)
      expect(error?._tag === "IncompatibleDatabase" && error.reason).toBe("other-tool")
      expect(error?.message).toContain(raw.target)
      expect(error?.message).toContain("tables (urls) but no crawl metadata")
      expect(error?.message).toContain("Point the crawler at a new SQLite file or an empty Postgres schema")
      const tables = yield* query<{ readonly name: string }>(
        raw,
        raw.dialect === "sqlite"
          ? "SELECT name FROM sqlite_master WHERE type = 'table'"
          : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
      )
      expect(tables.map((t) => t.name)).toEqual(["urls"])
    }))

  it.scoped("refuses a database whose meta table names another tool", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const raw = yield* openDb(input)
      yield* orDie(raw.typed(raw.sql`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`))
      yield* orDie(raw.typed(raw.sql`INSERT INTO meta (key, value) VALUES ('tool', 'other-crawler')`))
      const error = yield* Effect.flip(Effect.provideService(Frontier.make, Db.Db, raw))
      expect(error._tag).toBe("IncompatibleDatabase")
      expect(error.message).toContain("it was created by \"other-crawler\"")
    }))

  it.scoped("refuses a database written by a newer version, by its meta or by its migrations", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db } = yield* openFrontier(input)
      yield* query(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
      const byMeta = yield* Effect.flip(Effect.provideService(Frontier.make, Db.Db, db))
      expect(byMeta._tag === "IncompatibleDatabase" && byMeta.reason).toBe("newer-schema")
      expect(byMeta.message).toContain("schema is version 99, this version knows up to 2")
      expect(byMeta.message).toContain("run that version, or start a new crawl in a new database")

      yield* query(db, "UPDATE meta SET value = '2' WHERE key = 'schema_version'")
      yield* query(db, "INSERT INTO crawl_migrations (migration_id, name) VALUES (3, 'future')")
      const byMigrations = yield* Effect.flip(Effect.provideService(Frontier.make, Db.Db, db))
      expect(byMigrations._tag === "IncompatibleDatabase" && byMigrations.reason).toBe("newer-schema")
    }))

  it.scoped("migrates an empty database once; opening it again is a no-op", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      yield* openFrontier(input)
      const { db, frontier } = yield* openFrontier(input)
      expect(yield* count(db, "crawl_migrations")).toBe(2)
      const meta = yield* query<{ readonly key: string; readonly value: string }>(
        db,
        "SELECT key, value FROM meta WHERE key IN ('tool', 'schema_version') ORDER BY key"
      )
      expect(meta).toEqual([{ key: "schema_version", value: "2" }, { key: "tool", value: "fiberkit-crawler" }])
      expect(yield* Effect.orDie(frontier.crawl())).toEqual(Option.none())
      expect(yield* Effect.orDie(frontier.finished())).toEqual({ finished: true, nextEligibleAt: null })
    }))

  // -------------------------------------------------------------------------
  // init / resume
  // -------------------------------------------------------------------------

  it.scoped("init records the crawl and its seeds in one go; a second init is refused; resume needs a crawl", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* openFrontier(input)
      const none = yield* Effect.flip(frontier.resume())
      expect(none._tag).toBe("NoCrawl")
      expect(none.message).toContain("holds no crawl to resume")

      yield* TestClock.setTime(1_700_000_000_000)
      const long = `https://h0.test/${"x".repeat(Frontier.maxKeyBytes)}`
      const crawl = yield* Effect.orDie(frontier.init({
        seeds: [seedOf("a"), seedOf("b"), seedOf("a"), { key: long, url: long, host: "h0.test" }],
        options: { maxDepth: 2, scope: "same-host" }
      }))
      expect(crawl.createdAt).toBe(1_700_000_000_000)
      expect(crawl.options).toEqual({ maxDepth: 2, scope: "same-host" })
      expect(crawl.seeds).toHaveLength(4)
      expect(yield* Effect.orDie(frontier.crawl())).toEqual(Option.some(crawl))
      expect(yield* count(db, "urls")).toBe(2)

      const again = yield* Effect.flip(frontier.init({ seeds: [seedOf("c")], options: {} }))
      expect(again._tag).toBe("CrawlExists")
      expect(again.message).toContain(`already holds crawl ${crawl.id}`)
      expect(again.message).toContain("2023-11-14T22:13:20.000Z, 2 URLs")
      expect(again.message).toContain("Resume it (--resume)")
      expect(yield* count(db, "urls")).toBe(2)

      const resumed = yield* Effect.orDie(frontier.resume())
      expect(resumed).toEqual({ crawl, released: 0 })
    }))

  // -------------------------------------------------------------------------
  // claim
  // -------------------------------------------------------------------------

  it.scoped("claims breadth-first (depth, then discovery order) in batches, with fresh tokens and expiries", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { frontier } = yield* started(input, [
        seedOf("d2a", 2),
        seedOf("d0a", 0),
        seedOf("d1a", 1),
        seedOf("d0b", 0),
        seedOf("d2b", 2),
        seedOf("d1b", 1)
      ])
      const first = yield* Effect.orDie(frontier.claim(4, 1_000))
      expect(first.map((l) => l.key.slice(-3))).toEqual(["d0a", "d0b", "d1a", "d1b"])
      expect(first.map((l) => l.leasedUntil)).toEqual([1_000, 1_000, 1_000, 1_000])
      expect(first.every((l) => l.attempts === 0)).toBe(true)
      expect(new Set(first.map((l) => l.token)).size).toBe(4)

      yield* TestClock.adjust(500)
      const second = yield* Effect.orDie(frontier.claim(10, 1_000))
      expect(second.map((l) => l.key.slice(-3))).toEqual(["d2a", "d2b"])
      expect(second.map((l) => l.leasedUntil)).toEqual([1_500, 1_500])
      expect(yield* Effect.orDie(frontier.claim(10, 1_000))).toEqual([])
      const state = yield* Effect.orDie(frontier.finished())
      expect(state).toEqual({ finished: false, nextEligibleAt: 1_000 })
      expect(yield* Effect.orDie(frontier.claim(0, 1_000))).toEqual([])
    }))

  it.scopedLive("concurrent claimers get disjoint leases", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { frontier } = yield* started(input, names(100).map((n) => seedOf(n)))
      const batches = yield* Effect.orDie(
        Effect.all(Array.from({ length: 6 }, () => frontier.claim(20, 60_000)), { concurrency: "unbounded" })
      )
      const ids = batches.flat().map((l) => l.id)
      expect(ids).toHaveLength(100)
      expect(new Set(ids).size).toBe(100)
    }))

  // -------------------------------------------------------------------------
  // complete: exactly once
  // -------------------------------------------------------------------------

  it.scoped("a lease that expired and was claimed again cannot commit (fencing)", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("only")])
      const [stale] = yield* Effect.orDie(frontier.claim(1, 1_000))
      if (stale === undefined) throw new Error("nothing claimed")

      yield* TestClock.adjust(1_000)
      // Expiry is strict: at leased_until the lease still holds.
      expect(yield* Effect.orDie(frontier.claim(1, 1_000))).toEqual([])
      yield* TestClock.adjust(1)
      const [fresh] = yield* Effect.orDie(frontier.claim(1, 1_000))
      if (fresh === undefined) throw new Error("the expired lease was not claimed again")
      expect(fresh.id).toBe(stale.id)
      expect(fresh.token).not.toBe(stale.token)
      expect(fresh.attempts).toBe(1)

      const late = yield* Effect.orDie(frontier.complete([done(stale, [link("from-stale")])]))
      expect(late).toEqual({ committed: [false], lost: 1, inserted: 0, tooLong: 0 })
      expect(yield* count(db, "pages")).toBe(0)

      // Both leases of the URL in one batch: only the live one commits.
      const both = yield* Effect.orDie(
        frontier.complete([done(stale, [link("from-stale")]), done(fresh, [link("from-fresh")])])
      )
      expect(both).toEqual({ committed: [false, true], lost: 1, inserted: 1, tooLong: 0 })
      const again = yield* Effect.orDie(frontier.complete([done(fresh)]))
      expect(again.committed).toEqual([false])
      expect(yield* count(db, "pages")).toBe(1)
      expect(yield* count(db, "urls WHERE key LIKE '%from-stale'")).toBe(0)
      expect(yield* count(db, "urls WHERE key LIKE '%from-fresh'")).toBe(1)
      expect(yield* count(db, "urls WHERE state = 'done'")).toBe(1)
    }))

  it.scopedLive("concurrent completions of one lease: exactly one commits", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("contended")])
      const [lease] = yield* Effect.orDie(frontier.claim(1, 60_000))
      if (lease === undefined) throw new Error("nothing claimed")
      const results = yield* Effect.orDie(Effect.all(
        Array.from({ length: 16 }, (_, i) => frontier.complete([done(lease, [link(`child${i}`)])])),
        { concurrency: "unbounded" }
      ))
      expect(results.filter((r) => r.committed[0] === true)).toHaveLength(1)
      expect(results.filter((r) => r.committed[0] === false)).toHaveLength(15)
      expect(yield* count(db, "pages")).toBe(1)
      // Only the winner's link went in.
      expect(yield* count(db, "urls")).toBe(2)

      // The same lease twice in one batch: the first occurrence commits.
      const [other] = yield* Effect.orDie(frontier.claim(1, 60_000))
      if (other === undefined) throw new Error("the winner's link was not claimable")
      const twice = yield* Effect.orDie(frontier.complete([done(other), done(other)]))
      expect(twice.committed).toEqual([true, false])
      expect(twice.lost).toBe(1)
      expect(yield* count(db, "pages")).toBe(2)
    }))

  it.scopedLive("an interrupted complete leaves nothing half-written", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("victim")])
      const [lease] = yield* Effect.orDie(frontier.claim(1, 60_000))
      if (lease === undefined) throw new Error("nothing claimed")

      // Interrupt the fiber the moment its page row has been written, inside
      // the transaction: the tracer's `context` runs around every operation
      // of the traced fiber, so the interrupt lands at the next one, before
      // the links are inserted and long before COMMIT — on SQLite too, whose
      // statements never yield.
      let armed = false
      let fired = false
      const pagesWritten = yield* Deferred.make<void>()
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) => {
          const attributes = new Map<string, unknown>()
          return {
            _tag: "Span",
            name,
            spanId: "s",
            traceId: "t",
            parent,
            context,
            status: { _tag: "Started", startTime },
            attributes,
            links,
            sampled: true,
            kind,
            end: (_end, exit) => {
              if (Exit.isSuccess(exit) && String(attributes.get("db.query.text")).startsWith("INSERT INTO pages")) {
                armed = true
                Deferred.unsafeDone(pagesWritten, Exit.void)
              }
            },
            attribute: (key, value) => {
              attributes.set(key, value)
            },
            event: () => {},
            addLinks: () => {}
          }
        },
        context: (f, fiber) => {
          if (armed && !fired) {
            fired = true
            fiber.unsafeInterruptAsFork(fiber.id())
          }
          return f()
        }
      })
      const completing = yield* frontier.complete([done(lease, names(50, "lost").map((n) => link(n)))]).pipe(
        Effect.withTracer(tracer),
        Effect.fork
      )
      yield* Deferred.await(pagesWritten)
      const exit = yield* Fiber.await(completing)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(fired).toBe(true)

      expect(yield* count(db, "pages")).toBe(0)
      expect(yield* count(db, "urls")).toBe(1)
      const [row] = yield* query<{ readonly state: string; readonly lease_token: string }>(
        db,
        "SELECT state, lease_token FROM urls"
      )
      expect(row).toEqual({ state: "leased", lease_token: lease.token })
      const [seq] = yield* query<{ readonly value: string }>(db, "SELECT value FROM meta WHERE key = 'seq'")
      expect(seq?.value).toBe("0")

      // The lease is intact: the same completion commits now, in full.
      const retried = yield* Effect.orDie(frontier.complete([done(lease, names(50, "lost").map((n) => link(n)))]))
      expect(retried).toEqual({ committed: [true], lost: 0, inserted: 50, tooLong: 0 })
      expect(yield* count(db, "pages")).toBe(1)
    }))

  it.scopedLive("the same discovered key from many pages and concurrent batches is inserted once", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, names(128).map((n) => seedOf(n)))
      const leases = yield* Effect.orDie(frontier.claim(128, 60_000))
      expect(leases).toHaveLength(128)
      const batch = (part: ReadonlyArray<Page.Lease>) =>
        part.map((l) => done(l, [link("shared", 1, l.id), link(`own-${l.id}`, 1, l.id), link("shared", 1, l.id)]))
      // Two group commits at once, each with every page linking "shared".
      const [a, b] = yield* Effect.orDie(Effect.all([
        frontier.complete(batch(leases.slice(0, 64))),
        frontier.complete(batch(leases.slice(64)))
      ], { concurrency: "unbounded" }))
      expect(a?.committed.every((c) => c)).toBe(true)
      expect(b?.committed.every((c) => c)).toBe(true)
      expect((a?.inserted ?? 0) + (b?.inserted ?? 0)).toBe(1 + 128)
      expect(yield* count(db, "urls WHERE key LIKE '%/shared'")).toBe(1)
      expect(yield* count(db, "urls")).toBe(128 + 1 + 128)
      expect(yield* count(db, "pages")).toBe(128)
      const seqs = yield* query<{ readonly n: number | string; readonly lo: number | string; readonly hi: number | string }>(
        db,
        "SELECT count(DISTINCT seq) AS n, min(seq) AS lo, max(seq) AS hi FROM pages"
      )
      expect(seqs.map((r) => [Number(r.n), Number(r.lo), Number(r.hi)])).toEqual([[128, 1, 128]])
    }))

  it.scopedLive("inserts 100k discovered keys fast and dedups them", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("root")])
      // 100k keys, 60k distinct (repeats inside the input), then 100k more of which half are known.
      const first = Array.from({ length: 100_000 }, (_, i) => link(`k${(i * 7919) % 60_000}`, 1, 1))
      const second = Array.from({ length: 100_000 }, (_, i) => link(`k${30_000 + i}`, 1, 1))
      const started1 = performance.now()
      const r1 = yield* Effect.orDie(frontier.seed(first))
      const ms1 = performance.now() - started1
      const started2 = performance.now()
      const r2 = yield* Effect.orDie(frontier.seed(second))
      const ms2 = performance.now() - started2
      expect(r1).toEqual({ inserted: 60_000, tooLong: 0 })
      expect(r2).toEqual({ inserted: 70_000, tooLong: 0 })
      expect(yield* count(db, "urls")).toBe(1 + 130_000)
      console.log(
        `[${h.dialect}] seed: 100k keys (60k new) in ${ms1.toFixed(0)} ms, 100k keys (70k new) in ${ms2.toFixed(0)} ms`
      )
      // Generous bound for a loaded 2-core machine; typical is 1–3 s each.
      expect(ms1 + ms2).toBeLessThan(20_000)
    }), { timeout: 60_000 })

  it.scoped("resume after a stop: leases left behind are claimable again, and every key ends once", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      // A graph of 60 pages: page i links to three others.
      const graph = (i: number): ReadonlyArray<number> => [(i * 7 + 1) % 60, (i * 3 + 2) % 60, (i + 1) % 60]
      const pageName = (i: number) => `n${i}`
      const indexOf = (lease: Page.Lease) => Number(lease.key.slice(lease.key.lastIndexOf("/n") + 2))
      const visit = (lease: Page.Lease) => done(lease, graph(indexOf(lease)).map((j) => link(pageName(j), lease.depth + 1, lease.id)))

      // First process: claims 6, commits 2, stops without releasing the rest.
      const stale = yield* Effect.scoped(Effect.gen(function*() {
        const { frontier } = yield* started(input, [seedOf(pageName(0)), seedOf(pageName(30))])
        const first = yield* Effect.orDie(frontier.claim(2, 60_000))
        yield* Effect.orDie(frontier.complete(first.map(visit)))
        const held = yield* Effect.orDie(frontier.claim(6, 60_000))
        const [commitOne, ...rest] = held
        if (commitOne === undefined) throw new Error("nothing claimed")
        yield* Effect.orDie(frontier.complete([visit(commitOne)]))
        return rest
      }))
      expect(stale.length).toBeGreaterThan(0)

      // Second process, same database, before the leases expire.
      const { db, frontier } = yield* openFrontier(input)
      const resumed = yield* Effect.orDie(frontier.resume())
      expect(resumed.released).toBe(stale.length)
      // The stopped process's leases can no longer commit.
      const late = yield* Effect.orDie(frontier.complete(stale.map(visit)))
      expect(late.committed.every((c) => !c)).toBe(true)

      let rounds = 0
      while (true) {
        const leases = yield* Effect.orDie(frontier.claim(7, 60_000))
        if (leases.length === 0) break
        yield* Effect.orDie(frontier.complete(leases.map(visit)))
        if (++rounds > 100) throw new Error("the crawl does not end")
      }
      expect(yield* Effect.orDie(frontier.finished())).toEqual({ finished: true, nextEligibleAt: null })
      expect(yield* count(db, "urls")).toBe(60)
      expect(yield* count(db, "urls WHERE state = 'done'")).toBe(60)
      expect(yield* count(db, "pages")).toBe(60)
      expect(yield* count(db, "(SELECT DISTINCT url FROM pages) AS d")).toBe(60)
      expect(yield* count(db, "(SELECT DISTINCT seq FROM pages) AS d")).toBe(60)
    }))

  // -------------------------------------------------------------------------
  // Other transitions
  // -------------------------------------------------------------------------

  it.scoped("postponed entries wait for their time with one more attempt; finished() says when", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("later")])
      const [lease] = yield* Effect.orDie(frontier.claim(1, 1_000))
      if (lease === undefined) throw new Error("nothing claimed")
      const r = yield* Effect.orDie(
        frontier.complete([{ _tag: "Postponed", lease, until: 5_000, reason: "robots.txt answered 503" }])
      )
      expect(r.committed).toEqual([true])
      expect(yield* count(db, "pages")).toBe(0)
      expect(yield* Effect.orDie(frontier.claim(1, 1_000))).toEqual([])
      expect(yield* Effect.orDie(frontier.finished())).toEqual({ finished: false, nextEligibleAt: 5_000 })
      const stats = yield* Effect.orDie(frontier.stats())
      expect([stats.urls.pending, stats.waiting, stats.nextAt]).toEqual([1, 1, 5_000])

      yield* TestClock.adjust(4_999)
      expect(yield* Effect.orDie(frontier.claim(1, 1_000))).toEqual([])
      yield* TestClock.adjust(1)
      const [again] = yield* Effect.orDie(frontier.claim(1, 1_000))
      expect(again?.id).toBe(lease.id)
      expect(again?.attempts).toBe(1)
      const [row] = yield* query<{ readonly reason: string }>(db, "SELECT reason FROM urls")
      expect(row?.reason).toBe("robots.txt answered 503")
    }))

  it.scoped("release gives leases back by token; a released lease can no longer commit", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { frontier } = yield* started(input, names(3).map((n) => seedOf(n)))
      const leases = yield* Effect.orDie(frontier.claim(3, 60_000))
      const [a, b, c] = leases
      if (a === undefined || b === undefined || c === undefined) throw new Error("not all claimed")
      expect(yield* Effect.orDie(frontier.release([a.token, b.token, "not-a-token", "abc.999999"]))).toBe(2)
      expect(yield* Effect.orDie(frontier.release([a.token]))).toBe(0)
      const lost = yield* Effect.orDie(frontier.complete([done(a), done(c)]))
      expect(lost.committed).toEqual([false, true])
      const again = yield* Effect.orDie(frontier.claim(10, 60_000))
      expect(again.map((l) => [l.id, l.attempts])).toEqual([[a.id, 0], [b.id, 0]])
    }))

  it.scoped("failed and skipped end with their reasons; stats count states, statuses, errors, bytes, times", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, names(6).map((n) => seedOf(n)))
      const leases = yield* Effect.orDie(frontier.claim(6, 60_000))
      const [ok, missing, timeout, robots, later, moved] = leases
      if (moved === undefined || ok === undefined || missing === undefined || timeout === undefined || robots === undefined || later === undefined) {
        throw new Error("not all claimed")
      }
      const at = (ms: number) => new Date(ms).toISOString()
      const r = yield* Effect.orDie(frontier.complete([
        done(ok, [], { bytes: 100, fetched_at: at(10_000) }),
        done(missing, [], { status: 404, error_kind: "http_status", error_message: "404 Not Found", bytes: 50, fetched_at: at(12_000) }),
        {
          _tag: "Failed",
          lease: timeout,
          record: record(timeout, { status: null, bytes: null, error_kind: "timeout", error_message: "no answer in 30 s", fetched_at: at(11_000) })
        },
        { _tag: "Skipped", lease: robots, reason: "robots_disallowed" },
        { _tag: "Postponed", lease: later, until: 90_000, reason: "robots_unavailable" },
        done(moved, [], { status: 301, bytes: 0, fetched_at: at(14_000) })
      ]))
      expect(r.committed).toEqual([true, true, true, true, true, true])
      const stats = yield* Effect.orDie(frontier.stats())
      expect(stats).toEqual({
        urls: { pending: 1, leased: 0, done: 3, failed: 1, skipped: 1, total: 6 },
        waiting: 1,
        nextAt: 90_000,
        leaseExpiresAt: null,
        pages: 4,
        byStatusClass: { "2xx": 1, "3xx": 1, "4xx": 1, none: 1 },
        byErrorKind: { http_status: 1, timeout: 1 },
        bytes: 150,
        firstFetchedAt: 10_000,
        lastFetchedAt: 14_000
      })
      const reasons = yield* query<{ readonly state: string; readonly reason: string | null }>(
        db,
        "SELECT state, reason FROM urls ORDER BY id"
      )
      expect(reasons).toEqual([
        { state: "done", reason: null },
        { state: "done", reason: null },
        { state: "failed", reason: "timeout" },
        { state: "skipped", reason: "robots_disallowed" },
        { state: "pending", reason: "robots_unavailable" },
        { state: "done", reason: null }
      ])
    }))

  it.scoped("a record whose data is not JSON fails the batch before anything is written", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, names(2).map((n) => seedOf(n)))
      const [a, b] = yield* Effect.orDie(frontier.claim(2, 60_000))
      if (a === undefined || b === undefined) throw new Error("not all claimed")
      const error = yield* Effect.flip(frontier.complete([done(a, [link("x")]), done(b, [], { data: { n: 1n } })]))
      expect(error._tag).toBe("InvalidRow")
      expect(error.message).toContain(`the data of the record of ${b.url} is not JSON`)
      expect(yield* count(db, "pages")).toBe(0)
      expect(yield* count(db, "urls WHERE state = 'leased'")).toBe(2)
      const ok = yield* Effect.orDie(frontier.complete([done(a), done(b, [], { data: { n: 1 } })]))
      expect(ok.committed).toEqual([true, true])
    }))

  it.scoped("keys longer than maxKeyBytes are counted and left out", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { db, frontier } = yield* started(input, [seedOf("root")])
      // Incompressible, so that Postgres could not index it.
      const noise = Array.from({ length: 3_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join("")
      const huge = { ...link("x"), key: `https://h0.test/${noise}`, url: `https://h0.test/${noise}` }
      const fits = link("y".repeat(1_900))
      // Multi-byte: under the limit in characters, over it in bytes.
      const wide = { ...link("z"), key: `https://h0.test/${"é".repeat(1_100)}` }
      expect(yield* Effect.orDie(frontier.seed([huge, fits, wide]))).toEqual({ inserted: 1, tooLong: 2 })
      const [lease] = yield* Effect.orDie(frontier.claim(1, 60_000))
      if (lease === undefined) throw new Error("nothing claimed")
      const r = yield* Effect.orDie(frontier.complete([done(lease, [huge, link("short")])]))
      expect(r).toEqual({ committed: [true], lost: 0, inserted: 1, tooLong: 1 })
      expect(yield* count(db, "urls")).toBe(3)
    }))

  it.scoped("caches robots.txt answers per host", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { frontier } = yield* openFrontier(input)
      expect(yield* Effect.orDie(frontier.getRobots("a.test"))).toEqual(Option.none())
      const entry: Frontier.RobotsEntry = { status: 200, body: "User-agent: *\nDisallow: /private", fetchedAt: 1_000, expiresAt: 86_401_000 }
      yield* Effect.orDie(frontier.putRobots("a.test", entry))
      yield* Effect.orDie(frontier.putRobots("b.test:8080", { status: 404, body: "", fetchedAt: 2, expiresAt: 3 }))
      expect(yield* Effect.orDie(frontier.getRobots("a.test"))).toEqual(Option.some(entry))
      const replaced: Frontier.RobotsEntry = { status: 503, body: "", fetchedAt: 5_000, expiresAt: 6_000 }
      yield* Effect.orDie(frontier.putRobots("a.test", replaced))
      expect(yield* Effect.orDie(frontier.getRobots("a.test"))).toEqual(Option.some(replaced))
      expect(yield* Effect.orDie(frontier.getRobots("b.test:8080"))).toEqual(
        Option.some({ status: 404, body: "", fetchedAt: 2, expiresAt: 3 })
      )
    }))
})
