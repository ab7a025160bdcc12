/**
 * The frontier's statements, one fixed text per operation and dialect, so
 * that SQLite's prepared-statement cache and the Postgres parser see the
 * same statement whatever the batch size:
 *
 * - SQLite receives a batch as ONE JSON parameter (an array of row arrays)
 *   unpacked with `json_each` — no bind-parameter limit, no per-size text;
 * - Postgres receives it as one array parameter per column, zipped with
 *   `unnest`.
 *
 * Rows are tuples in the column order documented on each function.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"

/** A batch of rows, each a tuple of column values. @internal */
export type Rows = ReadonlyArray<ReadonlyArray<unknown>>

/** A claimed row as the database returns it (Postgres bigints as text). @internal */
export interface ClaimedRow {
  readonly id: number | string
  readonly key: string
  readonly url: string
  readonly host: string
  readonly depth: number
  readonly attempts: number
  readonly lease_token: string
}

/** @internal */
export interface Statements {
  /** Leases up to `n` entries; the token of each is `prefix` followed by its id. */
  readonly claim: (now: number, until: number, n: number, prefix: string) => Effect.Effect<ReadonlyArray<ClaimedRow>, SqlError>
  /**
   * Fenced transitions, rows `[id, token, state, attemptsIncrement, nextAt | null, reason | null]`:
   * only a row still leased under that token changes. Returns the tokens that did.
   */
  readonly transition: (rows: Rows) => Effect.Effect<ReadonlyArray<{ readonly lease_token: string }>, SqlError>
  /** Moves the page sequence on by `n`, locking it until commit; returns the new last value. */
  readonly reserveSeq: (n: number) => Effect.Effect<number, SqlError>
  /** Page rows in {@link PAGE_COLUMNS} order. */
  readonly insertPages: (rows: Rows) => Effect.Effect<unknown, SqlError>
  /** URL rows `[key, url, host, depth, parentId | null]`, inserted if the key is new; returns how many were. */
  readonly insertUrls: (rows: Rows, now: number) => Effect.Effect<number, SqlError>
  /** Rows `[id, token]`: still-held leases become pending; returns how many. */
  readonly release: (rows: Rows) => Effect.Effect<number, SqlError>
  /** Rows `[id, token]`: still-held leases now expire at `until`; returns the tokens that were held. */
  readonly renew: (rows: Rows, until: number) => Effect.Effect<ReadonlyArray<{ readonly lease_token: string }>, SqlError>
}

/** The `pages` columns in the order of a page row. @internal */
export const PAGE_COLUMNS = [
  "url_id",
  "seq",
  "url",
  "final_url",
  "status",
  "content_type",
  "bytes",
  "title",
  "canonical",
  "depth",
  "links_out",
  "fetched_at",
  "fetched_ms",
  "elapsed_ms",
  "error_kind",
  "error_message",
  "data",
  "body_key"
] as const

const PG_PAGE_TYPES = [
  "bigint",
  "bigint",
  "text",
  "text",
  "int",
  "text",
  "bigint",
  "text",
  "text",
  "int",
  "int",
  "text",
  "bigint",
  "float8",
  "text",
  "text",
  "text",
  "text"
] as const

/** Rows affected, from a driver's raw result (`changes` on SQLite, `rowCount` on Postgres). */
const changesOf = (raw: unknown): number => {
  if (typeof raw !== "object" || raw === null) return 0
  const r = raw as { readonly changes?: unknown; readonly rowCount?: unknown }
  const n = typeof r.changes === "number" ? r.changes : r.rowCount
  return typeof n === "number" ? n : 0
}

/** `value ->> 0, value ->> 1, …` */
const extract = (n: number): string => Array.from({ length: n }, (_, i) => `value ->> ${i}`).join(", ")

