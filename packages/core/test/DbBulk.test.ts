/**
 * Bulk writes: `insertMany` and `upsert` chunk under each dialect's
 * bind-parameter limit (counted from the statements actually executed),
 * write all chunks atomically, and behave the same on both dialects.
 */
import { expect, it } from "@effect/vitest"
import type { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import { failureOf, forEachDialect, open, recorder } from "./dbHarness.js"

const placeholdersIn = (text: string): number => (text.match(/\?|\$\d+/g) ?? []).length

const rowsOf = (db: Db.Service, table: string) =>
  db.typed(db.sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY id`))

forEachDialect("Db bulk writes", (h) => {
  it.scopedLive("insertMany splits rows into statements under the bind-parameter limit", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE points (id INTEGER PRIMARY KEY, x INTEGER NOT NULL, label TEXT)`)
      const perStatement = Math.floor(db.maxParams / 3)
      const total = perStatement * 2 + 7
      const rows = Array.from({ length: total }, (_, i) => ({ id: i + 1, x: i * 2, label: `p${i}` }))
      const { statements, tracer } = recorder()
      const written = yield* db.insertMany("points", rows).pipe(Effect.withTracer(tracer))
      expect(written).toBe(total)
      const inserts = statements()
      expect(inserts.length).toBe(3)
      expect(inserts.map(placeholdersIn)).toEqual([perStatement * 3, perStatement * 3, 21])
      for (const text of inserts) expect(placeholdersIn(text)).toBeLessThanOrEqual(db.maxParams)
      const check = yield* db.typed(db.sql<{ c: number | string; s: number | string }>`SELECT count(*) AS c, sum(x) AS s FROM points`)
      expect(Number(check[0]?.c)).toBe(total)
      expect(Number(check[0]?.s)).toBe(total * (total - 1))
    }))

  it.scopedLive("a failure in a later chunk rolls back the earlier ones", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`)
      const rows = Array.from({ length: 25 }, (_, i) => ({ id: i + 1, name: i === 24 ? "t0" : `t${i}` }))
      const error = failureOf(yield* Effect.exit(db.insertMany("tags", rows, { chunkSize: 10 })))
      expect(error._tag).toBe("UniqueViolation")
      expect(error.message).toContain("tags")
      expect(yield* rowsOf(db, "tags")).toEqual([])
    }))

  it.scopedLive("chunkSize caps rows per statement; no rows, no statement", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE small (id INTEGER PRIMARY KEY, v TEXT)`)
      const { statements, tracer } = recorder()
      yield* Effect.gen(function*() {
        expect(yield* db.insertMany("small", [])).toBe(0)
        expect(yield* db.insertMany("small", Array.from({ length: 10 }, (_, i) => ({ id: i, v: String(i) })), { chunkSize: 3 }))
          .toBe(10)
      }).pipe(Effect.withTracer(tracer))
      expect(statements().map(placeholdersIn)).toEqual([6, 6, 6, 2])
    }))

  it.scopedLive("booleans, dates and undefined are written the same way on both dialects", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE flags (id INTEGER PRIMARY KEY, ok BOOLEAN, at TEXT, note TEXT)`)
      const at = new Date("2024-05-06T07:08:09.010Z")
      yield* db.insertMany("flags", [{ id: 1, ok: true, at: at.toISOString(), note: undefined }, { id: 2, ok: false, at, note: "n" }])
      const rows = yield* db.typed(db.sql<{ id: number; ok: unknown; at: string; note: string | null }>`SELECT * FROM flags ORDER BY id`)
      expect(rows.map((r) => [r.id, Boolean(r.ok), r.note])).toEqual([[1, true, null], [2, false, "n"]])
      expect(rows.map((r) => new Date(r.at).getTime())).toEqual([at.getTime(), at.getTime()])
    }))

  it.scopedLive("upsert overwrites existing rows, inserts new ones, and the last duplicate in the input wins", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE prices (symbol TEXT NOT NULL, venue TEXT NOT NULL, price INTEGER NOT NULL, id INTEGER, PRIMARY KEY (symbol, venue))`)
      yield* db.insertMany("prices", [{ symbol: "BTC", venue: "a", price: 1, id: 1 }, { symbol: "ETH", venue: "a", price: 2, id: 2 }])
      const written = yield* db.upsert("prices", [
        { symbol: "BTC", venue: "a", price: 10, id: 1 },
        { symbol: "SOL", venue: "a", price: 3, id: 3 },
        { symbol: "BTC", venue: "a", price: 11, id: 1 }
      ], { key: ["symbol", "venue"] })
      expect(written).toBe(2)
      const rows = yield* rowsOf(db, "prices")
      expect(rows.map((r) => [r["symbol"], r["price"]])).toEqual([["BTC", 11], ["ETH", 2], ["SOL", 3]])

      // update: [] keeps what is there.
      const kept = yield* db.upsert("prices", [{ symbol: "ETH", venue: "a", price: 99, id: 2 }, { symbol: "ADA", venue: "a", price: 4, id: 4 }], {
        key: ["symbol", "venue"],
        update: []
      })
      expect(kept).toBe(1)
      const after = yield* rowsOf(db, "prices")
      expect(after.map((r) => [r["symbol"], r["price"]])).toEqual([["BTC", 11], ["ETH", 2], ["SOL", 3], ["ADA", 4]])
    }))
})
