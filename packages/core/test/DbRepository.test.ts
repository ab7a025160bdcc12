/**
 * `Repository`: a model's rows written and read with typed failures —
 * unique and foreign-key violations, missing rows, rows that do not match
 * the schema, lost connections — where `Model.makeRepository` dies.
 */
import * as Model from "@effect/sql/Model"
import { expect, it } from "@effect/vitest"
import { Db, Repository } from "@fiberkit/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { failureOf, forEachDialect, type Harness, open, recorder } from "./dbHarness.js"

class Site extends Model.Class<Site>("Site")({
  id: Model.Generated(Schema.Int),
  host: Schema.String
}) {}

class Page extends Model.Class<Page>("Page")({
  id: Model.Generated(Schema.Int),
  site: Schema.Int,
  url: Schema.String,
  status: Schema.Int
}) {}

const schema = (h: Harness, db: Db.Service) =>
  Effect.gen(function*() {
    yield* db.typed(db.sql.unsafe(`CREATE TABLE sites (id ${h.serial}, host TEXT NOT NULL UNIQUE)`))
    yield* db.typed(db.sql.unsafe(
      `CREATE TABLE pages (id ${h.serial}, site INTEGER NOT NULL REFERENCES sites(id), url TEXT NOT NULL UNIQUE, status INTEGER)`
    ))
    const sites = yield* Repository.make(Site, { table: "sites", idColumn: "id" })
    const pages = yield* Repository.make(Page, { table: "pages", idColumn: "id" })
    return { sites, pages }
  }).pipe(Effect.provideService(Db.Db, db))

