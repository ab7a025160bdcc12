/**
 * Transactions with rollback on failure and interruption, and the bounded
 * retry of `Busy` / `SerializationFailure`. The platform's `withTransaction`
 * turns a failed `COMMIT` into a defect and never retries; this runner
 * classifies every failure and runs the whole transaction again when the
 * database says a retry may succeed.
 *
 * @internal
 */
import * as Client from "@effect/sql/SqlClient"
import type * as Connection from "@effect/sql/SqlConnection"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type * as Db from "../Db.js"
import * as DbError from "../DbError.js"
import * as errors from "./dbError.js"

/** What the runner needs from the service. @internal */
export interface Runner {
  readonly dialect: Db.Dialect
  readonly target: string
  readonly sql: Client.SqlClient
  readonly retry: Db.RetrySettings
}

const toMs = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Duration.toMillis(Duration.decode(d))

/** A retry policy with per-call overrides. @internal */
export const policy = (base: Db.RetrySettings, o: Db.RetryInput | false | undefined): Db.RetrySettings =>
  o === undefined
    ? base
    : o === false
    ? { ...base, maxAttempts: 1 }
    : {
      maxAttempts: o.maxAttempts ?? base.maxAttempts,
      baseDelayMs: toMs(o.baseDelay, base.baseDelayMs),
      maxDelayMs: toMs(o.maxDelay, base.maxDelayMs)
    }

/** Exponential backoff with full jitter: `random × min(max, base × 2^(attempt-1))`. */
const delayMs = (p: Db.RetrySettings, attempt: number, random: number): number =>
  Math.round(Math.min(p.maxDelayMs, p.baseDelayMs * Math.pow(2, attempt - 1)) * random)

const withAttempts = (e: DbError.Busy | DbError.SerializationFailure, attempts: number) =>
  e._tag === "Busy"
    ? new DbError.Busy({ target: e.target, attempts, cause: e.cause })
    : new DbError.SerializationFailure({ reason: e.reason, target: e.target, attempts, cause: e.cause })

/**
 * Runs `attempt` again while it fails with a retryable error, up to
 * `p.maxAttempts` attempts; the final error records how many were made.
 *
 * @internal
 */
export const retrying = <A, E, R>(
  attempt: Effect.Effect<A, E, R>,
  p: Db.RetrySettings
): Effect.Effect<A, E | DbError.Busy | DbError.SerializationFailure, R> => {
  const loop = (n: number): Effect.Effect<A, E | DbError.Busy | DbError.SerializationFailure, R> =>
    Effect.catchAll(attempt, (e) => {
      if (!DbError.isRetryable(e)) return Effect.fail(e)
      if (n >= p.maxAttempts) return Effect.fail(withAttempts(e, n))
      return Effect.flatMap(Random.next, (random) =>
        Effect.zipRight(Effect.sleep(Duration.millis(delayMs(p, n, random))), loop(n + 1)))
    })
  return loop(1)
}

const inTransaction = Effect.serviceOption(Client.TransactionConnection)

const BEGIN: Record<Db.Dialect, Record<Db.Isolation | "default", string>> = {
  // IMMEDIATE takes the write lock at BEGIN: a deferred transaction that
  // reads and then writes can fail with SQLITE_BUSY_SNAPSHOT, which no busy
  // timeout can wait out.
  sqlite: {
    default: "BEGIN IMMEDIATE",
    "read committed": "BEGIN IMMEDIATE",
    "repeatable read": "BEGIN IMMEDIATE",
    serializable: "BEGIN IMMEDIATE"
  },
  pg: {
    default: "BEGIN",
    "read committed": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "repeatable read": "BEGIN ISOLATION LEVEL REPEATABLE READ",
    serializable: "BEGIN ISOLATION LEVEL SERIALIZABLE"
  }
}

