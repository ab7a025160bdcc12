/**
 * The SQLite side of `Db`: opens the file through `@effect/sql-sqlite-node`,
 * sets the pragmas it leaves out (busy timeout, foreign keys), and rebuilds
 * the `SqlClient` around its connection so that
 *
 * - transactions begin with `BEGIN IMMEDIATE` (the write lock is taken up
 *   front, so a reader never fails to upgrade to a writer mid-transaction),
 * - the connection lock is held for the whole statement (sql-sqlite-node
 *   releases it before the statement runs), and
 * - every client of one file in this process shares that lock. Two
 *   connections of one process would otherwise meet inside SQLite's busy
 *   handler, which sleeps synchronously: the event loop stops, the lock
 *   holder cannot finish, and the waiter burns its whole busy timeout.
 *
 * @internal
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Client from "@effect/sql/SqlClient"
import type * as Connection from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import { globalValue } from "effect/GlobalValue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import type { Core } from "./db.js"

/** One lock per database file per process, shared by every client of the file. */
const fileLocks = globalValue(
  Symbol.for("@fiberkit/core/Db/sqliteFileLocks"),
  () => new Map<string, { readonly lock: Effect.Semaphore; refs: number }>()
)

const fileLock = (key: string | undefined): Effect.Effect<Effect.Semaphore, never, Scope.Scope> => {
  if (key === undefined) return Effect.succeed(Effect.unsafeMakeSemaphore(1))
  return Effect.acquireRelease(
    Effect.sync(() => {
      let entry = fileLocks.get(key)
      if (entry === undefined) {
        entry = { lock: Effect.unsafeMakeSemaphore(1), refs: 0 }
        fileLocks.set(key, entry)
      }
      entry.refs++
      return entry.lock
    }),
    () =>
      Effect.sync(() => {
        const entry = fileLocks.get(key)
        if (entry !== undefined && --entry.refs === 0) fileLocks.delete(key)
      })
  )
}

const isFile = (filename: string): boolean => filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")

const reasonOf = (u: unknown): string => (u instanceof Error ? u.message : String(u))

const STREAM_UNSUPPORTED = new SqlError({
  message:
    "SQLite statements cannot be streamed (sql-sqlite-node does not implement it); use Db.stream, which pages by key"
})

/**
 * The bind-parameter limit the bundled SQLite was compiled with
 * (`SQLITE_MAX_VARIABLE_NUMBER`), or its default for that version.
 */
const maxParamsOf = (conn: Connection.Connection): Effect.Effect<number, SqlError> =>
  Effect.map(
    Effect.zip(
      conn.executeUnprepared("PRAGMA compile_options", [], undefined),
      conn.executeUnprepared("SELECT sqlite_version() AS v", [], undefined)
    ),
    ([options, version]) => {
      for (const row of options) {
        const match = /^MAX_VARIABLE_NUMBER=(\d+)$/.exec(String(Object.values(row)[0]))
        if (match?.[1] !== undefined) return Number(match[1])
      }
      const [major = 0, minor = 0] = String(version[0]?.v ?? "").split(".").map(Number)
      return major > 3 || (major === 3 && minor >= 32) ? 32766 : 999
    }
  )

/** @internal */
export const make = (
  settings: Db.Settings,
  target: string
): Effect.Effect<Core, DbError.ConnectFailed, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const failed = (cause: unknown) =>
      new DbError.ConnectFailed({ dialect: "sqlite", target, reason: reasonOf(cause), cause })
    const filename = settings.filename
    if (isFile(filename)) {
      yield* Effect.try({
        try: () => Fs.mkdirSync(Path.dirname(Path.resolve(filename)), { recursive: true }),
        catch: failed
      })
    }
    // sql-sqlite-node opens the file inside its constructor effect: a
    // missing directory or a file that is not a database is a defect there.
    const inner = yield* SqliteClient.make({ filename }).pipe(Effect.catchAllDefect((defect) => Effect.fail(failed(defect))))
    const conn = yield* Effect.mapError(Effect.scoped(inner.reserve), failed)
    const setup = Effect.gen(function*() {
      yield* conn.executeUnprepared(`PRAGMA busy_timeout = ${Math.round(settings.busyTimeoutMs)}`, [], undefined)
      yield* conn.executeUnprepared("PRAGMA foreign_keys = ON", [], undefined)
      yield* conn.executeUnprepared(`PRAGMA synchronous = ${settings.sqliteSynchronous === "normal" ? "NORMAL" : "FULL"}`, [], undefined)
      return yield* maxParamsOf(conn)
    })
    const maxParams = yield* Effect.mapError(setup, failed)

    const lockKey = isFile(filename)
      ? yield* Effect.try({ try: () => Fs.realpathSync(Path.resolve(filename)), catch: failed })
      : undefined
    const lock = yield* fileLock(lockKey)
    const connection: Connection.Connection = {
      execute: (sql, params, transformRows) => conn.execute(sql, params, transformRows),
      executeRaw: (sql, params) => conn.executeRaw(sql, params),
      executeValues: (sql, params) => conn.executeValues(sql, params),
      executeUnprepared: (sql, params, transformRows) => conn.executeUnprepared(sql, params, transformRows),
      executeStream: () => Stream.fail(STREAM_UNSUPPORTED)
    }
    // A statement outside a transaction holds the lock while it runs
    // (withPermits: cheaper than a scope finalizer per statement).
    const locked = lock.withPermits(1)
    const statementConnection: Connection.Connection = {
      execute: (sql, params, transformRows) => locked(conn.execute(sql, params, transformRows)),
      executeRaw: (sql, params) => locked(conn.executeRaw(sql, params)),
      executeValues: (sql, params) => locked(conn.executeValues(sql, params)),
      executeUnprepared: (sql, params, transformRows) => locked(conn.executeUnprepared(sql, params, transformRows)),
      executeStream: () => Stream.fail(STREAM_UNSUPPORTED)
    }
    const acquirer: Connection.Connection.Acquirer = Effect.succeed(statementConnection)
    // A transaction holds the lock until its scope closes; its statements
    // run on the bare connection. The wait stays interruptible
    // (acquireRelease would make it uninterruptible).
    const release = lock.release(1)
    const transactionAcquirer: Connection.Connection.Acquirer = Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(lock.take(1)), Effect.as(Effect.addFinalizer(() => release), connection))
    )
    const sql = yield* Client.make({
      acquirer,
      transactionAcquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"], ["db.namespace", target]],
      beginTransaction: "BEGIN IMMEDIATE"
    })
    const poolStats: Effect.Effect<Db.PoolStats> = Effect.map(
      lock.withPermitsIfAvailable(1)(Effect.void),
      (free) => ({ total: 1, idle: free._tag === "Some" ? 1 : 0, waiting: 0 })
    )
    return { sql, maxParams, poolStats } satisfies Core
  })
