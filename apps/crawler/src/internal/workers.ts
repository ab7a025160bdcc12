/**
 * The `workers` table: registration, heartbeats, the end of a worker, the
 * reaper that finds dead workers and hands their leases and host slots
 * back, and the listing `crawl status` prints.
 *
 * Times are the worker's `Clock` (epoch ms), like the frontier's leases:
 * machines of one crawl keep their clocks in sync (NTP) to well within a
 * lease.
 *
 * @internal
 */
import type { Db, DbError } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import type * as Workers from "../Workers.js"
import { num } from "./frontierRead.js"

/** This machine: host name and, on Linux, the boot id (so a reboot or another container is another machine). @internal */
export const machine: string = (() => {
  let boot = ""
  try {
    boot = Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
  } catch {
    // Not Linux: the host name alone identifies the machine.
  }
  return boot === "" ? Os.hostname() : `${Os.hostname()}/${boot}`
})()

/** Whether a process of this machine exists (signal 0 checks, it sends nothing). @internal */
export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

interface Row {
  readonly id: string
  readonly host: string
  readonly machine: string
  readonly pid: number | string
  readonly started_at: number | string
  readonly heartbeat_at: number | string
  readonly lease_ms: number | string
  readonly pages: number | string
  readonly state: Workers.State
  readonly ended_at: number | string | null
}

const toWorker = (r: Row): Workers.Worker => ({
  id: r.id,
  host: r.host,
  machine: r.machine,
  pid: Number(r.pid),
  startedAt: Number(r.started_at),
  heartbeatAt: Number(r.heartbeat_at),
  leaseMs: Number(r.lease_ms),
  pages: Number(r.pages),
  state: r.state,
  endedAt: num(r.ended_at)
})

/** @internal */
export const register = (db: Db.Service, leaseMs: number): Effect.Effect<Workers.Worker, DbError.DbError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const worker: Workers.Worker = {
      id: randomBytes(6).toString("hex"),
      host: Os.hostname(),
      machine,
      pid: process.pid,
      startedAt: now,
      heartbeatAt: now,
      leaseMs,
      pages: 0,
      state: "alive",
      endedAt: null
    }
    return Effect.as(
      db.insertMany("workers", [{
        id: worker.id,
        host: worker.host,
        machine: worker.machine,
        pid: worker.pid,
        started_at: now,
        heartbeat_at: now,
        lease_ms: leaseMs,
        pages: 0,
        state: "alive"
      }]),
      worker
    )
  })

/** @internal */
export const heartbeat = (db: Db.Service, id: string, pages: number): Effect.Effect<boolean, DbError.DbError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.map(
      db.typed(
        db.sql<{ readonly id: string }>`UPDATE workers SET heartbeat_at = ${now}, pages = ${pages}
          WHERE id = ${id} AND state = 'alive' RETURNING id`
      ),
      (rows) => rows.length > 0
    ))

/** @internal */
export const end = (
  db: Db.Service,
  id: string,
  state: Workers.EndState,
  pages: number
): Effect.Effect<void, DbError.DbError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    db.transaction(Effect.gen(function*() {
      yield* db.typed(
        db.sql`UPDATE workers SET state = ${state}, pages = ${pages}, heartbeat_at = ${now}, ended_at = ${now}
          WHERE id = ${id} AND state = 'alive'`.raw
      )
      // Normally none: every slot is given back as its request ends.
      yield* db.typed(db.sql`UPDATE host_slots SET worker = NULL, taken_at = NULL WHERE worker = ${id}`.raw)
    })))

/** @internal */
export const reap = (db: Db.Service, self: string | undefined): Effect.Effect<Workers.Reaped, DbError.DbError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    db.transaction(Effect.gen(function*() {
      const sql = db.sql
      const silent = yield* db.typed(
        sql<{ readonly id: string }>`UPDATE workers SET state = 'dead', ended_at = ${now}
          WHERE state = 'alive' AND heartbeat_at + lease_ms < ${now} RETURNING id`
      )
      const dead = silent.map((r) => r.id)
      // On this machine a worker's process can be looked up: a vanished one is dead at once.
      const local = yield* db.typed(
        sql<{ readonly id: string; readonly pid: number | string }>`SELECT id, pid FROM workers
          WHERE state = 'alive' AND machine = ${machine}`
      )
      const gone = local.filter((r) => r.id !== self && Number(r.pid) !== process.pid && !pidAlive(Number(r.pid)))
      if (gone.length > 0) {
        const marked = yield* db.typed(
          sql<{ readonly id: string }>`UPDATE workers SET state = 'dead', ended_at = ${now}
            WHERE state = 'alive' AND id IN ${sql.in(gone.map((r) => r.id))} RETURNING id`
        )
        for (const r of marked) dead.push(r.id)
      }
      let leases = 0
      for (const id of dead) {
        const rows = yield* db.typed(
          sql<{ readonly id: number | string }>`UPDATE urls SET state = 'pending', lease_token = NULL, leased_until = NULL
            WHERE state = 'leased' AND lease_token LIKE ${`${id}.%`} RETURNING id`
        )
        leases += rows.length
      }
      // Every slot whose holder is not alive, not only the ones just found:
      // a slot taken in the instant its holder was declared dead is freed by
      // the next reap.
      const slots = yield* db.typed(
        sql<{ readonly host: string }>`UPDATE host_slots SET worker = NULL, taken_at = NULL
          WHERE worker IS NOT NULL AND worker NOT IN (SELECT id FROM workers WHERE state = 'alive') RETURNING host`
      )
      return { dead, leases, slots: slots.length }
    })))

/** @internal */
export const list = (db: Db.Service): Effect.Effect<ReadonlyArray<Workers.Status>, DbError.DbError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.map(
      db.typed(
        db.sql<Row>`SELECT id, host, machine, pid, started_at, heartbeat_at, lease_ms, pages, state, ended_at
          FROM workers ORDER BY started_at, id`
      ),
      (rows) =>
        rows.map((row) => {
          const w = toWorker(row)
          // On this machine a vanished process is dead whatever its last heartbeat says.
          const alive = w.state === "alive" && w.heartbeatAt + w.leaseMs > now &&
            !(w.machine === machine && w.pid !== process.pid && !pidAlive(w.pid))
          const until = w.endedAt ?? (alive ? now : w.heartbeatAt)
          const seconds = (until - w.startedAt) / 1000
          return { ...w, alive, pagesPerSecond: seconds > 0 ? w.pages / seconds : 0 }
        })
    ))

const ago = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`
}

/** @internal */
export const format = (rows: ReadonlyArray<Workers.Status>, now: number): string => {
  if (rows.length === 0) return "workers    none registered"
  const alive = rows.filter((r) => r.alive).length
  const lines = [`workers    ${rows.length}: ${alive} alive, ${rows.length - alive} ended or dead`]
  const table = rows.map((r) => [
    r.id,
    `${r.host}/${r.pid}`,
    new Date(r.startedAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
    ago(now - r.heartbeatAt),
    String(r.pages),
    r.pagesPerSecond.toFixed(1),
    r.alive ? "alive" : r.state === "alive" ? `dead (last heartbeat ${ago(now - r.heartbeatAt)})` : r.state
  ])
  const head = ["worker", "host/pid", "started", "heartbeat", "pages", "pages/s", "state"]
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] ?? "").length)))
  const right = new Set([4, 5])
  const line = (cells: ReadonlyArray<string>) =>
    "  " + cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()
  lines.push(line(head))
  for (const t of table) lines.push(line(t))
  return lines.join("\n")
}
