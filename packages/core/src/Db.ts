/**
 * `Db`: the database service — one `@effect/sql` `SqlClient` chosen by
 * configuration, SQLite (the embedded default) or Postgres, with what a
 * concurrent program needs on top:
 *
 * - **SQLite done right**: WAL, a busy timeout, `BEGIN IMMEDIATE` for every
 *   transaction (a transaction that reads, then writes, never fails on
 *   upgrading its lock), foreign keys on. Clients of one file in one
 *   process share one lock, so they wait for each other asynchronously
 *   instead of inside SQLite's blocking busy handler; other processes are
 *   waited for by the busy timeout, then by bounded retries.
 * - **Postgres** pool settings from config and a startup health check whose
 *   error names host, port and database (never the password).
 * - {@link Service.transaction}: commit on success, roll back on failure
 *   and on interruption, retry the whole transaction on SQLite busy and
 *   Postgres serialization failures and deadlocks (bounded, with backoff).
 * - {@link Service.insertMany} / {@link Service.upsert}: bulk writes chunked
 *   under the dialect's bind-parameter limit, in one transaction.
 * - {@link loader}: batched by-key loads (N lookups → one query).
 * - {@link Service.stream}: large result sets with bounded memory (a cursor
 *   on Postgres, keyset pagination on SQLite).
 * - Typed errors ({@link DbError}) instead of driver errors, one span per
 *   statement (`sql.execute` from `@effect/sql`, with `db.query.text`:
 *   statement text with placeholders, never bound values; `db.transaction`
 *   and `db.load <table>` around them), and Postgres pool gauges sampled
 *   every `poolMetricsInterval`: `db_pool_connections`,
 *   `db_pool_connections_idle`, `db_pool_waiting`, labelled `db=<app>`.
 *
 * **better-sqlite3 is synchronous**: each SQLite statement blocks the event
 * loop while it runs (and while it waits for another process's lock, up to
 * the busy timeout). Keep statements short and write in batches
 * ({@link Service.insertMany}); never hold a write transaction open across
 * network calls. Postgres returns `bigint` and `numeric` columns (and
 * `count(*)`) as text: cast in SQL (`count(*)::int`) or decode with
 * `Schema.NumberFromString`.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 * import { Db } from "@fiberkit/core"
 *
 * const migrations = {
 *   "1_pages": Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *     sql`CREATE TABLE pages (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, status INTEGER)`)
 * }
 *
 * const program = Effect.gen(function*() {
 *   const db = yield* Db.Db
 *   yield* db.insertMany("pages", [{ id: 1, url: "https://example.com/", status: 200 }])
 *   const ok = yield* db.typed(db.sql`SELECT url FROM pages WHERE status = ${200}`)
 * })
 *
 * // SQLite at ./data/crawl.db, or Postgres when DATABASE_URL=postgres://…
 * program.pipe(Effect.provide(Db.layerConfig({ app: "crawl", migrations })), Effect.runPromise)
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as DbError from "./DbError.js"
import * as internal from "./internal/db.js"
import * as loaders from "./internal/dbLoader.js"
import type * as Migrations from "./Migrations.js"

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/**
 * The SQL dialect in use.
 *
 * @since 0.1.0
 * @category models
 */
export type Dialect = "sqlite" | "pg"

/**
 * How transactions are retried on `Busy` and `SerializationFailure`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetrySettings {
  /** Attempts, the first included; `1` disables retries. Default `5`. */
  readonly maxAttempts: number
  /** Delay before the first retry (doubling, with full jitter). Default `20` ms. */
  readonly baseDelayMs: number
  /** Upper bound of one delay. Default `1_000` ms. */
  readonly maxDelayMs: number
}

