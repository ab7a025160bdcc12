/**
 * Migrations: applied once (also when two clients start together), recorded
 * per app, rolled back as a whole when one fails, and a database migrated by
 * newer code is refused.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Db, Migrations } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import { failureOf, forEachDialect, open } from "./dbHarness.js"

/** Migrations that count how often each one runs. */
const counted = () => {
  const runs = { pages: 0, links: 0 }
  const migrations = {
    "1_pages": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(Effect.sync(() => runs.pages++), sql`CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE)`)),
    "2_links": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(Effect.sync(() => runs.links++), sql`CREATE TABLE links (id INTEGER PRIMARY KEY, page INTEGER NOT NULL REFERENCES pages(id))`))
  }
  return { runs, migrations }
}

const tables = (db: Db.Service) =>
  db.dialect === "sqlite"
    ? db.typed(db.sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
    : db.typed(db.sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)

forEachDialect("Migrations", (h) => {
  it.scopedLive("applies each migration once, in a per-app table", () =>
    Effect.gen(function*() {
      const input = { ...(yield* h.fresh), app: "my-app" }
      const { migrations, runs } = counted()
      const first = yield* open({ ...input, migrations })
      expect(runs).toEqual({ pages: 1, links: 1 })
      expect((yield* tables(first)).map((t) => t.name)).toEqual(["links", "my_app_migrations", "pages"])
      expect(yield* Migrations.current().pipe(Effect.provideService(Db.Db, first))).toBe(2)

      // Starting again, or running them explicitly, applies nothing.
      yield* open({ ...input, migrations })
      const again = yield* Migrations.run(migrations).pipe(Effect.provideService(Db.Db, first))
      expect(again).toEqual([])
      expect(runs).toEqual({ pages: 1, links: 1 })
      const recorded = yield* first.typed(first.sql<{ migration_id: number; name: string }>`SELECT migration_id, name FROM my_app_migrations ORDER BY migration_id`)
      expect(recorded.map((r) => [r.migration_id, r.name])).toEqual([[1, "pages"], [2, "links"]])
    }))

  it.scopedLive("clients starting at the same time apply each migration once", () =>
    Effect.gen(function*() {
      const input = { ...(yield* h.fresh), app: "race" }
      const { migrations, runs } = counted()
      yield* Effect.all([open({ ...input, migrations }), open({ ...input, migrations }), open({ ...input, migrations })], {
        concurrency: "unbounded"
      })
      expect(runs).toEqual({ pages: 1, links: 1 })
    }))

  it.scopedLive("a database migrated by newer code is refused", () =>
    Effect.gen(function*() {
      const input = { ...(yield* h.fresh), app: "old" }
      const { migrations } = counted()
      yield* open({ ...input, migrations })
      const older = { "1_pages": migrations["1_pages"] }
      const error = failureOf(yield* Effect.exit(Db.make({ ...input, migrations: older })))
      expect(error._tag).toBe("DbMigrationError")
      if (error._tag !== "DbMigrationError") return
      expect(error.reason).toBe("newer-database")
      expect(error.message).toContain("at migration 2")
      expect(error.message).toContain("knows migrations up to 1")
      expect(error.message).toContain("newer version")
    }))

  it.scopedLive("a failing migration rolls the run back and comes back typed", () =>
    Effect.gen(function*() {
      const input = { ...(yield* h.fresh), app: "broken" }
      const { migrations } = counted()
      const broken = {
        ...migrations,
        "3_bad": Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE pages (id INTEGER PRIMARY KEY)`)
      }
      const error = failureOf(yield* Effect.exit(Db.make({ ...input, migrations: broken })))
      expect(error._tag).toBe("DbMigrationError")
      if (error._tag !== "DbMigrationError") return
      expect(error.reason).toBe("failed")
      expect(error.message).toContain("3_bad")
      expect(error.message).toContain("pages")
      // Nothing of the run stayed: not even migrations 1 and 2.
      const db = yield* open(input)
      expect((yield* tables(db)).map((t) => t.name)).toEqual(["broken_migrations"])
      expect(yield* Migrations.current().pipe(Effect.provideService(Db.Db, db))).toBe(0)
    }))

  it.scopedLive("malformed sources are refused before anything runs", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const { migrations } = counted()
      const error = failureOf(yield* Effect.exit(Db.make({ ...input, migrations: { ...migrations, create_users: migrations["1_pages"] } })))
      expect(error._tag === "DbMigrationError" && error.reason).toBe("invalid")
      expect(error.message).toContain("create_users")
      const duplicate = failureOf(yield* Effect.exit(Db.make({ ...input, migrations: { ...migrations, "01_again": migrations["1_pages"] } })))
      expect(duplicate.message).toContain("migration id 1 appears twice")
    }))
})
