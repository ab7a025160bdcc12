/**
 * The `Db` service itself: settings and configuration, what a connection is
 * set up with on each dialect, the startup health check, spans per
 * statement, pool figures and gauges.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Db } from "@fiberkit/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { failureOf, forEachDialect, open, postgresUrl, recorder } from "./dbHarness.js"

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** Polls `check` every 10 ms until it holds (at most 3 s): for state another fiber or the pool reaches. */
const eventually = <A>(effect: Effect.Effect<A>, check: (a: A) => boolean) =>
  effect.pipe(
    Effect.repeat({ until: check, schedule: Schedule.spaced("10 millis") }),
    Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => new Error("condition not reached within 3 s") })
  )

describe("Db settings", () => {
  it("defaults: SQLite at ./data/<app>.db, per-app migrations table and application name", () => {
    const settings = Either.getOrThrow(Db.resolve({ app: "crawl" }))
    expect(settings.dialect).toBe("sqlite")
    expect(settings.filename).toBe("./data/crawl.db")
    expect(settings.migrationsTable).toBe("crawl_migrations")
    expect(settings.applicationName).toBe("crawl")
    expect(settings.busyTimeoutMs).toBe(5_000)
    expect(settings.retry.maxAttempts).toBe(5)
  })

  it("a postgres:// URL selects Postgres; sqlite: selects a file", () => {
    expect(Either.getOrThrow(Db.resolve({ url: "postgresql://u@h/db" })).dialect).toBe("pg")
    const file = Either.getOrThrow(Db.resolve({ url: "sqlite:./x/y.db" }))
    expect([file.dialect, file.filename]).toEqual(["sqlite", "./x/y.db"])
  })

  it("invalid settings name the field and never echo a URL's password", () => {
    const bad = Db.resolve({ url: "mysql://root:hunter2@127.0.0.1/db" })
    expect(Either.isLeft(bad)).toBe(true)
    if (Either.isRight(bad)) return
    expect(bad.left.path).toBe("url")
    expect(bad.left.message).not.toContain("hunter2")
    const retry = Db.resolve({ retry: { maxAttempts: 0 } })
    expect(Either.isLeft(retry) && retry.left.message).toContain("retry.maxAttempts")
    expect(Either.isLeft(Db.resolve({ schema: "x; DROP TABLE y" }))).toBe(true)
  })

  it.scopedLive("layerConfig reads the environment; an explicit filename beats DATABASE_URL", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-db-config-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const nested = Path.join(dir, "a", "b", "app.db")
      const env = { DATABASE_URL: "postgres://u:hunter2@127.0.0.1:1/nowhere", DB_BUSY_TIMEOUT: "250", DB_CONNECT_TIMEOUT: "2 seconds" }
      const [db, timeout] = yield* Effect.flatMap(Db.Db, (db) => Effect.zip(Effect.succeed(db), db.typed(db.sql<{ timeout: number }>`PRAGMA busy_timeout`))).pipe(
        Effect.provide(Db.layerConfig({ app: "cfg", filename: nested })),
        withEnv(env)
      )
      expect(db.dialect).toBe("sqlite")
      expect(db.settings.busyTimeoutMs).toBe(250)
      expect(db.settings.connectTimeoutMs).toBe(2_000)
      expect(Fs.existsSync(nested)).toBe(true)
      expect(timeout[0]?.timeout).toBe(250)

      // Without the override, DATABASE_URL selects Postgres; the health check
      // fails naming host, port and database, never the password.
      const error = failureOf(yield* Effect.exit(Db.Db.pipe(Effect.provide(Db.layerConfig({ app: "cfg" })), withEnv(env))))
      expect(error._tag).toBe("ConnectFailed")
      expect(error.message).toContain("postgres://u@127.0.0.1:1/nowhere")
      expect(error.message).not.toContain("hunter2")
    }))

  it("a malformed duration in the environment fails as configuration", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Db.config.pipe(withEnv({ DB_IDLE_TIMEOUT: "soon" })))
      expect(exit._tag).toBe("Failure")
    }).pipe(Effect.runSync))
})