/**
 * The resolved settings of a {@link Db} service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** Names the default SQLite file, the migrations table and the Postgres `application_name`. Default `app`. */
  readonly app: string
  readonly dialect: Dialect
  /** SQLite file (`:memory:` allowed). Default `./data/<app>.db`; the directory is created. */
  readonly filename: string
  /** The Postgres URL when `dialect` is `pg`. */
  readonly url: Redacted.Redacted<string> | undefined
  /** Postgres schema put first on every connection's `search_path`. Default: the server's. */
  readonly schema: string | undefined
  /**
   * SQLite: how long a statement waits for another process's lock before
   * `SQLITE_BUSY` (then the transaction is retried). The wait blocks the
   * event loop; clients in this process wait for each other without it.
   * Default `5_000` ms.
   */
  readonly busyTimeoutMs: number
  /**
   * SQLite `synchronous` (with WAL): `full` fsyncs the log at every commit,
   * so a committed transaction survives a power loss; `normal` fsyncs only
   * at checkpoints: a crash of the process loses nothing committed, a power
   * loss or OS crash may roll back the last transactions (the database stays
   * consistent). Default `full`.
   */
  readonly sqliteSynchronous: "full" | "normal"
  /** Postgres pool size. Default `10`. */
  readonly maxConnections: number
  /** Postgres: idle time before a pooled connection is closed. Default `30_000` ms. */
  readonly idleTimeoutMs: number
  /** Postgres: time to establish a connection (and the startup health check). Default `5_000` ms. */
  readonly connectTimeoutMs: number
  /** Postgres `statement_timeout`; `0` disables it. Default `60_000` ms. */
  readonly statementTimeoutMs: number
  /** Postgres `application_name`. Default: `app`. */
  readonly applicationName: string
  readonly retry: RetrySettings
  /** Rows per page of a keyset-paginated stream (SQLite). Default `1_000`. */
  readonly streamPageSize: number
  /** How often the Postgres pool gauges are sampled; `0` disables them. Default `5_000` ms. */
  readonly poolMetricsIntervalMs: number
  /** Migrations to apply when the service starts. Default none. */
  readonly migrations: Migrations.Source | undefined
  /** The migrations table. Default `<app>_migrations`. */
  readonly migrationsTable: string
}

/**
 * Partial settings: anything left out takes its default. Durations accept
 * `Duration` inputs (`"5 seconds"`, a number of milliseconds).
 *
 * `url` selects the dialect: `postgres://…` / `postgresql://…` for Postgres,
 * `sqlite:<path>` for SQLite. Without `url`, SQLite at `filename`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly app?: string | undefined
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly filename?: string | undefined
  readonly schema?: string | undefined
  readonly busyTimeout?: Duration.DurationInput | undefined
  readonly sqliteSynchronous?: "full" | "normal" | undefined
  readonly maxConnections?: number | undefined
  readonly idleTimeout?: Duration.DurationInput | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** `0` disables it. */
  readonly statementTimeout?: Duration.DurationInput | undefined
  readonly applicationName?: string | undefined
  /** Retry overrides, or `false` for a single attempt. */
  readonly retry?: RetryInput | false | undefined
  readonly streamPageSize?: number | undefined
  /** `0` disables the pool gauges. */
  readonly poolMetricsInterval?: Duration.DurationInput | undefined
  readonly migrations?: Migrations.Source | undefined
  readonly migrationsTable?: string | undefined
}