// Two arms, each reading its partial index (pending by depth and id, leased
// by expiry) and stopping after n rows: a single `WHERE (pending …) OR
// (leased …)` would sort every pending row on each claim.
const SQLITE_CLAIM = `WITH c(id) AS (
  SELECT id FROM (
    SELECT id, depth FROM (SELECT id, depth FROM urls WHERE state = 'pending' AND next_at <= ? ORDER BY depth, id LIMIT ?)
    UNION ALL
    SELECT id, depth FROM (SELECT id, depth FROM urls WHERE state = 'leased' AND leased_until < ? ORDER BY depth, id LIMIT ?)
    ORDER BY depth, id LIMIT ?
  )
)
UPDATE urls SET state = 'leased', attempts = attempts + CASE WHEN state = 'leased' THEN 1 ELSE 0 END,
  lease_token = ? || id, leased_until = ?
WHERE id IN (SELECT id FROM c)
RETURNING id, key, url, host, depth, attempts, lease_token`

// The row keeps its last token (RETURNING can only show new values, and the
// token tells which of two leases of one URL in a batch won); the fence is
// `state = 'leased'` together with the token. The unary `+` keeps SQLite
// from driving the join with the claim index (every leased row, each joined
// with the whole batch) instead of one primary-key lookup per batch row.
const SQLITE_TRANSITION = `WITH v(vid, vtoken, vstate, vinc, vnext, vreason) AS (SELECT ${extract(6)} FROM json_each(?))
UPDATE urls SET state = v.vstate, attempts = attempts + v.vinc, next_at = coalesce(v.vnext, next_at),
  leased_until = NULL, reason = v.vreason
FROM v WHERE urls.id = v.vid AND urls.lease_token = v.vtoken AND +urls.state = 'leased'
RETURNING lease_token`

const SQLITE_SEQ = `UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'seq' RETURNING value`

const SQLITE_PAGES = `INSERT INTO pages (${PAGE_COLUMNS.join(", ")}) SELECT ${extract(PAGE_COLUMNS.length)} FROM json_each(?)`

// `WHERE true`: without it SQLite would read `ON CONFLICT` as a join constraint.
const SQLITE_URLS = `INSERT INTO urls (key, url, host, depth, parent_id, discovered_at)
SELECT ${extract(5)}, ? FROM json_each(?) WHERE true
ON CONFLICT (key) DO NOTHING`

const SQLITE_RELEASE = `WITH v(vid, vtoken) AS (SELECT ${extract(2)} FROM json_each(?))
UPDATE urls SET state = 'pending', lease_token = NULL, leased_until = NULL
FROM v WHERE urls.id = v.vid AND urls.lease_token = v.vtoken AND +urls.state = 'leased'`

const SQLITE_RENEW = `WITH v(vid, vtoken) AS (SELECT ${extract(2)} FROM json_each(?))
UPDATE urls SET leased_until = ?
FROM v WHERE urls.id = v.vid AND urls.lease_token = v.vtoken AND +urls.state = 'leased'
RETURNING lease_token`

const sqlite = (sql: Db.Service["sql"]): Statements => ({
  claim: (now, until, n, prefix) => sql.unsafe<ClaimedRow>(SQLITE_CLAIM, [now, n, now, n, n, prefix, until]),
  transition: (rows) => sql.unsafe<{ readonly lease_token: string }>(SQLITE_TRANSITION, [JSON.stringify(rows)]),
  reserveSeq: (n) => Effect.map(sql.unsafe<{ readonly value: unknown }>(SQLITE_SEQ, [n]), (r) => Number(r[0]?.value)),
  insertPages: (rows) => sql.unsafe(SQLITE_PAGES, [JSON.stringify(rows)]).raw,
  insertUrls: (rows, now) => Effect.map(sql.unsafe(SQLITE_URLS, [now, JSON.stringify(rows)]).raw, changesOf),
  release: (rows) => Effect.map(sql.unsafe(SQLITE_RELEASE, [JSON.stringify(rows)]).raw, changesOf),
  renew: (rows, until) => sql.unsafe<{ readonly lease_token: string }>(SQLITE_RENEW, [JSON.stringify(rows), until])
})

