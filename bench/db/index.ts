/**
 * Database throughput of `@fiberkit/core` `Db` against the raw drivers, in
 * one run:
 *
 * - bulk insert of N rows (default 200 000): `Db.insertMany` vs a raw
 *   better-sqlite3 prepared statement run per row in one transaction, and
 *   vs raw `pg` multi-row INSERTs (same rows per statement) in one
 *   transaction — target ≥ 0.8× the raw driver;
 * - 10 000 lookups by id: batched through `Db.loader` (one `loadMany`, and
 *   10 000 concurrent `load`s) vs one query each — the speed-up;
 * - streaming the table with `Db.stream` vs reading it with one SELECT —
 *   the heap growth of each.
 *
 * Rounds alternate which side goes first; ratios are medians over rounds of
 * (raw time / Db time) within a round. Postgres runs at 127.0.0.1:5432,
 * database `test` (override with `TEST_DATABASE_URL`), in a schema of its
 * own that is dropped at the end; when it does not answer its part is
 * skipped. Never fails.
 *
 *   tsx bench/db/index.ts [--rows 200000] [--lookups 10000] [--rounds 5]
 */
import { Db } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "200000" },
    lookups: { type: "string", default: "10000" },
    rounds: { type: "string", default: "5" }
  }
})
const ROWS = Number(values.rows)
const LOOKUPS = Number(values.lookups)
const ROUNDS = Number(values.rounds)
/** Lookups take longer per round and vary less. */
const LOOKUP_ROUNDS = Math.max(1, Math.ceil(ROUNDS / 2))
const PG_URL = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

// The drivers ship no types: the parts used here.
interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): unknown
}
interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  exec(sql: string): void
  pragma(sql: string): unknown
  transaction<A extends ReadonlyArray<unknown>>(f: (...args: A) => void): (...args: A) => void
  close(): void
}
interface PgClient {
  connect(): Promise<void>
  query(text: string, values?: ReadonlyArray<unknown>): Promise<unknown>
  end(): Promise<void>
}
const require = createRequire(import.meta.url)
const Sqlite = require("better-sqlite3") as new(filename: string, options?: { readonly timeout?: number }) => SqliteDatabase
const Pg = require("pg") as { readonly Client: new(config: { readonly connectionString: string; readonly options?: string }) => PgClient }

interface Row {
  readonly id: number
  readonly url: string
  readonly status: number
  readonly size: number
}
const COLUMNS = ["id", "url", "status", "size"] as const
const rows: ReadonlyArray<Row> = Array.from({ length: ROWS }, (_, i) => ({
  id: i + 1,
  url: `https://example.com/section-${i % 97}/page-${i}`,
  status: i % 13 === 0 ? 404 : 200,
  size: (i * 7919) % 100_000
}))
const DDL = "CREATE TABLE items (id INTEGER PRIMARY KEY, url TEXT NOT NULL, status INTEGER NOT NULL, size INTEGER NOT NULL)"
const Item = Schema.Struct({ id: Schema.Number, url: Schema.String, status: Schema.Number, size: Schema.Number })

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

const time = async (f: () => Promise<void>): Promise<number> => {
  const started = performance.now()
  await f()
  return performance.now() - started
}