/**
 * Retry overrides.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryInput {
  readonly maxAttempts?: number | undefined
  readonly baseDelay?: Duration.DurationInput | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
}

/**
 * The default settings (see each field of {@link Settings}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Settings = internal.defaults

/**
 * Invalid settings: `path` names the field, the message says what is allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class SettingsError extends Data.TaggedError("DbSettingsError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid Db setting ${this.path}: ${this.reason}`
  }
}

/**
 * Applies {@link Input} to the {@link defaults} and validates the result.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve: (input: Input) => Either.Either<Settings, SettingsError> = internal.resolve

/**
 * The settings read from the environment, every one optional:
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `DATABASE_URL` | `postgres://user:pass@host:port/db` selects Postgres; `sqlite:<path>` SQLite | none (SQLite) |
 * | `DB_PATH` | SQLite file | `./data/<app>.db` |
 * | `DB_SCHEMA` | Postgres schema first on `search_path` | server default |
 * | `DB_MAX_CONNECTIONS` | Postgres pool size | `10` |
 * | `DB_IDLE_TIMEOUT` | Postgres idle connection lifetime | `30 seconds` |
 * | `DB_CONNECT_TIMEOUT` | Postgres connect timeout | `5 seconds` |
 * | `DB_STATEMENT_TIMEOUT` | Postgres `statement_timeout` (`0` = off) | `60 seconds` |
 * | `DB_APPLICATION_NAME` | Postgres `application_name` | the app name |
 * | `DB_BUSY_TIMEOUT` | SQLite busy timeout | `5 seconds` |
 * | `DB_RETRY_MAX_ATTEMPTS` | transaction attempts on busy/serialization errors | `5` |
 *
 * Durations take a number of milliseconds or a duration (`"5 seconds"`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Input> = internal.config

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A row as plain data: column name → value. Rows written by
 * {@link Service.insertMany} and {@link Service.upsert} may be any object
 * (an interface type too); on SQLite, booleans are written as `1`/`0` and
 * `Date`s as ISO-8601 text, and `undefined` is written as `NULL`.
 *
 * @since 0.1.0
 * @category models
 */
export type Row = Readonly<Record<string, unknown>>

/**
 * Postgres isolation levels. SQLite transactions are always serializable.
 *
 * @since 0.1.0
 * @category models
 */
export type Isolation = "read committed" | "repeatable read" | "serializable"

/**
 * Options of {@link Service.transaction}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransactionOptions {
  /** Postgres isolation level. Default: the server's (`read committed`). Ignored on SQLite. */
  readonly isolation?: Isolation | undefined
  /** Retry overrides for this transaction, or `false` for one attempt. */
  readonly retry?: RetryInput | false | undefined
}

/**
 * Options of {@link Service.insertMany}.
 *
 * @since 0.1.0
 * @category models
 */
export interface InsertOptions {
  /** The columns written. Default: the keys of the first row. */
  readonly columns?: ReadonlyArray<string> | undefined
  /** Rows per statement; capped so a statement stays under the dialect's bind-parameter limit. */
  readonly chunkSize?: number | undefined
}

/**
 * Options of {@link Service.upsert}.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpsertOptions extends InsertOptions {
  /** The conflict target: the columns of a unique index or the primary key. */
  readonly key: string | ReadonlyArray<string>
  /** Columns overwritten on conflict. Default: every written column outside `key`; `[]` keeps the existing row (`DO NOTHING`). */
  readonly update?: ReadonlyArray<string> | undefined
}

/**
 * Options of {@link Service.stream}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  readonly table: string
  /** A unique, indexed column; rows come in ascending order of it. */
  readonly key: string
  /** Columns selected. Default all. */
  readonly columns?: ReadonlyArray<string> | undefined
  /** An extra condition, e.g. ``sql`status = ${200}` ``. */
  readonly where?: Statement.Fragment | undefined
  /** Rows per page on SQLite. Default `streamPageSize`. (Postgres fetches from its cursor 128 rows at a time.) */
  readonly pageSize?: number | undefined
}

