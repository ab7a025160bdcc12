/**
 * `Frontier`: the crawl's to-do list and its exactly-once ledger, in SQL
 * (SQLite or Postgres through `Db` from `@fiberkit/core`).
 *
 * - **Claim with leases**: {@link Service.claim} hands out up to `n` entries
 *   in breadth-first order (depth, then discovery order) in one statement,
 *   each with a fresh token and an expiry; expired leases are claimed again.
 *   Postgres uses `FOR UPDATE SKIP LOCKED`, so concurrent claimers never
 *   wait for each other; SQLite claims under `BEGIN IMMEDIATE`.
 * - **Complete in group commits**: {@link Service.complete} commits a whole
 *   batch of {@link Page.Completion}s in ONE transaction. Each completion's
 *   state change is fenced by its lease token: a lease that was lost
 *   (expired and claimed by someone else, or completed already) writes
 *   nothing and is reported back. Its page record gets the next `seq` (the
 *   commit order of records), and the links it found are inserted if their
 *   key is new. Interrupted or failed, the transaction leaves nothing behind.
 * - **Dedup in the database**: the unique `key` and insert-if-absent are the
 *   seen-set; nothing of the frontier is kept in memory.
 * - **Resume**: {@link Service.resume} puts leases left by a stopped process
 *   back to pending; {@link Service.init} refuses to start a second crawl
 *   in a database that holds one.
 * - **Robots cache**: robots.txt answers per host with their expiry.
 *
 * The layer checks the database before touching it: a database created by
 * another tool or by a newer version of the crawler is refused with
 * {@link IncompatibleDatabase}; otherwise the migrations (app `crawl`,
 * table `crawl_migrations`) are applied.
 *
 * Times ("now", lease expiries, `next_at`) come from `Clock`, in epoch
 * milliseconds, so `TestClock` drives them in tests.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Db } from "@fiberkit/core"
 * import { Frontier } from "@fiberkit/crawler"
 *
 * const program = Effect.gen(function*() {
 *   const frontier = yield* Frontier.Frontier
 *   yield* frontier.init({ seeds: [{ key: "https://a.example/", url: "https://a.example/", host: "a.example" }], options: {} })
 *   const leases = yield* frontier.claim(64, 30_000)
 *   // fetch, extract, then:
 *   // const { committed, lost } = yield* frontier.complete(completions) // committed[i]: did completion i take effect?
 * })
 *
 * program.pipe(
 *   Effect.provide(Frontier.layer.pipe(Layer.provide(Db.layerConfig({ app: "crawl" })))),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Db, DbError, Migrations } from "@fiberkit/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as internal from "./internal/frontier.js"
import * as schema from "./internal/schema.js"
import type * as Page from "./Page.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The database is not one this crawler can use: it holds another tool's
 * data (`reason: "other-tool"`), or it was created by a newer version of
 * the crawler (`"newer-schema"`). Nothing was written to it.
 *
 * @since 0.1.0
 * @category errors
 */
export class IncompatibleDatabase extends Data.TaggedError("IncompatibleDatabase")<{
  readonly reason: "other-tool" | "newer-schema"
  /** The database, password redacted. */
  readonly target: string
  readonly detail: string
}> {
  override get message(): string {
    return this.reason === "other-tool"
      ? `Refusing to use ${this.target} as a crawl database: ${this.detail}. Point the crawler at a new SQLite file or an empty Postgres schema (DB_PATH, DATABASE_URL, DB_SCHEMA), or at a database created by ${schema.TOOL}.`
      : `Refusing to use ${this.target}: ${this.detail}. It was written by a newer version of ${schema.TOOL}; run that version, or start a new crawl in a new database.`
  }
}

/**
 * {@link Service.init} found a crawl in the database already.
 *
 * @since 0.1.0
 * @category errors
 */
export class CrawlExists extends Data.TaggedError("CrawlExists")<{
  readonly target: string
  readonly crawl: Crawl
  /** URLs in its frontier. */
  readonly urls: number
}> {
  override get message(): string {
    return `${this.target} already holds crawl ${this.crawl.id} (started ${
      new Date(this.crawl.createdAt).toISOString()
    }, ${this.urls} URLs). Resume it (--resume), join it as one more worker (crawl worker, Postgres), or start the new crawl in another database.`
  }
}

