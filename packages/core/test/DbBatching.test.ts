/**
 * Batched loads: N concurrent lookups become one statement (counted from
 * the statements executed), whatever N is, with per-key results and errors.
 */
import { expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { failureOf, forEachDialect, open, recorder } from "./dbHarness.js"

const Page = Schema.Struct({ id: Schema.Number, url: Schema.String })
const Link = Schema.Struct({ id: Schema.Number, page: Schema.Number, href: Schema.String })

const seed = (db: Db.Service, pages: number) =>
  Effect.gen(function*() {
    yield* db.typed(db.sql`CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT NOT NULL)`)
    yield* db.typed(db.sql`CREATE TABLE links (id INTEGER PRIMARY KEY, page INTEGER NOT NULL, href TEXT NOT NULL)`)
    yield* db.insertMany("pages", Array.from({ length: pages }, (_, i) => ({ id: i + 1, url: `https://example.com/${i + 1}` })))
    // Page p has p % 3 links.
    const links = Array.from({ length: pages }, (_, i) => i + 1).flatMap((p) =>
      Array.from({ length: p % 3 }, (_, k) => ({ id: p * 10 + k, page: p, href: `/p${p}/l${k}` }))
    )
    yield* db.insertMany("links", links)
  })

forEachDialect("Db.loader", (h) => {
  it.scopedLive("100 concurrent lookups by id make one query", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* seed(db, 200)
      const pages = yield* Db.loader({ table: "pages", key: "id", schema: Page }).pipe(Effect.provideService(Db.Db, db))
      const ids = Array.from({ length: 100 }, (_, i) => (i * 7) % 250 + 1)
      const { statements, tracer } = recorder()
      const found = yield* Effect.forEach(ids, pages.load, { concurrency: "unbounded" }).pipe(Effect.withTracer(tracer))
      expect(statements()).toHaveLength(1)
      expect(statements()[0]).toContain("\"pages\"")
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] ?? 0
        expect(found[i]).toEqual(id <= 200 ? Option.some({ id, url: `https://example.com/${id}` }) : Option.none())
      }
      // Loads from unrelated fibers that wait at the same moment share a query too.
      const forked = recorder()
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], (id) => Effect.fork(pages.load(id))).pipe(Effect.withTracer(forked.tracer))
      const joined = yield* Effect.forEach(fibers, Fiber.join)
      expect(forked.statements()).toHaveLength(1)
      expect(joined.map(Option.map((p) => p.id))).toEqual([1, 2, 3, 4, 5].map(Option.some))
      // Lookups one after the other are one query each.
      const one = recorder()
      yield* Effect.forEach(ids.slice(0, 5), pages.load).pipe(Effect.withTracer(one.tracer))
      expect(one.statements()).toHaveLength(5)
    }))

  it.scopedLive("one statement serves any batch size, even past the bind-parameter limit", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* seed(db, 30_000)
      const pages = yield* Db.loader({ table: "pages", key: "id", schema: Page }).pipe(Effect.provideService(Db.Db, db))
      const ids = Array.from({ length: 40_000 }, (_, i) => i + 1)
      const { statements, tracer } = recorder()
      const found = yield* pages.loadMany(ids).pipe(Effect.withTracer(tracer))
      expect(statements()).toHaveLength(1)
      expect(found.filter(Option.isSome)).toHaveLength(30_000)
      expect(found[29_999]).toEqual(Option.some({ id: 30_000, url: "https://example.com/30000" }))
      expect(found[30_000]).toEqual(Option.none())
    }), { timeout: 20_000 })

  it.scopedLive("grouped loads return every row per key in one query", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* seed(db, 30)
      const links = yield* Db.groupedLoader({ table: "links", key: "page", schema: Link }).pipe(Effect.provideService(Db.Db, db))
      const { statements, tracer } = recorder()
      const groups = yield* links.loadMany([1, 2, 3, 4, 5, 99]).pipe(Effect.withTracer(tracer))
      expect(statements()).toHaveLength(1)
      expect(groups.map((g) => g.map((l) => l.href).sort())).toEqual([
        ["/p1/l0"],
        ["/p2/l0", "/p2/l1"],
        [],
        ["/p4/l0"],
        ["/p5/l0", "/p5/l1"],
        []
      ])
    }))

  it.scopedLive("a row that does not match the schema fails only its own key, as InvalidRow", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* seed(db, 3)
      const Strict = Schema.Struct({ id: Schema.Number, url: Schema.String.pipe(Schema.endsWith("/2")) })
      const pages = yield* Db.loader({ table: "pages", key: "id", schema: Strict }).pipe(Effect.provideService(Db.Db, db))
      const results = yield* Effect.forEach([1, 2], (id) => Effect.either(pages.load(id)), { concurrency: "unbounded" })
      expect(results[0]?._tag === "Left" && results[0].left._tag).toBe("InvalidRow")
      expect(results[0]?._tag === "Left" && results[0].left.message).toContain("\"pages\"")
      expect(results[1]?._tag === "Right" && results[1].right).toEqual(Option.some({ id: 2, url: "https://example.com/2" }))
      const missingTable = yield* Db.loader({ table: "nope", key: "id", schema: Page }).pipe(Effect.provideService(Db.Db, db))
      expect(failureOf(yield* Effect.exit(missingTable.load(1)))._tag).toBe("QueryFailed")
    }))

  it.scopedLive("inside a transaction, loads run on the transaction's connection and see its writes", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* seed(db, 2)
      const pages = yield* Db.loader({ table: "pages", key: "id", schema: Page }).pipe(Effect.provideService(Db.Db, db))
      const seen = yield* db.transaction(Effect.gen(function*() {
        yield* db.sql`INSERT INTO pages (id, url) VALUES (3, 'uncommitted')`
        return yield* Effect.forEach([1, 3], pages.load, { concurrency: "unbounded" })
      }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the load waited for the transaction's own lock") })))
      expect(seen.map(Option.map((p) => p.url))).toEqual([Option.some("https://example.com/1"), Option.some("uncommitted")])
    }))
})