/**
 * Connection pool figures (Postgres; SQLite has one connection).
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolStats {
  readonly total: number
  readonly idle: number
  /** Callers waiting for a connection. */
  readonly waiting: number
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The database service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly settings: Settings
  readonly dialect: Dialect
  /** The database, password redacted: `sqlite:/abs/path.db` or `postgres://user@host:port/db`. */
  readonly target: string
  /** Bind parameters one statement may carry: 32766 on SQLite (as compiled), 65535 on Postgres. */
  readonly maxParams: number
  /**
   * The `@effect/sql` client. On SQLite its `withTransaction` begins with
   * `BEGIN IMMEDIATE`; prefer {@link Service.transaction}, which also retries.
   */
  readonly sql: SqlClient.SqlClient
  /**
   * Runs `effect` in a transaction: commits on success, rolls back on
   * failure and on interruption. `Busy` and `SerializationFailure` roll back
   * and run the whole effect again (bounded, with backoff), so the effect
   * must be safe to repeat. Nested calls become savepoints and are not
   * retried on their own. SQL errors come back as {@link DbError.DbError}.
   */
  readonly transaction: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: TransactionOptions
  ) => Effect.Effect<A, Exclude<E, SqlError> | DbError.DbError, R>
  /** Replaces `SqlError`s in the error channel by their {@link DbError.DbError}. */
  readonly typed: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Exclude<E, SqlError> | DbError.DbError, R>
  /**
   * Inserts rows with multi-row `INSERT`s, each under the bind-parameter
   * limit, in one transaction. Returns the number of rows written.
   */
  readonly insertMany: (table: string, rows: ReadonlyArray<object>, options?: InsertOptions) => Effect.Effect<number, DbError.DbError>
  /**
   * Inserts rows, overwriting (`ON CONFLICT … DO UPDATE`) or keeping
   * (`DO NOTHING`) rows whose key exists. Chunked and transactional like
   * {@link Service.insertMany}; when a key repeats within the input, the
   * last row wins. Returns the number of rows inserted or updated.
   */
  readonly upsert: (table: string, rows: ReadonlyArray<object>, options: UpsertOptions) => Effect.Effect<number, DbError.DbError>
  /**
   * Streams a table (or part of it) in key order with bounded memory. On
   * Postgres it reads one query through a cursor (one snapshot, holding a
   * connection while the stream runs); on SQLite it reads page by page by
   * key, releasing the connection between pages (each page is consistent;
   * rows written meanwhile past the current key are included).
   */
  readonly stream: (options: StreamOptions) => Stream.Stream<Row, DbError.DbError>
  /** Current pool figures. SQLite: one connection, nothing waiting is reported. */
  readonly poolStats: Effect.Effect<PoolStats>
}

/**
 * The `Db` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Db extends Context.Tag("@fiberkit/core/Db")<Db, Service>() {}

/**
 * Builds the service: opens SQLite or connects to Postgres (health check
 * included), applies migrations, and closes everything with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  input?: Input
) => Effect.Effect<Service, SettingsError | DbError.DbError | Migrations.MigrationError, Scope.Scope> = internal.make

/**
 * The service with the given settings (defaults for the rest). Also provides
 * the `@effect/sql` `SqlClient`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  input: Input
): Layer.Layer<Db | SqlClient.SqlClient, SettingsError | DbError.DbError | Migrations.MigrationError> =>
  Layer.scopedContext(Effect.map(make(input), internal.context))

/**
 * The service configured from the environment ({@link config}), with
 * `overrides` applied on top: an explicit `url` or `filename` replaces both
 * `DATABASE_URL` and `DB_PATH`.
 *
 * @example
 * ```ts
 * // SQLite at ./data/crawl.db, or Postgres when DATABASE_URL=postgres://…
 * const DbLive = Db.layerConfig({ app: "crawl", migrations: { "1_pages": createPages } })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  overrides: Input = {}
): Layer.Layer<
  Db | SqlClient.SqlClient,
  SettingsError | DbError.DbError | Migrations.MigrationError | ConfigError.ConfigError
> =>
  Layer.scopedContext(
    Effect.flatMap(internal.config, (fromEnv) => Effect.map(make(internal.mergeInput(fromEnv, overrides)), internal.context))
  )

/**
 * The service with settings from the environment and defaults otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  Db | SqlClient.SqlClient,
  SettingsError | DbError.DbError | Migrations.MigrationError | ConfigError.ConfigError
> = layerConfig()

// ---------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------

/**
 * Runs `effect` in a transaction of the {@link Db} service from the context
 * (see {@link Service.transaction}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: TransactionOptions
): Effect.Effect<A, Exclude<E, SqlError> | DbError.DbError, R | Db> =>
  Effect.flatMap(Db, (db) => db.transaction(effect, options))

/**
 * Replaces `SqlError`s in the error channel by their {@link DbError.DbError}.
 *
 * @since 0.1.0
 * @category accessors
 */
export const typed = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, SqlError> | DbError.DbError, R | Db> => Effect.flatMap(Db, (db) => db.typed(effect))

