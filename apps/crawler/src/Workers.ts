/**
 * `Workers`: the processes crawling one crawl database, in its `workers`
 * table. Each crawling process registers at start, beats every third of its
 * lease (renewing its URL leases at the same time, see `Crawler`), and
 * writes how it ended. A worker whose heartbeat is older than its lease is
 * dead — SIGKILL, power loss, a partition — and {@link reap} (run by every
 * live worker on each heartbeat) hands its URL leases and its host slots
 * back to the others at once; on the reaper's own machine a worker whose
 * process is gone is dead without waiting for its lease to run out.
 *
 * A worker found dead while it is still running (paused longer than its
 * lease) learns it from its next {@link heartbeat} and stops: its leases
 * were handed to others, and their fencing tokens keep its late
 * completions from ever committing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Db } from "@fiberkit/core"
 * import { Workers } from "@fiberkit/crawler"
 *
 * const status = Effect.gen(function*() {
 *   const rows = yield* Workers.list
 *   console.log(Workers.format(rows, Date.now()))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Db, type DbError } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as internal from "./internal/workers.js"

/**
 * How a worker is, as recorded: `alive` (until it ends or is found dead),
 * `done` (the crawl was finished), `stopped` (a stop request), `failed` (an
 * error ended it), `dead` (found dead by another worker).
 *
 * @since 0.1.0
 * @category models
 */
export type State = "alive" | "done" | "stopped" | "failed" | "dead"

/**
 * How a worker ends itself (see {@link end}).
 *
 * @since 0.1.0
 * @category models
 */
export type EndState = "done" | "stopped" | "failed"

/**
 * A worker's row.
 *
 * @since 0.1.0
 * @category models
 */
export interface Worker {
  /** Random, 12 hex digits; the first part of the lease tokens it holds. */
  readonly id: string
  /** The machine's host name. */
  readonly host: string
  /** Host name and boot id: which workers share a process table. */
  readonly machine: string
  readonly pid: number
  /** Epoch ms. */
  readonly startedAt: number
  /** Epoch ms of the last heartbeat. */
  readonly heartbeatAt: number
  /** Its URL lease: silent for longer than this, it is dead. */
  readonly leaseMs: number
  /** Pages it committed (as of its last heartbeat). */
  readonly pages: number
  readonly state: State
  /** Epoch ms, once it ended or was found dead. */
  readonly endedAt: number | null
}

/**
 * A worker as `crawl status` shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status extends Worker {
  /** `state` is `alive` and the last heartbeat is within the lease. */
  readonly alive: boolean
  /** Pages over its running time (to now, its end, or its last heartbeat). */
  readonly pagesPerSecond: number
}

/**
 * What a {@link reap} found and did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reaped {
  /** Workers it declared dead. */
  readonly dead: ReadonlyArray<string>
  /** Their URL leases, pending again. */
  readonly leases: number
  /** Host slots freed (held by workers no longer alive). */
  readonly slots: number
}

/**
 * Registers this process as a worker, alive, with a new id.
 *
 * @since 0.1.0
 * @category registry
 */
export const register = (options: { readonly leaseMs: number }): Effect.Effect<Worker, DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.register(db, options.leaseMs))

/**
 * Records a heartbeat and the worker's page count. `false` when the worker
 * is no longer alive in the table (found dead by another worker, or
 * ended): it must stop.
 *
 * @since 0.1.0
 * @category registry
 */
export const heartbeat = (id: string, pages: number): Effect.Effect<boolean, DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.heartbeat(db, id, pages))

/**
 * Records how a worker ended and its final page count, and frees any host
 * slot it still holds.
 *
 * @since 0.1.0
 * @category registry
 */
export const end = (id: string, state: EndState, pages: number): Effect.Effect<void, DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.end(db, id, state, pages))

/**
 * Finds dead workers — heartbeat older than their lease, or (on this
 * machine) process gone — marks them `dead`, puts their URL leases back to
 * pending and frees every host slot held by a worker that is not alive. One
 * transaction; safe to run from every worker at once (each dead worker is
 * reaped by one of them). `self` is never declared dead.
 *
 * @since 0.1.0
 * @category registry
 */
export const reap = (self?: string): Effect.Effect<Reaped, DbError.DbError, Db.Db> =>
  Effect.flatMap(Db.Db, (db) => internal.reap(db, self))

/**
 * Every worker the crawl has had, oldest first.
 *
 * @since 0.1.0
 * @category registry
 */
export const list: Effect.Effect<ReadonlyArray<Status>, DbError.DbError, Db.Db> = Effect.flatMap(Db.Db, internal.list)

/**
 * The workers as `crawl status` prints them: a count line, then one row per
 * worker (id, host/pid, start, last heartbeat, pages, pages/s, state).
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (rows: ReadonlyArray<Status>, now: number) => string = internal.format