const rollback = (rt: Runner, conn: Connection.Connection): Effect.Effect<void> =>
  Effect.catchAll(Effect.asVoid(conn.executeUnprepared("ROLLBACK", [], undefined)), (error) => {
    const classified = errors.classify(error, rt.dialect, rt.target)
    // A broken connection has no transaction left to roll back, and the pool
    // discards it; anything else may leave the connection mid-transaction.
    return classified._tag === "ConnectionLost"
      ? Effect.logDebug(`Db: ROLLBACK skipped, the connection to ${rt.target} is gone`)
      : Effect.logWarning(`Db: ROLLBACK on ${rt.target} failed: ${classified.message}`)
  })

const failTyped = <E>(rt: Runner, exit: Exit.Failure<unknown, E>): Effect.Effect<never, errors.Typed<E>> =>
  errors.typed(Effect.failCause(exit.cause), rt.dialect, rt.target)

/**
 * One attempt: BEGIN, body, COMMIT — or ROLLBACK on any failure or
 * interruption. The connection lives in a scope of its own (not
 * `Effect.scoped`, which would also capture a `Scope` the body needs).
 */
const once = <A, E, R>(rt: Runner, body: Effect.Effect<A, E, R>, begin: string): Effect.Effect<A, errors.Typed<E>, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.make(), (scope) =>
      Effect.onExit(
        Effect.gen(function*() {
          const conn = yield* errors.typed(restore(Scope.extend(rt.sql.reserve, scope)), rt.dialect, rt.target)
          const began = yield* Effect.exit(restore(conn.executeUnprepared(begin, [], undefined)))
          if (Exit.isFailure(began)) {
            // An interrupted BEGIN may still have reached the server.
            if (Exit.isInterrupted(began)) yield* rollback(rt, conn)
            return yield* failTyped(rt, began)
          }
          const exit = yield* Effect.exit(restore(Effect.provideService(body, Client.TransactionConnection, [conn, 0] as const)))
          if (Exit.isFailure(exit)) {
            yield* rollback(rt, conn)
            return yield* failTyped(rt, exit)
          }
          const committed = yield* Effect.exit(conn.executeUnprepared("COMMIT", [], undefined))
          if (Exit.isSuccess(committed)) return exit.value
          // SQLite keeps the transaction open when COMMIT fails (SQLITE_BUSY);
          // Postgres has ended it and answers this ROLLBACK with a warning only.
          yield* rollback(rt, conn)
          return yield* failTyped(rt, committed)
        }),
        (exit) => Scope.close(scope, exit)
      ))
  )

/** @internal */
export const transaction = <A, E, R>(
  rt: Runner,
  body: Effect.Effect<A, E, R>,
  options: Db.TransactionOptions | undefined
): Effect.Effect<A, errors.Typed<E>, R> =>
  Effect.flatMap(inTransaction, (outer): Effect.Effect<A, errors.Typed<E>, R> => {
    if (outer._tag === "Some") return errors.typed(rt.sql.withTransaction(body), rt.dialect, rt.target)
    const begin = BEGIN[rt.dialect][options?.isolation ?? "default"]
    return retrying(once(rt, body, begin), policy(rt.retry, options?.retry)).pipe(
      Effect.withSpan("db.transaction", {
        kind: "client",
        captureStackTrace: false,
        attributes: { "db.system.name": rt.dialect === "pg" ? "postgresql" : "sqlite" }
      })
    )
  })

/**
 * A single statement outside any transaction is its own transaction: it is
 * retried like one. Inside a transaction, the transaction retries instead.
 *
 * @internal
 */
export const autocommit = <A, E, R>(rt: Runner, effect: Effect.Effect<A, E, R>): Effect.Effect<A, errors.Typed<E>, R> =>
  Effect.flatMap(inTransaction, (outer): Effect.Effect<A, errors.Typed<E>, R> => {
    const typed = errors.typed(effect, rt.dialect, rt.target)
    return outer._tag === "Some" ? typed : retrying(typed, rt.retry)
  })

/** The runner of a service. @internal */
export const runnerOf = (db: Db.Service): Runner => ({
  dialect: db.dialect,
  target: db.target,
  sql: db.sql,
  retry: db.settings.retry
})
