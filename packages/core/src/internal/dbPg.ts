/**
 * The Postgres side of `Db`: a node-postgres pool built from the settings
 * (pool size, timeouts, `statement_timeout`, `application_name`,
 * `search_path`), a startup health check, `@effect/sql-pg` on top of the
 * pool, and the pool gauges.
 *
 * @internal
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import type { Core } from "./db.js"

/** The part of node-postgres `Pool` used here (the package ships no types). */
interface PgPool {
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
  query(text: string, values?: ReadonlyArray<unknown>): Promise<{ readonly rows: ReadonlyArray<Record<string, unknown>> }>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
}

interface PgPoolConfig {
  readonly connectionString: string
  readonly max: number
  readonly idleTimeoutMillis: number
  readonly connectionTimeoutMillis: number
  readonly application_name: string
  readonly statement_timeout?: number | undefined
  readonly options?: string | undefined
}

interface PgModule {
  readonly Pool: new(config: PgPoolConfig) => PgPool
}

/** Loaded on first use, so SQLite-only programs never load `pg`. */
let pgModule: PgModule | undefined
const loadPg = (): PgModule => (pgModule ??= createRequire(import.meta.url)("pg") as PgModule)

/** The Postgres bind-parameter limit (a 16-bit count in the wire protocol). */
const PG_MAX_PARAMS = 65535

const connections = Metric.gauge("db_pool_connections", {
  description: "Postgres connections open in the pool (idle and in use)"
})
const idleConnections = Metric.gauge("db_pool_connections_idle", {
  description: "Postgres connections open and idle in the pool"
})
const waiting = Metric.gauge("db_pool_waiting", {
  description: "Callers waiting for a Postgres connection from the pool"
})

const reasonOf = (u: unknown): string => {
  if (u instanceof Error) {
    const code = (u as { readonly code?: unknown }).code
    return typeof code === "string" && !u.message.includes(code) ? `${u.message} (${code})` : u.message
  }
  return String(u)
}

const poolSampler = (pool: PgPool, app: string, intervalMs: number): Effect.Effect<void, never, Scope.Scope> => {
  if (intervalMs <= 0) return Effect.void
  const labels = [MetricLabel.make("db", app)]
  const sample = Effect.sync(() => {
    connections.unsafeUpdate(pool.totalCount, labels)
    idleConnections.unsafeUpdate(pool.idleCount, labels)
    waiting.unsafeUpdate(pool.waitingCount, labels)
  })
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(Duration.millis(intervalMs)))))
}

/** @internal */
export const make = (
  settings: Db.Settings,
  target: string
): Effect.Effect<Core, DbError.ConnectFailed, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const failed = (reason: string, cause: unknown) => new DbError.ConnectFailed({ dialect: "pg", target, reason, cause })
    const url = settings.url
    if (url === undefined) return yield* Effect.fail(failed("no Postgres URL given", undefined))
    const Pg = yield* Effect.try({ try: loadPg, catch: (cause) => failed(`cannot load the pg driver: ${reasonOf(cause)}`, cause) })
    const runtime = yield* Effect.runtime<never>()
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new Pg.Pool({
          connectionString: Redacted.value(url),
          max: settings.maxConnections,
          idleTimeoutMillis: settings.idleTimeoutMs,
          connectionTimeoutMillis: settings.connectTimeoutMs,
          application_name: settings.applicationName,
          statement_timeout: settings.statementTimeoutMs > 0 ? settings.statementTimeoutMs : undefined,
          options: settings.schema === undefined ? undefined : `-c search_path=${settings.schema}`
        })
        // An idle connection that breaks (server restart) is dropped by the
        // pool; without a listener node would crash on the 'error' event.
        pool.on("error", (error) => {
          Runtime.runFork(runtime)(
            Effect.logWarning(`Db: an idle connection to ${target} failed and was dropped: ${reasonOf(error)}`)
          )
        })
        return pool
      }),
      // pool.end() waits for every checked-out connection; finalizers are
      // uninterruptible, so the wait must be made interruptible for the
      // timeout to bound it.
      (pool) =>
        Effect.timeoutOption(Effect.interruptible(Effect.promise(() => pool.end())), Duration.millis(settings.connectTimeoutMs))
    )

    const check = Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => failed(reasonOf(cause), cause)
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(settings.connectTimeoutMs + 1_000),
        onTimeout: () => failed(`no answer within ${settings.connectTimeoutMs} ms`, undefined)
      })
    )
    yield* check
    if (settings.schema !== undefined) {
      const schema = settings.schema
      const found = yield* Effect.tryPromise({
        try: () => pool.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]),
        catch: (cause) => failed(reasonOf(cause), cause)
      })
      if (found.rows.length === 0) {
        return yield* Effect.fail(failed(`schema ${JSON.stringify(schema)} does not exist (create it first)`, undefined))
      }
    }

    const sql = yield* PgClient.fromPool({
      acquire: Effect.succeed(pool),
      applicationName: settings.applicationName
    }).pipe(
      Effect.mapError((error: SqlError) => failed(reasonOf(error.cause ?? error), error))
    )
    yield* poolSampler(pool, settings.app, settings.poolMetricsIntervalMs)
    const poolStats = Effect.sync((): Db.PoolStats => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount
    }))
    return { sql, maxParams: PG_MAX_PARAMS, poolStats } satisfies Core
  })
