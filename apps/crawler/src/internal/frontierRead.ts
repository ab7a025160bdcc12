/**
 * Reads over the crawl database shared by `Frontier` and `Store`: the crawl
 * recorded in `meta`, and the aggregates of `Frontier.stats` and
 * `Store.summary`. Postgres returns `count(*)`, `sum(bigint)` and `bigint`
 * columns as text: every number read here goes through `num`.
 *
 * @internal
 */
import type { Db } from "@fiberkit/core"
import { DbError } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Frontier from "../Frontier.js"

/** A number from a driver value (Postgres bigint/numeric come as text); `null` stays `null`. @internal */
export const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

const count = (value: unknown): number => num(value) ?? 0

interface Keyed {
  readonly k: string | number | null
  readonly n: number | string
}

/** Counts per key, `null` keys under `"none"`. */
const tally = (rows: ReadonlyArray<Keyed>, label: (k: string | number) => string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const row of rows) out[row.k === null ? "none" : label(row.k)] = count(row.n)
  return out
}

/** URLs per state. @internal */
export const stateCounts = (db: Db.Service): Effect.Effect<Frontier.StateCounts, DbError.DbError> =>
  Effect.map(
    db.typed(db.sql<Keyed>`SELECT state AS k, count(*) AS n FROM urls GROUP BY state`),
    (rows) => {
      const by = tally(rows, String)
      const pending = by["pending"] ?? 0
      const leased = by["leased"] ?? 0
      const done = by["done"] ?? 0
      const failed = by["failed"] ?? 0
      const skipped = by["skipped"] ?? 0
      return { pending, leased, done, failed, skipped, total: pending + leased + done + failed + skipped }
    }
  )

/** Page records per exact status (`"none"` for no response). @internal */
export const byStatus = (db: Db.Service): Effect.Effect<Record<string, number>, DbError.DbError> =>
  Effect.map(
    db.typed(db.sql<Keyed>`SELECT status AS k, count(*) AS n FROM pages GROUP BY status ORDER BY status`),
    (rows) => tally(rows, String)
  )

/** @internal */
export const stats = (db: Db.Service, now: number): Effect.Effect<Frontier.Stats, DbError.DbError> =>
  Effect.gen(function*() {
    const sql = db.sql
    const urls = yield* stateCounts(db)
    const [waiting] = yield* db.typed(
      sql<{ readonly n: number | string; readonly first: number | string | null }>`SELECT count(*) AS n, min(next_at) AS first FROM urls WHERE state = 'pending' AND next_at > ${now}`
    )
    const [leases] = yield* db.typed(
      sql<{ readonly first: number | string | null }>`SELECT min(leased_until) AS first FROM urls WHERE state = 'leased'`
    )
    const classes = yield* db.typed(
      sql<Keyed>`SELECT status / 100 AS k, count(*) AS n FROM pages GROUP BY status / 100`
    )
    const kinds = yield* db.typed(
      sql<Keyed>`SELECT error_kind AS k, count(*) AS n FROM pages WHERE error_kind IS NOT NULL GROUP BY error_kind ORDER BY error_kind`
    )
    const [pages] = yield* db.typed(
      sql<{
        readonly n: number | string
        readonly b: number | string | null
        readonly lo: number | string | null
        readonly hi: number | string | null
      }>`SELECT count(*) AS n, sum(bytes) AS b, min(fetched_ms) AS lo, max(fetched_ms) AS hi FROM pages`
    )
    return {
      urls,
      waiting: count(waiting?.n),
      nextAt: num(waiting?.first),
      leaseExpiresAt: num(leases?.first),
      pages: count(pages?.n),
      byStatusClass: tally(classes, (k) => `${Number(k)}xx`),
      byErrorKind: tally(kinds, String),
      bytes: count(pages?.b),
      firstFetchedAt: num(pages?.lo),
      lastFetchedAt: num(pages?.hi)
    }
  })

const META_KEYS = ["crawl_id", "created_at", "seeds", "options"] as const

const parseJson = (key: string, value: string): unknown => {
  try {
    return JSON.parse(value)
  } catch (error) {
    throw new DbError.InvalidRow({
      table: "meta",
      phase: "decode",
      reason: `meta ${key} is not JSON: ${error instanceof Error ? error.message : String(error)}`
    })
  }
}

/** The crawl recorded in `meta`, if any. @internal */
export const crawl = (db: Db.Service): Effect.Effect<Option.Option<Frontier.Crawl>, DbError.DbError> =>
  Effect.flatMap(
    db.typed(db.sql<{ readonly key: string; readonly value: string }>`SELECT key, value FROM meta WHERE key IN ${
      db.sql.in(META_KEYS)
    }`),
    (rows) =>
      Effect.try({
        try: () => {
          const get = (key: string) => rows.find((r) => r.key === key)?.value
          const id = get("crawl_id")
          if (id === undefined) return Option.none()
          const seeds = parseJson("seeds", get("seeds") ?? "[]")
          return Option.some<Frontier.Crawl>({
            id,
            createdAt: Number(get("created_at")),
            seeds: Array.isArray(seeds) ? seeds.map(String) : [],
            options: parseJson("options", get("options") ?? "null")
          })
        },
        catch: (error) =>
          error instanceof DbError.InvalidRow
            ? error
            : new DbError.InvalidRow({ table: "meta", phase: "decode", reason: String(error) })
      })
  )