const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`.padStart(14)
const fmtMs = (ms: number): string => `${ms.toFixed(0)} ms`.padStart(10)
const heading = (text: string) => console.log(`\n${text}`)
const line = (name: string, ms: number, n: number, extra = "") => console.log(`  ${name.padEnd(52)}${fmtMs(ms)}${rate(n, ms)}${extra}`)

/** A `Db` kept open for the whole bench. */
const openDb = async (input: Db.Input) => {
  const scope = await Effect.runPromise(Scope.make())
  const made = await Effect.runPromise(Effect.either(Scope.extend(Db.make({ poolMetricsInterval: 0, ...input }), scope)))
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  if (Either.isLeft(made)) {
    await close()
    return { ok: false as const, reason: made.left.message }
  }
  return { ok: true as const, db: made.right, close }
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

// ---------------------------------------------------------------------------
// Bulk insert
// ---------------------------------------------------------------------------

const rawSqliteInsert = (db: SqliteDatabase): void => {
  const insert = db.prepare("INSERT INTO items (id, url, status, size) VALUES (?, ?, ?, ?)")
  db.transaction((all: ReadonlyArray<Row>) => {
    for (const r of all) insert.run(r.id, r.url, r.status, r.size)
  })(rows)
}

const rawPgInsert = async (client: PgClient): Promise<void> => {
  const perStatement = Math.floor(65535 / COLUMNS.length)
  await client.query("BEGIN")
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement)
    const params: Array<unknown> = []
    const groups: Array<string> = []
    for (const r of chunk) {
      const n = params.length
      groups.push(`($${n + 1},$${n + 2},$${n + 3},$${n + 4})`)
      params.push(r.id, r.url, r.status, r.size)
    }
    await client.query(`INSERT INTO items (id, url, status, size) VALUES ${groups.join(",")}`, params)
  }
  await client.query("COMMIT")
}

const benchSqliteInsert = async (dir: string) => {
  heading(`SQLite bulk insert, ${ROWS.toLocaleString("en-US")} rows × ${COLUMNS.length} columns, one transaction (WAL, one file each)`)
  const rawFile = Path.join(dir, "raw.db")
  const raw = new Sqlite(rawFile)
  raw.pragma("journal_mode = WAL")
  const opened = await openDb({ filename: Path.join(dir, "db.db") })
  if (!opened.ok) throw new Error(opened.reason)
  const db = opened.db
  const resetRaw = () => {
    raw.exec("DROP TABLE IF EXISTS items")
    raw.exec(DDL)
  }
  const resetDb = () => run(db.typed(Effect.zipRight(db.sql`DROP TABLE IF EXISTS items`, db.sql.unsafe(DDL))))
  const rawTimes: Array<number> = []
  const dbTimes: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round <= ROUNDS; round++) {
    const measureRaw = async () => {
      resetRaw()
      return time(async () => rawSqliteInsert(raw))
    }
    const measureDb = async () => {
      await resetDb()
      return time(async () => void (await run(db.insertMany("items", rows))))
    }
    let rawMs: number
    let dbMs: number
    if (round % 2 === 0) {
      rawMs = await measureRaw()
      dbMs = await measureDb()
    } else {
      dbMs = await measureDb()
      rawMs = await measureRaw()
    }
    if (round === 0) continue // warm-up
    rawTimes.push(rawMs)
    dbTimes.push(dbMs)
    ratios.push(rawMs / dbMs)
  }
  line("raw better-sqlite3 prepared INSERT per row", median(rawTimes), ROWS)
  line(`Db.insertMany (${Math.floor(db.maxParams / COLUMNS.length)} rows per statement)`, median(dbTimes), ROWS, `   ${median(ratios).toFixed(2)}x raw`)
  console.log(`  Db / raw per round: ${ratios.map((r) => r.toFixed(2)).join(" ")}   (target >= 0.80x)`)
  raw.close()
  return { db, close: opened.close }
}

const benchPgInsert = async (schema: string) => {
  heading(`Postgres bulk insert, ${ROWS.toLocaleString("en-US")} rows × ${COLUMNS.length} columns, one transaction`)
  const opened = await openDb({ url: PG_URL, schema })
  if (!opened.ok) throw new Error(opened.reason)
  const db = opened.db
  const client = new Pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` })
  await client.connect()
  const reset = () => run(db.typed(Effect.zipRight(db.sql`DROP TABLE IF EXISTS items`, db.sql.unsafe(DDL))))
  const rawTimes: Array<number> = []
  const dbTimes: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round <= ROUNDS; round++) {
    const measureRaw = async () => {
      await reset()
      return time(() => rawPgInsert(client))
    }
    const measureDb = async () => {
      await reset()
      return time(async () => void (await run(db.insertMany("items", rows))))
    }
    let rawMs: number
    let dbMs: number
    if (round % 2 === 0) {
      rawMs = await measureRaw()
      dbMs = await measureDb()
    } else {
      dbMs = await measureDb()
      rawMs = await measureRaw()
    }
    if (round === 0) continue
    rawTimes.push(rawMs)
    dbTimes.push(dbMs)
    ratios.push(rawMs / dbMs)
  }
  line(`raw pg multi-row INSERT (${Math.floor(65535 / COLUMNS.length)} rows per statement)`, median(rawTimes), ROWS)
  line(`Db.insertMany (${Math.floor(db.maxParams / COLUMNS.length)} rows per statement)`, median(dbTimes), ROWS, `   ${median(ratios).toFixed(2)}x raw`)
  console.log(`  Db / raw per round: ${ratios.map((r) => r.toFixed(2)).join(" ")}   (target >= 0.80x)`)
  await client.end()
  return { db, close: opened.close }
}

// ---------------------------------------------------------------------------
// Lookups and streaming (on the table the insert bench left behind)
// ---------------------------------------------------------------------------

