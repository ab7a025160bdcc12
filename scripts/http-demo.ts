/**
 * The HTTP layer at work against local test servers (loopback only), part of
 * `npm start`; run alone with `npx tsx scripts/http-demo.ts`:
 * hundreds of concurrent fetches over four "hosts" with per-host limits, a
 * flaky host that answers 503 before succeeding, a rate-limited host that
 * answers 429 with Retry-After, and a host that stalls, then a summary table
 * built from what the servers themselves observed.
 */
import { Http, HttpError } from "@fiberkit/core"
import { Faults, TestServer } from "@fiberkit/testkit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const REQUESTS_PER_HOST = 120
const PER_HOST = 4

interface Host {
  readonly name: string
  readonly behaviour: string
  readonly server: TestServer.TestServer["Type"]
}

const flakyFailures = new Map<number, number>()

/** The demo itself (scoped: the local servers close with the scope). */
export const program = Effect.gen(function*() {
  const hosts: Array<Host> = [
    {
      name: "steady",
      behaviour: "5-25 ms latency",
      server: yield* TestServer.make({
        routes: [Faults.get("/item/*", (req) => Faults.latency({ min: 5, max: 25 }, Faults.json({ item: req.pathname })))]
      })
    },
    {
      name: "flaky",
      behaviour: "every 3rd request: 503, 503, then 200",
      server: yield* TestServer.make({
        routes: [
          Faults.get("/item/*", (req) => {
            // The first two attempts at every third item fail.
            const id = Number(req.pathname.split("/").pop())
            const failures = flakyFailures.get(id) ?? 0
            if (id % 3 === 0 && failures < 2) {
              flakyFailures.set(id, failures + 1)
              return Faults.status(503, "try again")
            }
            return Faults.latency(10, Faults.json({ item: req.pathname }))
          })
        ]
      })
    },
    {
      name: "limited",
      behaviour: "429 + Retry-After: 1 on every 20th request",
      server: yield* TestServer.make({
        routes: [
          Faults.get("/item/*", (req) =>
            req.hit % 20 === 0
              ? Faults.tooManyRequests({ seconds: 1 })
              : Faults.latency(5, Faults.json({ item: req.pathname })))
        ]
      })
    },
    {
      name: "stalling",
      behaviour: "every 10th request stalls past the 300 ms header timeout",
      server: yield* TestServer.make({
        routes: [
          Faults.get("/item/*", (req) =>
            req.hit % 10 === 0 ? Faults.stallBeforeHeaders : Faults.latency(5, Faults.json({ item: req.pathname })))
        ]
      })
    }
  ]

  const http = yield* Http.make({
    limits: { maxInFlight: 12, perHostMaxInFlight: PER_HOST, perHostPerSecond: 200, perHostBurst: 4 },
    timeouts: { headers: "300 millis", total: "10 seconds" },
    retry: { baseDelay: "50 millis", maxDelay: "1 second", maxAttempts: 4 }
  })

  const jobs = hosts.flatMap((host) =>
    Array.from({ length: REQUESTS_PER_HOST }, (_, i) => ({ host, url: host.server.urlFor(`/item/${i + 1}`) }))
  )
  // Interleave hosts so that the limits, not the order, decide who runs.
  jobs.sort((a, b) => Number(a.url.split("/").pop()) - Number(b.url.split("/").pop()))

  console.log(`fiberkit demo: ${jobs.length} GETs over ${hosts.length} local hosts, at most ${PER_HOST} in flight per host, 12 overall\n`)
  const started = Date.now()
  const results = yield* Http.settle(
    jobs.map((job) =>
      Effect.map(Effect.timed(http.get(job.url)), ([duration, response]) => ({ job, duration, response }))
    ),
    { concurrency: "unbounded" }
  )
  const elapsed = Date.now() - started

  const rows = []
  for (const host of hosts) {
    const mine = results.filter((_, i) => jobs[i]?.host === host)
    const ok = mine.filter(Either.isRight)
    const failed = mine.filter(Either.isLeft)
    const stats = yield* host.server.stats
    const log = yield* host.server.requests
    const latencies = ok.map((r) => Duration.toMillis(r.right.duration)).sort((a, b) => a - b)
    const p = (q: number) => latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
    const kinds = new Map<string, number>()
    for (const f of failed) {
      const e = f.left
      const kind = HttpError.isHttpError(e) ? (e._tag === "TimeoutError" ? `timeout/${e.phase}` : e._tag) : "other"
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    rows.push({
      host: host.name,
      behaviour: host.behaviour,
      ok: ok.length,
      failed: [...kinds].map(([k, n]) => `${n} ${k}`).join(", ") || "0",
      attempts: log.length,
      maxInFlight: stats.maxInFlight,
      retryAfter: retryAfterGap(log),
      p50: p(0.5),
      p99: p(0.99)
    })
  }

  const header = ["host", "ok", "failed", "server saw", "max in-flight", "Retry-After gap", "p50 ms", "p99 ms"]
  const table = rows.map((r) => [
    r.host,
    String(r.ok),
    r.failed,
    `${r.attempts} requests`,
    `${r.maxInFlight} (limit ${PER_HOST})`,
    r.retryAfter,
    r.p50.toFixed(0),
    r.p99.toFixed(0)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")
  console.log(line(header))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const row of table) console.log(line(row))
  console.log("")
  for (const r of rows) console.log(`  ${r.host.padEnd(9)} ${r.behaviour}`)
  console.log(`\n${jobs.length} calls in ${(elapsed / 1000).toFixed(1)} s. "server saw" counts every attempt, retries included;`)
  console.log(`"Retry-After gap" is the shortest wait the server observed between a 429 and the next request;`)
  console.log(`latencies are per call, including time queued behind the limits.`)
})

/** The shortest time between a 429 response and the next request the server saw. */
const retryAfterGap = (log: ReadonlyArray<TestServer.RequestRecord>): string => {
  let shortest = Number.POSITIVE_INFINITY
  for (const r of log) {
    if (r.status !== 429 || r.completedAt === undefined) continue
    const next = log.find((n) => n.path === r.path && n.arrivedAt > (r.completedAt ?? 0))
    if (next !== undefined) shortest = Math.min(shortest, next.arrivedAt - r.completedAt)
  }
  return Number.isFinite(shortest) ? `${(shortest / 1000).toFixed(2)} s (asked 1 s)` : "-"
}

// Run alone (`npx tsx scripts/http-demo.ts`), not when imported by `demo.ts`.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === Path.resolve(process.argv[1])) {
  Effect.runPromise(Effect.scoped(program)).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