forEachDialect("Db connection", (h) => {
  it.scopedLive("sets up each connection: SQLite pragmas, Postgres session settings", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const db = yield* open({ ...input, app: "conn-test", busyTimeout: "1234 millis", statementTimeout: "9 seconds" })
      if (h.dialect === "sqlite") {
        const pragma = (name: string) => Effect.map(db.typed(db.sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`)), (r) => Object.values(r[0] ?? {})[0])
        expect(yield* pragma("journal_mode")).toBe("wal")
        expect(yield* pragma("busy_timeout")).toBe(1234)
        expect(yield* pragma("foreign_keys")).toBe(1)
        // FULL (2) by default: every commit fsynced.
        expect(yield* pragma("synchronous")).toBe(2)
        const normal = yield* open({ ...input, app: "conn-test", sqliteSynchronous: "normal" })
        expect(yield* Effect.map(normal.typed(normal.sql.unsafe<Record<string, unknown>>("PRAGMA synchronous")), (r) => Object.values(r[0] ?? {})[0])).toBe(1)
        expect(db.maxParams).toBe(32766)
        expect(db.target).toMatch(/^sqlite:\//)
      } else {
        const show = (name: string) => Effect.map(db.typed(db.sql.unsafe<Record<string, string>>(`SHOW ${name}`)), (r) => r[0]?.[name])
        expect(yield* show("application_name")).toBe("conn-test")
        expect(yield* show("statement_timeout")).toBe("9s")
        expect(yield* show("search_path")).toBe(input.schema)
        expect(db.maxParams).toBe(65535)
        expect(db.target).toBe(`postgres://postgres@127.0.0.1:5432/test (schema ${input.schema})`)
      }
    }))

  it.scopedLive("a database that cannot be opened fails on startup with ConnectFailed naming it", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      if (h.dialect === "sqlite") {
        const notADb = `${input.filename}.txt`
        Fs.writeFileSync(notADb, "this is not a database, just some text that is long enough to have a header".repeat(20))
        const error = failureOf(yield* Effect.exit(Db.make({ ...input, filename: notADb })))
        expect(error._tag).toBe("ConnectFailed")
        expect(error.message).toContain(Path.resolve(notADb))
        expect(error.message).toContain("not a database")
      } else {
        const wrongDb = failureOf(yield* Effect.exit(Db.make({ ...input, url: postgresUrl.replace(/\/test$/, "/fk_missing_db") })))
        expect(wrongDb._tag).toBe("ConnectFailed")
        expect(wrongDb.message).toContain("127.0.0.1:5432/fk_missing_db")
        expect(wrongDb.message).toContain("does not exist")
        const refused = failureOf(yield* Effect.exit(Db.make({ ...input, url: "postgres://app:s3cret@127.0.0.1:1/test" })))
        expect(refused.message).toContain("postgres://app@127.0.0.1:1/test")
        expect(refused.message).toContain("ECONNREFUSED")
        expect(refused.message).not.toContain("s3cret")
        const noSchema = failureOf(yield* Effect.exit(Db.make({ ...input, schema: "fk_no_such_schema" })))
        expect(noSchema.message).toContain("fk_no_such_schema")
      }
    }))

  it.scopedLive("one span per statement, carrying the statement text and never the bound values", () =>
    Effect.gen(function*() {
      const db = yield* open(yield* h.fresh)
      yield* db.typed(db.sql`CREATE TABLE secrets (id ${db.sql.literal(h.serial)}, token TEXT NOT NULL)`)
      const { spans, statements, tracer } = recorder()
      yield* Effect.gen(function*() {
        yield* db.insertMany("secrets", [{ token: "tok-insert-5f1e" }])
        yield* db.typed(db.sql`SELECT id FROM secrets WHERE token = ${"tok-select-9a7c"}`)
      }).pipe(Effect.withTracer(tracer))
      const executed = statements()
      expect(executed.some((s) => s.startsWith("INSERT INTO \"secrets\""))).toBe(true)
      expect(executed).toContain(`SELECT id FROM secrets WHERE token = ${h.dialect === "sqlite" ? "?" : "$1"}`)
      for (const span of spans) {
        for (const value of span.attributes.values()) {
          expect(String(value)).not.toContain("tok-")
        }
      }
      const select = spans.find((s) => String(s.attributes.get("db.query.text")).startsWith("SELECT"))
      expect(select?.attributes.get("db.system.name")).toBe(h.dialect === "sqlite" ? "sqlite" : "postgresql")
      // The bulk insert ran in a transaction, whose span parents its statements.
      const transaction = spans.find((s) => s.name === "db.transaction")
      const insert = spans.find((s) => String(s.attributes.get("db.query.text")).startsWith("INSERT"))
      expect(insert?.parent._tag === "Some" && insert.parent.value._tag === "Span" && insert.parent.value.name).toBe(transaction?.name)
    }))

  it.scopedLive("pool figures: connections in use, idle and waiting", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      if (h.dialect === "sqlite") {
        const db = yield* open(input)
        expect(yield* db.poolStats).toEqual({ total: 1, idle: 1, waiting: 0 })
        const inside = yield* db.transaction(db.poolStats)
        expect(inside.idle).toBe(0)
        return
      }
      const db = yield* open({ ...input, app: "gauges", maxConnections: 2, poolMetricsInterval: "10 millis" })
      const sql = db.sql
      // Two connections held (each in a transaction waiting for `release`), a third caller waiting.
      const release = yield* Effect.makeLatch(false)
      const holders = yield* Effect.fork(Effect.all([
        db.transaction(Effect.zipRight(sql`SELECT 1`, release.await)),
        db.transaction(Effect.zipRight(sql`SELECT 1`, release.await))
      ], { concurrency: 2 }))
      yield* eventually(db.poolStats, (s) => s.total === 2 && s.idle === 0)
      const third = yield* Effect.fork(db.typed(sql`SELECT 1`))
      yield* eventually(db.poolStats, (s) => s.waiting === 1)
      const gauge = (name: string) =>
        Effect.map(Metric.snapshot, (pairs) => {
          const pair = pairs.find((p) =>
            p.metricKey.name === name && p.metricKey.tags.some((t) => t.key === "db" && t.value === "gauges")
          )
          return pair?.metricState !== undefined && "value" in pair.metricState ? Number(pair.metricState.value) : undefined
        })
      yield* eventually(gauge("db_pool_waiting"), (v) => v === 1)
      yield* eventually(gauge("db_pool_connections"), (v) => v === 2)
      yield* release.open
      yield* Fiber.join(holders)
      yield* Fiber.join(third)
      yield* eventually(db.poolStats, (s) => s.waiting === 0 && s.idle === 2)
      yield* eventually(gauge("db_pool_connections_idle"), (v) => v === 2)
    }))

  it.scopedLive.skipIf(h.dialect === "sqlite")("Postgres statement timeout comes back as StatementTimeout (SQLite has none)", () =>
    Effect.gen(function*() {
      const db = yield* open({ ...(yield* h.fresh), statementTimeout: "100 millis" })
      const error = failureOf(yield* Effect.exit(db.typed(db.sql`SELECT pg_sleep(5)`)))
      expect(error._tag).toBe("StatementTimeout")
      expect(error.message).toContain("DB_STATEMENT_TIMEOUT")
      // The connection is fine afterwards.
      expect(yield* db.typed(db.sql<{ one: number }>`SELECT 1 AS one`)).toEqual([{ one: 1 }])
    }), { timeout: 10_000 })

  it.scopedLive("the layer provides the platform SqlClient too", () =>
    Effect.gen(function*() {
      const input = yield* h.fresh
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ two: number }>`SELECT 2 AS two`).pipe(
        Effect.provide(Db.layerWith(input))
      )
      expect(rows).toEqual([{ two: 2 }])
    }))
})
