/**
 * The `Db` service: settings, configuration, and the assembly of the
 * dialect's client (`dbSqlite` / `dbPg`) with transactions
 * (`dbTransaction`), bulk writes (`dbWrite`), streaming (`dbStream`) and
 * migrations (`dbMigrations`).
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Client from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import * as Db from "../Db.js"
import type * as DbError from "../DbError.js"
import type * as Migrations from "../Migrations.js"
import * as errors from "./dbError.js"
import * as migrations from "./dbMigrations.js"
import * as pg from "./dbPg.js"
import * as sqlite from "./dbSqlite.js"
import * as stream from "./dbStream.js"
import * as tx from "./dbTransaction.js"
import * as write from "./dbWrite.js"

/** What a dialect module builds. @internal */
export interface Core {
  readonly sql: Client.SqlClient
  readonly maxParams: number
  readonly poolStats: Effect.Effect<Db.PoolStats>
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const synchronous = (value: string | undefined): "full" | "normal" => {
  if (value === undefined) return defaults.sqliteSynchronous
  if (value === "full" || value === "normal") return value
  throw new Invalid("sqliteSynchronous", `must be "full" or "normal", got ${JSON.stringify(value)}`)
}

/** @internal */
export const defaults: Db.Settings = {
  app: "app",
  dialect: "sqlite",
  filename: "./data/app.db",
  url: undefined,
  schema: undefined,
  busyTimeoutMs: 5_000,
  sqliteSynchronous: "full",
  maxConnections: 10,
  idleTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 60_000,
  applicationName: "app",
  retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 1_000 },
  streamPageSize: 1_000,
  poolMetricsIntervalMs: 5_000,
  migrations: undefined,
  migrationsTable: "app_migrations"
}

const APP = /^[A-Za-z0-9][A-Za-z0-9_-]*$/
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/

class Invalid {
  constructor(readonly path: string, readonly reason: string) {}
}

const toMs = (path: string, d: Duration.DurationInput | undefined, fallback: number): number => {
  if (d === undefined) return fallback
  const decoded = Duration.decodeUnknown(d)
  if (decoded._tag === "None") throw new Invalid(path, `not a duration: ${JSON.stringify(String(d))}`)
  const ms = Duration.toMillis(decoded.value)
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new Invalid(path, `must be a finite duration >= 0, got ${String(d)}`)
  return ms
}

const positiveInt = (path: string, n: number | undefined, fallback: number): number => {
  if (n === undefined) return fallback
  if (!Number.isInteger(n) || n < 1) throw new Invalid(path, `must be an integer >= 1, got ${n}`)
  return n
}

interface Location {
  readonly dialect: Db.Dialect
  readonly filename: string | undefined
  readonly url: Redacted.Redacted<string> | undefined
}

