/**
 * The `Frontier` service: the database check and migrations at startup,
 * then claim / complete / release over the statements of `frontierSql`.
 *
 * A completion batch is encoded before its transaction opens (so a record
 * that cannot be encoded fails the batch before anything is written, a
 * retried transaction repeats only SQL, and little JavaScript runs while
 * SQLite's write lock is held), then committed with four statements
 * whatever its size: the sequence reservation, the fenced transitions, the
 * page rows of the winners, their links (chunked).
 *
 * @internal
 */
import { Db, DbError } from "@fiberkit/core"
import type { Migrations } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomBytes } from "node:crypto"
import * as Frontier from "../Frontier.js"
import type * as Page from "../Page.js"
import * as frontierRead from "./frontierRead.js"
import * as statements from "./frontierSql.js"
import * as schema from "./schema.js"

/** URL rows per insert statement: bounds how long one statement blocks SQLite's (synchronous) driver. */
const URL_CHUNK = 5_000

/** New URLs from one `seed` after which Postgres statistics are refreshed. */
const ANALYZE_AFTER = 1_000

const MAX_KEY_BYTES = schema.MAX_KEY_BYTES

const keyFits = (key: string): boolean =>
  key.length <= MAX_KEY_BYTES / 3 || (key.length <= MAX_KEY_BYTES && Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES)

/** Postgres text cannot hold NUL; both dialects store U+FFFD instead, so they return the same records. */
const text = (s: string): string => (s.indexOf("\u0000") === -1 ? s : s.replaceAll("\u0000", "\uFFFD"))

const textOrNull = (s: string | null | undefined): string | null => (s === null || s === undefined ? null : text(s))

const invalid = (table: string, reason: string) => new DbError.InvalidRow({ table, phase: "encode", reason })