/**
 * {@link Service.resume} found no crawl to resume.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoCrawl extends Data.TaggedError("NoCrawl")<{
  readonly target: string
}> {
  override get message(): string {
    return `${this.target} holds no crawl to resume. Start a new crawl (without --resume), or point at the database of the crawl to resume.`
  }
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A start URL, normalized like a {@link Page.Discovered} link (`key` is
 * `Url.key`). Seeds have no parent; their depth defaults to `0`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Seed {
  readonly key: string
  readonly url: string
  readonly host: string
  readonly depth?: number | undefined
}

/**
 * A new crawl for {@link Service.init}.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewCrawl {
  readonly seeds: ReadonlyArray<Seed>
  /** The crawl's options, kept as JSON for `status` and for comparing on resume. */
  readonly options: unknown
}

/**
 * The crawl a database holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Crawl {
  /** Random, assigned by {@link Service.init}. */
  readonly id: string
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** The seeds' URLs. */
  readonly seeds: ReadonlyArray<string>
  /** The options given to {@link Service.init}, as JSON. */
  readonly options: unknown
}

/**
 * What {@link Service.resume} found and did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resumed {
  readonly crawl: Crawl
  /** Leases left by the stopped process, now pending again. */
  readonly released: number
}

/**
 * What an insert of links or seeds did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inserted {
  /** New URLs (keys not seen before). */
  readonly inserted: number
  /** Keys longer than {@link maxKeyBytes}, not inserted. */
  readonly tooLong: number
}

/**
 * What {@link Service.complete} did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completed extends Inserted {
  /**
   * Per completion of the batch, in the batch's order: `true` when it took
   * effect, `false` when its lease was lost (expired and claimed again, or
   * completed already) and nothing of it was written. The page records of
   * committed completions got increasing `seq`s in this order.
   */
  readonly committed: ReadonlyArray<boolean>
  /** How many completions were lost (`false` in {@link Completed.committed}). */
  readonly lost: number
}

/**
 * Whether anything is left to claim, now or later.
 *
 * @since 0.1.0
 * @category models
 */
export interface Finished {
  /** No pending URL (eligible or not) and no lease (live or expired). */
  readonly finished: boolean
  /**
   * When a claim can next succeed (epoch ms): the earliest `next_at` of a
   * pending URL or expiry of a lease; at or before now when something is
   * claimable already; `null` when finished.
   */
  readonly nextEligibleAt: number | null
}

/**
 * URLs per state.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateCounts {
  readonly pending: number
  readonly leased: number
  readonly done: number
  readonly failed: number
  readonly skipped: number
  readonly total: number
}

/**
 * The frontier and its results in numbers. Reading them scans the tables:
 * fine for progress every few seconds and for `status`, not per page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly urls: StateCounts
  /** Pending URLs not eligible yet (`next_at` in the future: postponed). */
  readonly waiting: number
  /** The earliest `next_at` among them (epoch ms), or `null`. */
  readonly nextAt: number | null
  /** The earliest expiry among leased URLs (epoch ms), or `null`. */
  readonly leaseExpiresAt: number | null
  /** Page records. */
  readonly pages: number
  /** Page records per status class: `"2xx"` … `"5xx"`, `"none"` for no response. */
  readonly byStatusClass: Readonly<Record<string, number>>
  /** Page records per `error_kind` (records without an error are not counted). */
  readonly byErrorKind: Readonly<Record<string, number>>
  /** Sum of `bytes` over the page records. */
  readonly bytes: number
  /** The earliest and latest `fetched_at` (epoch ms), or `null` without records. */
  readonly firstFetchedAt: number | null
  readonly lastFetchedAt: number | null
}

/**
 * A cached robots.txt answer for a host.
 *
 * @since 0.1.0
 * @category models
 */
export interface RobotsEntry {
  /** HTTP status of the robots.txt fetch (`0` when no response came). */
  readonly status: number
  readonly body: string
  /** Epoch milliseconds. */
  readonly fetchedAt: number
  /** Epoch milliseconds after which the entry should be fetched again. */
  readonly expiresAt: number
}

/**
 * The longest key, in UTF-8 bytes, the frontier stores (Postgres cannot
 * index much longer text). Longer links and seeds are counted in
 * {@link Inserted.tooLong} and dropped.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxKeyBytes: number = schema.MAX_KEY_BYTES

/**
 * What the frontier's operations fail with once the service is built.
 *
 * @since 0.1.0
 * @category errors
 */