const locate = (url: string | Redacted.Redacted<string> | undefined): Location => {
  if (url === undefined) return { dialect: "sqlite", filename: undefined, url: undefined }
  const text = typeof url === "string" ? url : Redacted.value(url)
  if (/^postgres(ql)?:\/\//i.test(text)) {
    if (!URL.canParse(text)) throw new Invalid("url", "not a valid postgres:// URL")
    return { dialect: "pg", filename: undefined, url: typeof url === "string" ? Redacted.make(url) : url }
  }
  if (/^sqlite:/i.test(text)) {
    const path = text.slice("sqlite:".length).replace(/^\/\//, "")
    if (path.length === 0) throw new Invalid("url", "sqlite: needs a file path, e.g. sqlite:./data/app.db")
    return { dialect: "sqlite", filename: path, url: undefined }
  }
  // Never echo the URL: it may carry a password.
  throw new Invalid("url", "must start with postgres://, postgresql:// or sqlite:")
}

/** @internal */
export const resolve = (input: Db.Input): Either.Either<Db.Settings, Db.SettingsError> => {
  try {
    const app = input.app ?? defaults.app
    if (!APP.test(app)) throw new Invalid("app", `must be letters, digits, '_' or '-', got ${JSON.stringify(app)}`)
    const location = locate(input.url)
    const schema = input.schema
    if (schema !== undefined && !IDENTIFIER.test(schema)) {
      throw new Invalid("schema", `must be a plain identifier (letters, digits, '_'), got ${JSON.stringify(schema)}`)
    }
    const migrationsTable = input.migrationsTable ?? `${app.replace(/-/g, "_")}_migrations`
    if (!IDENTIFIER.test(migrationsTable)) {
      throw new Invalid("migrationsTable", `must be a plain identifier, got ${JSON.stringify(migrationsTable)}`)
    }
    const r = input.retry
    const retry: Db.RetrySettings = r === false
      ? { ...defaults.retry, maxAttempts: 1 }
      : {
        maxAttempts: positiveInt("retry.maxAttempts", r?.maxAttempts, defaults.retry.maxAttempts),
        baseDelayMs: toMs("retry.baseDelay", r?.baseDelay, defaults.retry.baseDelayMs),
        maxDelayMs: toMs("retry.maxDelay", r?.maxDelay, defaults.retry.maxDelayMs)
      }
    if (retry.maxDelayMs < retry.baseDelayMs) {
      throw new Invalid("retry.maxDelay", `must be >= retry.baseDelay (${retry.baseDelayMs} ms), got ${retry.maxDelayMs} ms`)
    }
    const filename = location.filename ?? input.filename ?? `./data/${app}.db`
    if (filename.length === 0) throw new Invalid("filename", "must not be empty")
    return Either.right({
      app,
      dialect: location.dialect,
      filename,
      url: location.url,
      schema,
      busyTimeoutMs: toMs("busyTimeout", input.busyTimeout, defaults.busyTimeoutMs),
      sqliteSynchronous: synchronous(input.sqliteSynchronous),
      maxConnections: positiveInt("maxConnections", input.maxConnections, defaults.maxConnections),
      idleTimeoutMs: toMs("idleTimeout", input.idleTimeout, defaults.idleTimeoutMs),
      connectTimeoutMs: toMs("connectTimeout", input.connectTimeout, defaults.connectTimeoutMs),
      statementTimeoutMs: toMs("statementTimeout", input.statementTimeout, defaults.statementTimeoutMs),
      applicationName: input.applicationName ?? app,
      retry,
      streamPageSize: positiveInt("streamPageSize", input.streamPageSize, defaults.streamPageSize),
      poolMetricsIntervalMs: toMs("poolMetricsInterval", input.poolMetricsInterval, defaults.poolMetricsIntervalMs),
      migrations: input.migrations,
      migrationsTable
    })
  } catch (error) {
    if (error instanceof Invalid) return Either.left(new Db.SettingsError({ path: error.path, reason: error.reason }))
    throw error
  }
}

const definedOnly = <A extends object>(o: A): Partial<A> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<A>

/**
 * Later input wins field by field, except the location: an explicit `url`
 * or `filename` in `b` replaces both of `a`'s.
 *
 * @internal
 */
export const mergeInput = (a: Db.Input, b: Db.Input): Db.Input => {
  const location = b.url !== undefined || b.filename !== undefined
    ? { url: b.url, filename: b.filename }
    : { url: a.url, filename: a.filename }
  return {
    ...definedOnly(a),
    ...definedOnly(b),
    ...location,
    retry: a.retry === false || b.retry === false
      ? (b.retry ?? a.retry)
      : { ...definedOnly(a.retry ?? {}), ...definedOnly(b.retry ?? {}) }
  }
}

/** A duration given as milliseconds (`5000`) or as text (`5 seconds`). */
const durationConfig = (name: string): Config.Config<Duration.Duration> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const trimmed = text.trim()
    const decoded = /^\d+(\.\d+)?$/.test(trimmed)
      ? Duration.decodeUnknown(Number(trimmed))
      : Duration.decodeUnknown(trimmed)
    return decoded._tag === "Some"
      ? Either.right(decoded.value)
      : Either.left(ConfigError.InvalidData([name], `Expected a duration (milliseconds or e.g. "5 seconds"), got ${JSON.stringify(text)}`))
  })