// Postgres: FOR UPDATE SKIP LOCKED in each arm, so concurrent claimers take
// disjoint rows without waiting. Rows an arm locked but the final LIMIT
// dropped stay locked only until this statement commits.
const PG_CLAIM = `WITH p AS (
  SELECT id, depth FROM urls WHERE state = 'pending' AND next_at <= $1 ORDER BY depth, id LIMIT $2 FOR UPDATE SKIP LOCKED
), l AS (
  SELECT id, depth FROM urls WHERE state = 'leased' AND leased_until < $1 ORDER BY depth, id LIMIT $2 FOR UPDATE SKIP LOCKED
), c AS (
  SELECT id FROM (SELECT id, depth FROM p UNION ALL SELECT id, depth FROM l) x ORDER BY depth, id LIMIT $2
)
UPDATE urls AS u SET state = 'leased', attempts = u.attempts + CASE WHEN u.state = 'leased' THEN 1 ELSE 0 END,
  lease_token = $3::text || u.id::text, leased_until = $4
FROM c WHERE u.id = c.id
RETURNING u.id, u.key, u.url, u.host, u.depth, u.attempts, u.lease_token`

const PG_TRANSITION = `UPDATE urls AS u SET state = v.state, attempts = u.attempts + v.inc, next_at = coalesce(v.next_at, u.next_at),
  leased_until = NULL, reason = v.reason
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[]) AS v(id, token, state, inc, next_at, reason)
WHERE u.id = v.id AND u.lease_token = v.token AND u.state = 'leased'
RETURNING u.lease_token`

const PG_SEQ = `UPDATE meta SET value = (value::bigint + $1::bigint)::text WHERE key = 'seq' RETURNING value`

const PG_PAGES = `INSERT INTO pages (${PAGE_COLUMNS.join(", ")}) SELECT * FROM unnest(${
  PG_PAGE_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(", ")
})`

const PG_URLS = `INSERT INTO urls (key, url, host, depth, parent_id, discovered_at)
SELECT k, u, h, d, p, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[]) AS t(k, u, h, d, p)
ON CONFLICT (key) DO NOTHING`

const PG_RELEASE = `UPDATE urls AS u SET state = 'pending', lease_token = NULL, leased_until = NULL
FROM unnest($1::bigint[], $2::text[]) AS v(id, token)
WHERE u.id = v.id AND u.lease_token = v.token AND u.state = 'leased'`

const PG_RENEW = `UPDATE urls AS u SET leased_until = $3
FROM unnest($1::bigint[], $2::text[]) AS v(id, token)
WHERE u.id = v.id AND u.lease_token = v.token AND u.state = 'leased'
RETURNING u.lease_token`

/** Row tuples to one array per column. */
const columns = (rows: Rows, width: number): Array<Array<unknown>> => {
  const out: Array<Array<unknown>> = []
  for (let c = 0; c < width; c++) out.push(new Array<unknown>(rows.length))
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as ReadonlyArray<unknown>
    for (let c = 0; c < width; c++) (out[c] as Array<unknown>)[r] = row[c]
  }
  return out
}

const pg = (sql: Db.Service["sql"]): Statements => ({
  claim: (now, until, n, prefix) => sql.unsafe<ClaimedRow>(PG_CLAIM, [now, n, prefix, until]),
  transition: (rows) => sql.unsafe<{ readonly lease_token: string }>(PG_TRANSITION, columns(rows, 6)),
  reserveSeq: (n) => Effect.map(sql.unsafe<{ readonly value: unknown }>(PG_SEQ, [n]), (r) => Number(r[0]?.value)),
  insertPages: (rows) => sql.unsafe(PG_PAGES, columns(rows, PAGE_COLUMNS.length)).raw,
  insertUrls: (rows, now) => Effect.map(sql.unsafe(PG_URLS, [...columns(rows, 5), now]).raw, changesOf),
  release: (rows) => Effect.map(sql.unsafe(PG_RELEASE, columns(rows, 2)).raw, changesOf),
  renew: (rows, until) => sql.unsafe<{ readonly lease_token: string }>(PG_RENEW, [...columns(rows, 2), until])
})

/** The statements of `db`'s dialect. @internal */
export const make = (db: Db.Service): Statements => (db.dialect === "pg" ? pg(db.sql) : sqlite(db.sql))
