/**
 * Streaming large tables with bounded memory: a cursor on Postgres, keyset
 * pages on SQLite. Rows arrive in key order, in chunks no larger than a
 * page, and stopping early frees the connection.
 */
import { expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { failureOf, forEachDialect, open } from "./dbHarness.js"

const ROWS = 50_000

forEachDialect("Db.stream", (h) => {
  it.scopedLive("streams 50k rows in key order, a page at a time", () =>
    Effect.gen(function*() {
      const db = yield* open({ ...(yield* h.fresh), streamPageSize: 2_000 })
      yield* db.typed(db.sql`CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL)`)
      // Inserted out of order: the stream must sort by key, not by insertion.
      const ids = Array.from({ length: ROWS }, (_, i) => ((i * 7919) % ROWS) + 1)
      yield* db.insertMany("events", ids.map((id) => ({ id, kind: id % 10 === 0 ? "tenth" : "other", payload: `event ${id}` })))

      let expected = 1
      let largest = 0
      const seen = yield* db.stream({ table: "events", key: "id" }).pipe(
        Stream.chunks,
        Stream.runFold(0, (n, chunk) => {
          largest = Math.max(largest, Chunk.size(chunk))
          for (const row of chunk) {
            if (row["id"] !== expected) throw new Error(`expected id ${expected}, got ${String(row["id"])}`)
            expected++
          }
          return n + Chunk.size(chunk)
        })
      )
      expect(seen).toBe(ROWS)
      expect(largest).toBeLessThanOrEqual(h.dialect === "sqlite" ? 2_000 : 128)

      // A condition and a column subset (the key is added for paging).
      const tenths = yield* db.stream({ table: "events", key: "id", columns: ["payload"], where: db.sql`kind = ${"tenth"}`, pageSize: 333 }).pipe(
        Stream.runCollect
      )
      expect(Chunk.size(tenths)).toBe(ROWS / 10)
      expect(Chunk.toReadonlyArray(tenths)[0]).toEqual({ payload: "event 10", id: 10 })
    }), { timeout: 20_000 })

  it.scopedLive("stopping early frees the connection", () =>
    Effect.gen(function*() {
      const db = yield* open({ ...(yield* h.fresh), maxConnections: 1 })
      yield* db.typed(db.sql`CREATE TABLE nums (n INTEGER PRIMARY KEY)`)
      yield* db.insertMany("nums", Array.from({ length: 5_000 }, (_, i) => ({ n: i })))
      const first = yield* db.stream({ table: "nums", key: "n", pageSize: 100 }).pipe(Stream.take(10), Stream.runCollect)
      expect(Chunk.toReadonlyArray(first).map((r) => r["n"])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      const after = yield* db.typed(db.sql<{ c: number | string }>`SELECT count(*) AS c FROM nums`).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the stream kept the only connection") })
      )
      expect(Number(after[0]?.c)).toBe(5_000)
    }))

  it.scopedLive("failures come back typed", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      const error = failureOf(yield* Effect.exit(Stream.runDrain(db.stream({ table: "missing", key: "id" }))))
      expect(error._tag).toBe("QueryFailed")
      expect(error.message).toContain("missing")
      const badPage = failureOf(yield* Effect.exit(Stream.runDrain(db.stream({ table: "missing", key: "id", pageSize: 0 }))))
      expect(badPage.message).toContain("pageSize")
    }))
})