/**
 * Bulk insert (see {@link Service.insertMany}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const insertMany = (
  table: string,
  rows: ReadonlyArray<object>,
  options?: InsertOptions
): Effect.Effect<number, DbError.DbError, Db> => Effect.flatMap(Db, (db) => db.insertMany(table, rows, options))

/**
 * Bulk upsert (see {@link Service.upsert}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const upsert = (
  table: string,
  rows: ReadonlyArray<object>,
  options: UpsertOptions
): Effect.Effect<number, DbError.DbError, Db> => Effect.flatMap(Db, (db) => db.upsert(table, rows, options))

/**
 * Streams a table in key order (see {@link Service.stream}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (options: StreamOptions): Stream.Stream<Row, DbError.DbError, Db> => internal.streamFromContext(options)

// ---------------------------------------------------------------------------
// Batched loads
// ---------------------------------------------------------------------------

/**
 * Options of {@link loader} and {@link groupedLoader}.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoaderOptions<A, I> {
  readonly table: string
  /** The column looked up. */
  readonly key: string
  /** Decodes each row. */
  readonly schema: Schema.Schema<A, I>
  /** Columns selected. Default all. */
  readonly columns?: ReadonlyArray<string> | undefined
  /** Names the batch span. Default: the table. */
  readonly name?: string | undefined
}

/**
 * Loads rows by key with batching: every load waiting at the same moment —
 * from one `Effect.forEach(keys, loader.load, { concurrency: "unbounded" })`
 * or from unrelated fibers — becomes one query (`key IN (…)` through
 * `json_each` on SQLite, `key = ANY($1)` on Postgres: one statement text for
 * any batch size, never near the bind-parameter limit; batches are capped at
 * 50 000 keys). Repeated keys are looked up once. Inside a transaction,
 * loads are batched per transaction and see its writes. Keys must have the
 * column's type (a number for an `INTEGER` column, text for `TEXT`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Loader<K, A> {
  /** The row with this key, if any; `InvalidRow` when it does not match the schema. */
  readonly load: (key: K) => Effect.Effect<Option.Option<A>, DbError.DbError>
  /** Every key's row, in key order, in one query; fails with the first `InvalidRow`. */
  readonly loadMany: (keys: Iterable<K>) => Effect.Effect<Array<Option.Option<A>>, DbError.DbError>
}

/**
 * Loads all rows sharing a key (one-to-many), batched like {@link Loader}.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupedLoader<K, A> {
  /** The rows with this key, in no particular order. */
  readonly load: (key: K) => Effect.Effect<ReadonlyArray<A>, DbError.DbError>
  /** Every key's rows, in key order, in one batch. */
  readonly loadMany: (keys: Iterable<K>) => Effect.Effect<Array<ReadonlyArray<A>>, DbError.DbError>
}

/**
 * Keys a loader accepts. Rows are matched to keys by their text form, so a
 * Postgres `bigint` column (returned as text) matches a numeric key.
 *
 * @since 0.1.0
 * @category models
 */
export type Key = string | number | bigint

/**
 * A by-key {@link Loader} over a unique column.
 *
 * @example
 * ```ts
 * const pages = yield* Db.loader({ table: "pages", key: "id", schema: Page })
 * // 100 lookups, one query
 * const found = yield* Effect.forEach(ids, pages.load, { concurrency: "unbounded" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const loader = <A, I, K extends Key = Key>(options: LoaderOptions<A, I>): Effect.Effect<Loader<K, A>, never, Db> =>
  Effect.map(Db, (db) => loaders.single<K, A, I>(db, options))

/**
 * A {@link GroupedLoader} over a non-unique column (e.g. the links of each page).
 *
 * @since 0.1.0
 * @category constructors
 */
export const groupedLoader = <A, I, K extends Key = Key>(
  options: LoaderOptions<A, I>
): Effect.Effect<GroupedLoader<K, A>, never, Db> => Effect.map(Db, (db) => loaders.grouped<K, A, I>(db, options))