const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), (o) => (o._tag === "Some" ? o.value : undefined))

/** @internal */
export const config: Config.Config<Db.Input> = Config.map(
  Config.all({
    url: optional(Config.redacted("DATABASE_URL")),
    filename: optional(Config.string("DB_PATH")),
    schema: optional(Config.string("DB_SCHEMA")),
    maxConnections: optional(Config.integer("DB_MAX_CONNECTIONS")),
    idleTimeout: optional(durationConfig("DB_IDLE_TIMEOUT")),
    connectTimeout: optional(durationConfig("DB_CONNECT_TIMEOUT")),
    statementTimeout: optional(durationConfig("DB_STATEMENT_TIMEOUT")),
    applicationName: optional(Config.string("DB_APPLICATION_NAME")),
    busyTimeout: optional(durationConfig("DB_BUSY_TIMEOUT")),
    retryMaxAttempts: optional(Config.integer("DB_RETRY_MAX_ATTEMPTS"))
  }),
  ({ retryMaxAttempts, ...rest }): Db.Input => ({ ...rest, retry: { maxAttempts: retryMaxAttempts } })
)

/** The database for messages: never a password. @internal */
export const describeTarget = (settings: Db.Settings): string => {
  if (settings.dialect === "sqlite") {
    return settings.filename === ":memory:" || settings.filename.startsWith("file:")
      ? `sqlite:${settings.filename}`
      : `sqlite:${Path.resolve(settings.filename)}`
  }
  const url = new URL(settings.url === undefined ? "postgres://localhost" : Redacted.value(settings.url))
  const user = url.username === "" ? "" : `${decodeURIComponent(url.username)}@`
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || "(default database)"
  const schema = settings.schema === undefined ? "" : ` (schema ${settings.schema})`
  return `postgres://${user}${url.hostname || "localhost"}:${url.port || "5432"}/${database}${schema}`
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

const assemble = (settings: Db.Settings, target: string, core: Core): Db.Service => {
  const runner: tx.Runner = { dialect: settings.dialect, target, sql: core.sql, retry: settings.retry }
  const writer: write.Writer = { runner, maxParams: core.maxParams }
  return {
    settings,
    dialect: settings.dialect,
    target,
    maxParams: core.maxParams,
    sql: core.sql,
    transaction: (effect, options) => tx.transaction(runner, effect, options),
    typed: (effect) => errors.typed(effect, settings.dialect, target),
    insertMany: (table, rows, options) => write.insertMany(writer, table, rows, options),
    upsert: (table, rows, options) => write.upsert(writer, table, rows, options),
    stream: (options) => stream.stream(runner, settings.streamPageSize, options),
    poolStats: core.poolStats
  }
}

/** @internal */
export const make = (
  input: Db.Input = {}
): Effect.Effect<Db.Service, Db.SettingsError | DbError.DbError | Migrations.MigrationError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* resolve(input)
    const target = describeTarget(settings)
    const core = yield* (settings.dialect === "pg" ? pg.make(settings, target) : sqlite.make(settings, target)).pipe(
      Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make)
    )
    const service = assemble(settings, target, core)
    if (settings.migrations !== undefined) {
      yield* migrations.run(service, settings.migrations, settings.migrationsTable)
    }
    return service
  })

/** The layer's context: the service and its `SqlClient`. @internal */
export const context = (service: Db.Service): Context.Context<Db.Db | Client.SqlClient> =>
  Context.make(Db.Db, service).pipe(Context.add(Client.SqlClient, service.sql))

/** @internal */
export const streamFromContext = (options: Db.StreamOptions): Stream.Stream<Db.Row, DbError.DbError, Db.Db> =>
  Stream.unwrap(Effect.map(Db.Db, (db) => db.stream(options)))