const benchLookups = async (label: string, db: Db.Service) => {
  heading(`${label}: ${LOOKUPS.toLocaleString("en-US")} lookups by id in a ${ROWS.toLocaleString("en-US")}-row table`)
  const ids = Array.from({ length: LOOKUPS }, (_, i) => ((i * 104729) % ROWS) + 1)
  const loader = await run(Db.loader({ table: "items", key: "id", schema: Item }).pipe(Effect.provideService(Db.Db, db)))
  const one = (id: number) => db.typed(db.sql`SELECT * FROM items WHERE id = ${id}`)
  const sequential = "one query each, one after the other"
  const concurrent = `one query each, ${LOOKUPS} concurrent fibers`
  const subjects: Array<{ readonly name: string; readonly effect: Effect.Effect<unknown, unknown>; readonly baseline: string }> = [
    { name: sequential, effect: Effect.forEach(ids, one, { discard: true }), baseline: sequential },
    { name: concurrent, effect: Effect.forEach(ids, one, { concurrency: "unbounded", discard: true }), baseline: concurrent },
    { name: "Db.loader loadMany (batched)", effect: loader.loadMany(ids), baseline: sequential },
    {
      name: `Db.loader load, ${LOOKUPS} concurrent fibers (batched)`,
      effect: Effect.forEach(ids, loader.load, { concurrency: "unbounded", discard: true }),
      baseline: concurrent
    }
  ]
  const times = new Map<string, Array<number>>(subjects.map((s) => [s.name, []]))
  const cpu = new Map<string, Array<number>>(subjects.map((s) => [s.name, []]))
  for (let round = 0; round <= LOOKUP_ROUNDS; round++) {
    const order = round % 2 === 0 ? subjects : [...subjects].reverse()
    for (const s of order) {
      const before = process.cpuUsage()
      const ms = await time(() => run(Effect.asVoid(s.effect)))
      const used = process.cpuUsage(before)
      if (round === 0) continue
      times.get(s.name)?.push(ms)
      cpu.get(s.name)?.push((used.user + used.system) / 1000)
    }
  }
  for (const s of subjects) {
    const ms = median(times.get(s.name) ?? [])
    const speedUp = s.baseline === s.name
      ? ""
      : `   ${(median(times.get(s.baseline) ?? []) / ms).toFixed(1)}x the same calls one query each`
    line(s.name, ms, LOOKUPS, `   CPU ${median(cpu.get(s.name) ?? []).toFixed(0).padStart(5)} ms${speedUp}`)
  }
}

/**
 * The garbage collector, reachable without `--expose-gc` (the bench runner
 * starts node without flags): heap figures without a collection first would
 * count garbage, not what is held.
 */
const gc: () => void = (() => {
  V8.setFlagsFromString("--expose-gc")
  const f: unknown = Vm.runInNewContext("gc")
  return typeof f === "function" ? () => void f() : () => undefined
})()

const benchStream = async (label: string, db: Db.Service) => {
  heading(`${label}: reading all ${ROWS.toLocaleString("en-US")} rows; memory is the live heap (after a GC) above the start`)
  const live = () => {
    gc()
    return process.memoryUsage().heapUsed
  }
  const stream = db.stream({ table: "items", key: "id", pageSize: 1_000 })
  let count = 0
  const streamMs = await time(() => run(Stream.runForEachChunk(stream, (chunk) => Effect.sync(() => void (count += chunk.length)))))
  // A second pass measures memory: a GC every 25th chunk would distort the time.
  const before = live()
  let peak = Number.NEGATIVE_INFINITY
  let chunks = 0
  await run(Stream.runForEachChunk(stream, () =>
    Effect.sync(() => {
      if (++chunks % 25 === 0) peak = Math.max(peak, live() - before)
    })))
  const beforeSelect = live()
  let all: ReadonlyArray<unknown> = []
  const selectMs = await time(async () => {
    all = await run(db.typed(db.sql`SELECT * FROM items ORDER BY id`))
  })
  const held = live() - beforeSelect
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`.padStart(10)
  line(`Db.stream (${count.toLocaleString("en-US")} rows), peak while streaming`, streamMs, count, mb(Math.max(0, peak)))
  line(`one SELECT (${all.length.toLocaleString("en-US")} rows held at once)`, selectMs, all.length, mb(held))
  all = []
}

const main = async () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-bench-db-"))
  try {
    const sqlite = await benchSqliteInsert(dir)
    await benchLookups("SQLite", sqlite.db)
    await benchStream("SQLite", sqlite.db)
    await sqlite.close()

    const schema = `fk_bench_${Math.random().toString(36).slice(2, 10)}`
    const admin = await openDb({ url: PG_URL, connectTimeout: "2 seconds" })
    if (!admin.ok) {
      heading(`Postgres: skipped (${admin.reason})`)
      return
    }
    await run(admin.db.typed(admin.db.sql.unsafe(`CREATE SCHEMA ${schema}`)))
    try {
      const pg = await benchPgInsert(schema)
      await benchLookups("Postgres", pg.db)
      await benchStream("Postgres", pg.db)
      await pg.close()
    } finally {
      await run(admin.db.typed(admin.db.sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))
      await admin.close()
    }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