/** JSON text of a value, `null` for `undefined`; a value JSON cannot hold is an `InvalidRow`. */
const jsonText = (table: string, what: string, value: unknown): string | null => {
  if (value === undefined) return null
  let encoded: string | undefined
  try {
    encoded = JSON.stringify(value)
  } catch (error) {
    throw invalid(table, `${what} is not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
  return encoded === undefined ? null : text(encoded)
}

const fetchedMs = (iso: string): number | null => {
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? ms : null
}

/** A page row without its `seq` (index 1), which is known only inside the transaction. */
const pageRow = (id: number, r: Page.PageRecord): Array<unknown> => [
  id,
  0,
  text(r.url),
  textOrNull(r.final_url),
  r.status,
  textOrNull(r.content_type),
  r.bytes,
  textOrNull(r.title),
  textOrNull(r.canonical),
  r.depth,
  r.links_out,
  text(r.fetched_at),
  fetchedMs(r.fetched_at),
  r.elapsed_ms,
  textOrNull(r.error_kind),
  textOrNull(r.error_message),
  jsonText("pages", `the data of the record of ${r.url}`, r.data),
  textOrNull(r.body_key)
]

interface UrlRows {
  readonly rows: Array<ReadonlyArray<unknown>>
  tooLong: number
}

const addUrl = (into: UrlRows, key: string, url: string, host: string, depth: number, parentId: number | null): void => {
  if (!keyFits(key)) {
    into.tooLong++
    return
  }
  into.rows.push([text(key), text(url), text(host), depth, parentId])
}

const transitionRow = (c: Page.Completion): ReadonlyArray<unknown> => {
  const { id, token } = c.lease
  switch (c._tag) {
    case "Done":
      return [id, token, "done", 0, null, null]
    case "Failed":
      return [id, token, "failed", 0, null, textOrNull(c.record.error_kind)]
    case "Skipped":
      return [id, token, "skipped", 0, null, text(c.reason)]
    case "Postponed":
      return [id, token, "pending", 1, c.until, text(c.reason)]
  }
}

/** A batch encoded for its transaction. */
interface Plan {
  readonly size: number
  /** Completions to commit, one per lease token, in batch order. */
  readonly unique: ReadonlyArray<Page.Completion>
  /** The position in the batch of each of `unique`. */
  readonly positions: ReadonlyArray<number>
  readonly transitions: ReadonlyArray<ReadonlyArray<unknown>>
  /** The page row of each of `unique` that has a record. */
  readonly pages: ReadonlyArray<Array<unknown> | undefined>
  /** How many of `pages` are rows. */
  readonly records: number
  /** The link rows of each of `unique` (empty unless `Done`). */
  readonly links: ReadonlyArray<UrlRows>
}

/** Repeats of a token already in the batch are left out: they are lost by definition. */
const plan = (batch: ReadonlyArray<Page.Completion>): Plan => {
  const tokens = new Set<string>()
  const unique: Array<Page.Completion> = []
  const positions: Array<number> = []
  const transitions: Array<ReadonlyArray<unknown>> = []
  const pages: Array<Array<unknown> | undefined> = []
  const links: Array<UrlRows> = []
  let records = 0
  for (let i = 0; i < batch.length; i++) {
    const c = batch[i] as Page.Completion
    if (tokens.has(c.lease.token)) continue
    tokens.add(c.lease.token)
    unique.push(c)
    positions.push(i)
    transitions.push(transitionRow(c))
    if (c._tag === "Done" || c._tag === "Failed") {
      pages.push(pageRow(c.lease.id, c.record))
      records++
    } else {
      pages.push(undefined)
    }
    const found: UrlRows = { rows: [], tooLong: 0 }
    if (c._tag === "Done") {
      for (const d of c.links) addUrl(found, d.key, d.url, d.host, d.depth, d.parentId)
    }
    links.push(found)
  }
  return { size: batch.length, unique, positions, transitions, pages, records, links }
}

/** The entry id a token was made for (tokens are `<random>.<id>`, see the claim statements), or `undefined`. */
const idOfToken = (token: string): number | undefined => {
  const id = Number(token.slice(token.lastIndexOf(".") + 1))
  return Number.isSafeInteger(id) && id > 0 ? id : undefined
}

const EMPTY: Frontier.Completed = { committed: [], lost: 0, inserted: 0, tooLong: 0 }

const toLease = (row: statements.ClaimedRow, until: number): Page.Lease => ({
  id: Number(row.id),
  key: row.key,
  url: row.url,
  host: row.host,
  depth: Number(row.depth),
  attempts: Number(row.attempts),
  token: row.lease_token,
  leasedUntil: until
})

const byDepthThenId = (a: Page.Lease, b: Page.Lease): number => a.depth - b.depth || a.id - b.id

/** Checks the database, then migrates it. @internal */
export const prepare = (
  db: Db.Service
): Effect.Effect<void, Frontier.IncompatibleDatabase | Migrations.MigrationError | DbError.DbError> =>
  Effect.gen(function*() {
    const found = yield* schema.inspect(db)
    if (found._tag === "Foreign") {
      return yield* new Frontier.IncompatibleDatabase({ reason: "other-tool", target: db.target, detail: found.detail })
    }
    if (found._tag === "Newer") {
      return yield* new Frontier.IncompatibleDatabase({
        reason: "newer-schema",
        target: db.target,
        detail: `its crawl schema is version ${found.version}, this version knows up to ${schema.SCHEMA_VERSION}`
      })
    }
    yield* schema.migrate.pipe(
      Effect.provideService(Db.Db, db),
      Effect.catchTag("DbMigrationError", (e): Effect.Effect<never, Frontier.IncompatibleDatabase | Migrations.MigrationError> =>
        e.reason === "newer-database"
          ? Effect.fail(new Frontier.IncompatibleDatabase({ reason: "newer-schema", target: db.target, detail: e.detail }))
          : Effect.fail(e))
    )
  })

/** Builds the service over a checked and migrated database. @internal */
export const service = (db: Db.Service): Frontier.Service => {
  const sql = statements.make(db)

  // Serializes `init` with other writers on Postgres by locking the
  // sequence row (as `complete` does); SQLite's BEGIN IMMEDIATE has already.
  const lockMeta: Effect.Effect<void, DbError.DbError> = db.dialect === "pg"
    ? Effect.asVoid(db.typed(db.sql`SELECT value FROM meta WHERE key = 'seq' FOR UPDATE`))
    : Effect.void

  // Postgres plans the claim from statistics. A table never analyzed, or
  // grown by a bulk insert since, is estimated at a handful of pending rows,
  // and the planner then sorts every pending row on each claim instead of
  // reading the first n from the index: refresh them after bulk inserts
  // (autovacuum keeps them fresh during the crawl).
  const analyze: Effect.Effect<void, DbError.DbError> = db.dialect === "pg"
    ? Effect.asVoid(db.typed(db.sql`ANALYZE urls`))
    : Effect.void

  const insertUrls = (rows: ReadonlyArray<ReadonlyArray<unknown>>, now: number): Effect.Effect<number, DbError.DbError> => {
    if (rows.length === 0) return Effect.succeed(0)
    const chunks: Array<ReadonlyArray<ReadonlyArray<unknown>>> = []
    for (let i = 0; i < rows.length; i += URL_CHUNK) chunks.push(rows.slice(i, i + URL_CHUNK))
    return db.typed(
      Effect.map(Effect.forEach(chunks, (chunk) => sql.insertUrls(chunk, now)), (counts) => counts.reduce((a, b) => a + b, 0))
    )
  }

  const init = (spec: Frontier.NewCrawl): Effect.Effect<Frontier.Crawl, Frontier.CrawlExists | DbError.DbError> =>
    Effect.gen(function*() {
      const seeds: UrlRows = { rows: [], tooLong: 0 }
      for (const s of spec.seeds) addUrl(seeds, s.key, s.url, s.host, s.depth ?? 0, null)
      const options = yield* Effect.try({
        try: () => jsonText("meta", "the crawl options", spec.options) ?? "null",
        catch: (e) => (e instanceof DbError.InvalidRow ? e : invalid("meta", String(e)))
      })
      const now = yield* Clock.currentTimeMillis
      const crawl: Frontier.Crawl = {
        id: randomBytes(8).toString("hex"),
        createdAt: now,
        seeds: spec.seeds.map((s) => s.url),
        options: JSON.parse(options)
      }
      const created = yield* db.transaction(Effect.gen(function*() {
        yield* lockMeta
        const existing = yield* frontierRead.crawl(db)
        if (Option.isSome(existing)) {
          const [row] = yield* db.typed(db.sql<{ readonly n: number | string }>`SELECT count(*) AS n FROM urls`)
          return yield* new Frontier.CrawlExists({ target: db.target, crawl: existing.value, urls: Number(row?.n ?? 0) })
        }
        yield* db.insertMany("meta", [
          { key: "crawl_id", value: crawl.id },
          { key: "created_at", value: String(now) },
          { key: "seeds", value: text(JSON.stringify(crawl.seeds)) },
          { key: "options", value: options }
        ])
        yield* insertUrls(seeds.rows, now)
        return crawl
      }))
      yield* analyze
      return created
    })

  // SQLite holds one crawling process, so every lease left is a stopped
  // one's. On Postgres other workers may be crawling: only leases whose
  // owner (the token's first part, see `claim`) is not a live worker go back.
  const releaseLeft = (now: number) =>
    db.dialect === "sqlite"
      ? db.sql`UPDATE urls SET state = 'pending', lease_token = NULL, leased_until = NULL WHERE state = 'leased'`.raw
      : db.sql`UPDATE urls SET state = 'pending', lease_token = NULL, leased_until = NULL
          WHERE state = 'leased' AND NOT EXISTS (
            SELECT 1 FROM workers w WHERE w.state = 'alive' AND w.heartbeat_at + w.lease_ms > ${now}
              AND urls.lease_token LIKE w.id || '.%')`.raw

  const resume = (): Effect.Effect<Frontier.Resumed, Frontier.NoCrawl | DbError.DbError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      db.transaction(Effect.gen(function*() {
        const crawl = yield* frontierRead.crawl(db)
        if (Option.isNone(crawl)) return yield* new Frontier.NoCrawl({ target: db.target })
        const raw = yield* db.typed(releaseLeft(now))
        return { crawl: crawl.value, released: changesOf(raw) }
      }))).pipe(Effect.tap(() => analyze))

  const seed = (entries: ReadonlyArray<Page.Discovered>): Effect.Effect<Frontier.Inserted, DbError.DbError> =>
    Effect.suspend(() => {
      const urls: UrlRows = { rows: [], tooLong: 0 }
      for (const d of entries) addUrl(urls, d.key, d.url, d.host, d.depth, d.parentId)
      if (urls.rows.length === 0) return Effect.succeed({ inserted: 0, tooLong: urls.tooLong })
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(db.transaction(insertUrls(urls.rows, now)), (inserted) =>
          Effect.as(inserted >= ANALYZE_AFTER ? analyze : Effect.void, { inserted, tooLong: urls.tooLong })))
    })

  const claim = (
    n: number,
    leaseMs: number,
    owner?: string
  ): Effect.Effect<ReadonlyArray<Page.Lease>, DbError.DbError> => {
    if (!Number.isInteger(n) || n < 1) return Effect.succeed([])
    if (owner !== undefined && !OWNER.test(owner)) {
      return Effect.dieMessage(`Frontier.claim: owner must be letters, digits and '-', got ${JSON.stringify(owner)}`)
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const until = now + leaseMs
      const random = randomBytes(6).toString("hex")
      const statement = sql.claim(now, until, n, owner === undefined ? `${random}.` : `${owner}.${random}.`)
      // SQLite: BEGIN IMMEDIATE (and the retry on a lock held by another
      // process). Postgres: one statement is its own transaction, and SKIP
      // LOCKED never waits, so it needs neither.
      const run = db.dialect === "sqlite" ? db.transaction(statement) : db.typed(statement)
      return Effect.map(run, (rows) => {
        const leases = new Array<Page.Lease>(rows.length)
        for (let i = 0; i < rows.length; i++) leases[i] = toLease(rows[i] as statements.ClaimedRow, until)
        return leases.sort(byDepthThenId)
      })
    })
  }

  /** The transaction body of `complete`: safe to run again (it reads `p`, never changes it). */
  const commit = (p: Plan, now: number): Effect.Effect<Frontier.Completed, DbError.DbError> =>
    Effect.gen(function*() {
      // First, so that on Postgres it also serializes the crawl's writers
      // (the row stays locked until commit) and `seq` follows commit order.
      // Sized for every record of the batch: lost ones leave gaps.
      const lastSeq = p.records > 0 ? yield* db.typed(sql.reserveSeq(p.records)) : 0
      const won = yield* db.typed(sql.transition(p.transitions))
      const winners = new Set<string>()
      for (const row of won) winners.add(row.lease_token)
      const committed = new Array<boolean>(p.size).fill(false)
      const pages: Array<Array<unknown>> = []
      const links: Array<ReadonlyArray<unknown>> = []
      let tooLong = 0
      let seq = lastSeq - p.records
      for (let i = 0; i < p.unique.length; i++) {
        if (!winners.has((p.unique[i] as Page.Completion).lease.token)) continue
        committed[p.positions[i] as number] = true
        const page = p.pages[i]
        if (page !== undefined) {
          const row = page.slice()
          row[1] = ++seq
          pages.push(row)
        }
        const found = p.links[i] as UrlRows
        for (const row of found.rows) links.push(row)
        tooLong += found.tooLong
      }
      if (pages.length > 0) yield* db.typed(sql.insertPages(pages))
      const inserted = yield* insertUrls(links, now)
      return { committed, lost: p.size - winners.size, inserted, tooLong }
    })

  const complete = (batch: ReadonlyArray<Page.Completion>): Effect.Effect<Frontier.Completed, DbError.DbError> => {
    if (batch.length === 0) return Effect.succeed(EMPTY)
    return Effect.suspend(() => {
      let p: Plan
      try {
        p = plan(batch)
      } catch (error) {
        if (error instanceof DbError.InvalidRow) return Effect.fail(error)
        throw error
      }
      return Effect.flatMap(Clock.currentTimeMillis, (now) => db.transaction(commit(p, now)))
    })
  }

  const release = (tokens: ReadonlyArray<string>): Effect.Effect<number, DbError.DbError> =>
    Effect.suspend(() => {
      const rows: Array<ReadonlyArray<unknown>> = []
      for (const token of tokens) {
        const id = idOfToken(token)
        if (id !== undefined) rows.push([id, token])
      }
      return rows.length === 0 ? Effect.succeed(0) : db.transaction(sql.release(rows))
    })

  const renew = (tokens: ReadonlyArray<string>, leaseMs: number): Effect.Effect<ReadonlyArray<string>, DbError.DbError> =>
    Effect.suspend(() => {
      const rows: Array<ReadonlyArray<unknown>> = []
      for (const token of tokens) {
        const id = idOfToken(token)
        if (id !== undefined) rows.push([id, token])
      }
      if (rows.length === 0) return Effect.succeed([])
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(db.typed(sql.renew(rows, now + leaseMs)), (held) => held.map((r) => r.lease_token)))
    })

  const finished = (): Effect.Effect<Frontier.Finished, DbError.DbError> =>
    Effect.map(
      db.typed(
        db.sql<{ readonly p: number | string | null; readonly l: number | string | null }>`SELECT
          (SELECT min(next_at) FROM urls WHERE state = 'pending') AS p,
          (SELECT min(leased_until) FROM urls WHERE state = 'leased') AS l`
      ),
      (rows) => {
        const p = frontierRead.num(rows[0]?.p)
        const l = frontierRead.num(rows[0]?.l)
        const next = p === null ? l : l === null ? p : Math.min(p, l)
        return { finished: next === null, nextEligibleAt: next }
      }
    )

  const getRobots = (host: string): Effect.Effect<Option.Option<Frontier.RobotsEntry>, DbError.DbError> =>
    Effect.map(
      db.typed(
        db.sql<{
          readonly status: number
          readonly body: string
          readonly fetched_at: number | string
          readonly expires_at: number | string
        }>`SELECT status, body, fetched_at, expires_at FROM robots WHERE host = ${text(host)}`
      ),
      (rows) => {
        const row = rows[0]
        return row === undefined
          ? Option.none()
          : Option.some({
            status: Number(row.status),
            body: row.body,
            fetchedAt: Number(row.fetched_at),
            expiresAt: Number(row.expires_at)
          })
      }
    )

  const putRobots = (host: string, entry: Frontier.RobotsEntry): Effect.Effect<void, DbError.DbError> =>
    Effect.asVoid(db.upsert("robots", [{
      host: text(host),
      status: entry.status,
      body: text(entry.body),
      fetched_at: entry.fetchedAt,
      expires_at: entry.expiresAt
    }], { key: "host" }))

  return {
    init,
    resume,
    crawl: () => frontierRead.crawl(db),
    seed,
    claim,
    complete,
    release,
    renew,
    stats: () => Effect.flatMap(Clock.currentTimeMillis, (now) => frontierRead.stats(db, now)),
    finished,
    getRobots,
    putRobots
  }
}

/** Lease owners (worker ids) go into tokens and `LIKE` patterns: no dots, no wildcards. */
const OWNER = /^[A-Za-z0-9-]{1,64}$/

const changesOf = (raw: unknown): number => {
  if (typeof raw !== "object" || raw === null) return 0
  const r = raw as { readonly changes?: unknown; readonly rowCount?: unknown }
  const n = typeof r.changes === "number" ? r.changes : r.rowCount
  return typeof n === "number" ? n : 0
}

/** @internal */
export const make: Effect.Effect<
  Frontier.Service,
  Frontier.IncompatibleDatabase | Migrations.MigrationError | DbError.DbError,
  Db.Db
> = Effect.flatMap(Db.Db, (db) => Effect.as(prepare(db), service(db)))