forEachDialect("Repository", (h) => {
  it.scopedLive("insert, find, update and delete a model", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      const { pages, sites } = yield* schema(h, db)
      const site = yield* sites.insert(Site.insert.make({ host: "example.com" }))
      expect(site).toBeInstanceOf(Site)
      expect(site.id).toBeGreaterThan(0)
      const page = yield* pages.insert(Page.insert.make({ site: site.id, url: "https://example.com/", status: 200 }))
      expect([page.url, page.status]).toEqual(["https://example.com/", 200])
      expect(yield* pages.findById(page.id)).toEqual(Option.some(page))
      const updated = yield* pages.update(Page.update.make({ ...page, status: 404 }))
      expect(updated.status).toBe(404)
      expect((yield* pages.getById(page.id)).status).toBe(404)
      yield* pages.delete(page.id)
      expect(yield* pages.findById(page.id)).toEqual(Option.none())
      expect(yield* pages.insertMany([1, 2, 3].map((i) => Page.insert.make({ site: site.id, url: `https://example.com/${i}`, status: 200 }))))
        .toBe(3)
      const all = yield* pages.stream({ where: db.sql`status = ${200}`, pageSize: 2 }).pipe(Stream.runCollect)
      expect(Array.from(all, (p) => p.url)).toEqual(["https://example.com/1", "https://example.com/2", "https://example.com/3"])
      expect(Array.from(all).every((p) => p instanceof Page)).toBe(true)
    }))

  it.scopedLive("a duplicate is a UniqueViolation and a missing parent a ForeignKeyViolation, not defects", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      const { pages, sites } = yield* schema(h, db)
      const site = yield* sites.insert(Site.insert.make({ host: "example.com" }))
      const row = Page.insert.make({ site: site.id, url: "https://example.com/a", status: 200 })
      yield* pages.insertVoid(row)
      for (const attempt of [pages.insert(row), pages.insertVoid(row), pages.insertMany([row])]) {
        const error = failureOf(yield* Effect.exit(attempt))
        expect(error._tag).toBe("UniqueViolation")
        if (error._tag !== "UniqueViolation") continue
        expect(error.table).toBe("pages")
        expect(error.message).toMatch(/url|pages_url_key/)
      }
      const orphan = failureOf(yield* Effect.exit(pages.insert(Page.insert.make({ site: 999, url: "https://x/", status: 1 }))))
      expect(orphan._tag).toBe("ForeignKeyViolation")
      const referenced = failureOf(yield* Effect.exit(sites.delete(site.id)))
      expect(referenced._tag).toBe("ForeignKeyViolation")
    }))

  it.scopedLive("missing rows are NotFound; rows that do not fit the model are InvalidRow", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      const { pages, sites } = yield* schema(h, db)
      const site = yield* sites.insert(Site.insert.make({ host: "example.com" }))
      for (const attempt of [pages.getById(42), pages.delete(42), pages.update(Page.update.make({ id: 42, site: site.id, url: "u", status: 1 }))]) {
        const error = failureOf(yield* Effect.exit(attempt))
        expect(error._tag).toBe("NotFound")
        expect(error.message).toBe("No row in \"pages\" with id = 42.")
      }
      const invalid = failureOf(yield* Effect.exit(pages.insert({ site: site.id, url: "u", status: 1.5 })))
      expect(invalid._tag === "InvalidRow" && invalid.phase).toBe("encode")
      yield* db.typed(db.sql`INSERT INTO pages (site, url, status) VALUES (${site.id}, ${"no-status"}, NULL)`)
      const stored = yield* db.typed(db.sql<{ id: number }>`SELECT id FROM pages WHERE url = ${"no-status"}`)
      const decoded = failureOf(yield* Effect.exit(pages.getById(stored[0]?.id ?? 0)))
      expect(decoded._tag === "InvalidRow" && decoded.phase).toBe("decode")
      expect(decoded.message).toContain("status")
    }))

  it.scopedLive("concurrent findById calls make one query", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      const { pages, sites } = yield* schema(h, db)
      const site = yield* sites.insert(Site.insert.make({ host: "example.com" }))
      yield* pages.insertMany(Array.from({ length: 60 }, (_, i) => Page.insert.make({ site: site.id, url: `/${i}`, status: 200 })))
      const { statements, tracer } = recorder()
      const found = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i + 1), pages.findById, { concurrency: "unbounded" })
        .pipe(Effect.withTracer(tracer))
      expect(statements()).toHaveLength(1)
      expect(found.map((p) => Option.map(p, (x) => x.url))).toEqual(Array.from({ length: 50 }, (_, i) => Option.some(`/${i}`)))
    }))

  it.scopedLive("a lost connection is a typed ConnectionLost, and the service carries on", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      if (h.dialect === "sqlite") {
        // The service's scope closed: its connection is gone.
        const scope = yield* Scope.make()
        const db = yield* Db.make(input).pipe(Scope.extend(scope), Effect.orDie)
        const { pages } = yield* schema(h, db)
        yield* Scope.close(scope, Exit.void)
        const error = failureOf(yield* Effect.exit(pages.findById(1)))
        expect(error._tag).toBe("ConnectionLost")
        expect(error.message).toContain(db.target)
        return
      }
      // The server terminates the backend of a connection in a transaction
      // (from another connection of the pool, outside the transaction).
      const db = yield* open(input)
      const pid = yield* Deferred.make<number>()
      const killed = yield* Deferred.make<void>()
      yield* Effect.fork(Effect.gen(function*() {
        const victim = yield* Deferred.await(pid)
        yield* db.sql`SELECT pg_terminate_backend(${victim})`
        yield* Deferred.succeed(killed, undefined)
      }))
      const error = failureOf(yield* Effect.exit(db.transaction(Effect.gen(function*() {
        const [me] = yield* db.sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
        yield* Deferred.succeed(pid, me?.pid ?? 0)
        yield* Deferred.await(killed)
        return yield* db.sql`SELECT 1`
      }))))
      expect(error._tag).toBe("ConnectionLost")
      expect(yield* db.typed(db.sql<{ one: number }>`SELECT 1 AS one`)).toEqual([{ one: 1 }])
    }))
})