export type FrontierFailure = DbError.DbError

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The frontier service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Starts a new crawl: records its id, start time, seeds and options, and
   * inserts the seeds — in one transaction. Fails with {@link CrawlExists}
   * when the database holds a crawl already.
   */
  readonly init: (crawl: NewCrawl) => Effect.Effect<Crawl, CrawlExists | DbError.DbError>
  /**
   * Continues the crawl the database holds: every leased URL left by a
   * stopped process becomes pending again (on Postgres, where other workers
   * may be crawling, only leases whose owner is not a live worker). Fails
   * with {@link NoCrawl} when there is none.
   */
  readonly resume: () => Effect.Effect<Resumed, NoCrawl | DbError.DbError>
  /** The crawl the database holds, if any. */
  readonly crawl: () => Effect.Effect<Option.Option<Crawl>, DbError.DbError>
  /** Inserts URLs whose key is new (sitemaps, extra seeds); known keys are left as they are. */
  readonly seed: (entries: ReadonlyArray<Page.Discovered>) => Effect.Effect<Inserted, DbError.DbError>
  /**
   * Leases up to `n` URLs for `leaseMs` milliseconds: pending ones whose
   * `next_at` has come, and leased ones whose lease expired (their
   * `attempts` grows by one), shallowest first, then in discovery order.
   * One statement; returns them in that order. `owner` (a worker id:
   * letters, digits, `-`) is written at the start of each token, so a dead
   * worker's leases can be found and handed back (`Workers.reap`).
   */
  readonly claim: (n: number, leaseMs: number, owner?: string) => Effect.Effect<ReadonlyArray<Page.Lease>, DbError.DbError>
  /**
   * Commits a batch of completions in one transaction (group commit): for
   * each completion whose lease is still held, its state change, its page
   * record (`Done`, `Failed`) with the next `seq`, and its links (`Done`)
   * inserted if new. `Postponed` makes the URL pending again at `until`
   * with one more attempt. Completions whose lease was lost write nothing
   * (`false` in {@link Completed.committed}). A record whose `data` is not
   * JSON fails the batch with `InvalidRow` before anything is written.
   */
  readonly complete: (batch: ReadonlyArray<Page.Completion>) => Effect.Effect<Completed, DbError.DbError>
  /**
   * Gives leases back unfinished (a graceful stop), by their tokens: those
   * still held become pending, without an extra attempt. Returns how many
   * were held.
   */
  readonly release: (tokens: ReadonlyArray<string>) => Effect.Effect<number, DbError.DbError>
  /**
   * Extends leases still held, by their tokens, to `leaseMs` from now (the
   * heartbeat of a worker whose pages take long). Returns the tokens that
   * were still held; the others were lost and their completions will not
   * commit.
   */
  readonly renew: (tokens: ReadonlyArray<string>, leaseMs: number) => Effect.Effect<ReadonlyArray<string>, DbError.DbError>
  /** Counts by state, page records by status class and error kind, bytes, time range, waiting URLs. */
  readonly stats: () => Effect.Effect<Stats, DbError.DbError>
  /**
   * Whether anything is left, and when a claim can next succeed: for the
   * loop when a claim came back empty. Two indexed lookups over the pending
   * and leased URLs (few, when nothing is claimable).
   */
  readonly finished: () => Effect.Effect<Finished, DbError.DbError>
  /** The cached robots.txt answer for `host` (`URL.host`), if any, expired or not. */
  readonly getRobots: (host: string) => Effect.Effect<Option.Option<RobotsEntry>, DbError.DbError>
  /** Stores (or replaces) the robots.txt answer for `host`. */
  readonly putRobots: (host: string, entry: RobotsEntry) => Effect.Effect<void, DbError.DbError>
}

/**
 * The frontier service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Frontier extends Context.Tag("@fiberkit/crawler/Frontier")<Frontier, Service>() {}

/**
 * Builds the service on the `Db` from the context: checks that the
 * database is empty or a crawl database this version understands, then
 * applies the migrations.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  Service,
  IncompatibleDatabase | Migrations.MigrationError | DbError.DbError,
  Db.Db
> = internal.make

/**
 * The service on the `Db` of the context (see {@link make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Frontier, IncompatibleDatabase | Migrations.MigrationError | DbError.DbError, Db.Db> =
  Layer.effect(Frontier, make)
