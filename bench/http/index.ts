/**
 * HTTP client throughput: requests/s and latency percentiles at concurrency
 * 32 against a server in a separate process on loopback, for
 *
 * - raw undici `Agent.request` (the baseline),
 * - `@fiberkit/core` `Http` with limits and retries on (not triggered),
 * - plain `@effect/platform` `HttpClient` on undici,
 *
 * all with the same pool settings, measured in the same run, interleaved
 * over several rounds. Each round measures every client back to back; the
 * ratio reported is the median over rounds of (client / raw undici) within a
 * round, so a noisy moment on the machine affects both sides of a ratio.
 * When `taskset` exists, the server is pinned to the last CPU and the
 * clients to the first, so the two never compete for a core. Prints a table;
 * never fails.
 *
 *   tsx bench/http/index.ts [--requests 30000] [--concurrency 32] [--rounds 5]
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Http } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as ChildProcess from "node:child_process"
import * as OS from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Agent } from "undici"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "30000" },
    concurrency: { type: "string", default: "32" },
    rounds: { type: "string", default: "5" }
  }
})
const REQUESTS = Number(values.requests)
const CONCURRENCY = Number(values.concurrency)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = 64

const here = Path.dirname(fileURLToPath(import.meta.url))

const cpus = OS.availableParallelism()
const hasTaskset = cpus > 1 && ChildProcess.spawnSync("taskset", ["-p", String(process.pid)]).status === 0

const startServer = (): Promise<{ url: string; stop: () => void }> =>
  new Promise((resolve, reject) => {
    const node = [process.execPath, "--import", "tsx", Path.join(here, "server.ts")]
    const [command, ...args] = hasTaskset ? ["taskset", "-c", String(cpus - 1), ...node] : node
    const child = ChildProcess.spawn(command!, args, { stdio: ["ignore", "pipe", "inherit"] })
    child.once("error", reject)
    child.stdout.once("data", (data: Buffer) => {
      resolve({ url: `http://127.0.0.1:${data.toString().trim()}/`, stop: () => child.kill("SIGTERM") })
    })
  })

interface Result {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Client process CPU (user + system) per request, in microseconds. */
  readonly cpu: number
}

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

const summarise = (latencies: Float64Array, elapsedMs: number, cpu: NodeJS.CpuUsage): Result => {
  const sorted = latencies.slice().sort()
  return {
    rps: (latencies.length / elapsedMs) * 1000,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpu: (cpu.user + cpu.system) / latencies.length
  }
}

/** Runs `one` REQUESTS times from CONCURRENCY promise workers. */
const drivePromises = async (one: () => Promise<void>, n: number): Promise<Result> => {
  const latencies = new Float64Array(n)
  let next = 0
  const worker = async () => {
    while (true) {
      const i = next++
      if (i >= n) return
      const t = performance.now()
      await one()
      latencies[i] = performance.now() - t
    }
  }
  const started = performance.now()
  const cpu = process.cpuUsage()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return summarise(latencies, performance.now() - started, process.cpuUsage(cpu))
}

/** Runs `one` REQUESTS times from CONCURRENCY fibers. */
const driveEffect = <E>(one: Effect.Effect<unknown, E>, n: number): Effect.Effect<Result, E> =>
  Effect.suspend(() => {
    const latencies = new Float64Array(n)
    let next = 0
    const worker = Effect.gen(function*() {
      while (true) {
        const i = next++
        if (i >= n) return
        const t = performance.now()
        yield* one
        latencies[i] = performance.now() - t
      }
    })
    const started = performance.now()
    const cpu = process.cpuUsage()
    return Effect.all(Array.from({ length: CONCURRENCY }, () => worker), { concurrency: "unbounded", discard: true }).pipe(
      Effect.map(() => summarise(latencies, performance.now() - started, process.cpuUsage(cpu)))
    )
  })

const main = async () => {
  // Keep this process off the server's core.
  if (hasTaskset) ChildProcess.spawnSync("taskset", ["-p", "-c", `0-${Math.max(0, cpus - 2)}`, String(process.pid)])
  const server = await startServer()
  const target = new URL(server.url)

  const rawAgent = new Agent({ connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 4_000 })
  const raw = () =>
    rawAgent.request({ origin: target.origin, path: target.pathname, method: "GET" }).then((r) => r.body.arrayBuffer()).then(
      () => undefined
    )

  const httpRuntime = ManagedRuntime.make(Http.layerWith({
    // Limits and retries on, sized so that they never bind here.
    limits: { maxInFlight: 256, perHostMaxInFlight: CONNECTIONS, perHostPerSecond: 1_000_000, perHostBurst: 1000 },
    pool: { connectionsPerOrigin: CONNECTIONS, keepAliveTimeout: 4_000 },
    retry: { maxAttempts: 4 }
  }))
  const http = await httpRuntime.runPromise(Http.Http)
  const fiberkit = Effect.asVoid(http.get(server.url))

  const platformAgent = new Agent({ connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 4_000 })
  const platformRuntime = ManagedRuntime.make(
    NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, platformAgent)))
  )
  const client = await platformRuntime.runPromise(HttpClient.HttpClient)
  const platform = Effect.asVoid(Effect.flatMap(client.get(server.url), (r) => r.arrayBuffer))

  const subjects: Array<{ name: string; run: (n: number) => Promise<Result> }> = [
    { name: "raw undici request", run: (n) => drivePromises(raw, n) },
    { name: "@fiberkit/core Http", run: (n) => httpRuntime.runPromise(driveEffect(fiberkit, n)) },
    { name: "@effect/platform HttpClient (undici)", run: (n) => platformRuntime.runPromise(driveEffect(platform, n)) }
  ]

  // Warm up every path (JIT, connections) before measuring.
  for (const s of subjects) await s.run(Math.min(5000, REQUESTS))
  const rounds: Array<Map<string, Result>> = []
  for (let round = 0; round < ROUNDS; round++) {
    const results = new Map<string, Result>()
    for (const s of subjects) results.set(s.name, await s.run(REQUESTS))
    rounds.push(results)
  }
  const median = (xs: Array<number>): number => {
    const sorted = [...xs].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
  const pick = (name: string, f: (r: Result) => number) => median(rounds.map((r) => f(r.get(name)!)))
  const ratio = (name: string) => median(rounds.map((r) => r.get(name)!.rps / r.get("raw undici request")!.rps))

  console.log(
    `\nHTTP client, GET of a ${128}-byte body, ${REQUESTS} requests at concurrency ${CONCURRENCY}, server in its own process` +
      `${hasTaskset ? " on its own CPU" : ""} (medians of ${ROUNDS} rounds)\n`
  )
  console.log(
    `${"client".padEnd(40)}${"req/s".padStart(10)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}${"CPU µs/req".padStart(12)}${"ratio".padStart(9)}`
  )
  for (const s of subjects) {
    console.log(
      `${s.name.padEnd(40)}${pick(s.name, (r) => r.rps).toFixed(0).padStart(10)}${pick(s.name, (r) => r.p50).toFixed(2).padStart(10)}${
        pick(s.name, (r) => r.p99).toFixed(2).padStart(10)
      }${pick(s.name, (r) => r.cpu).toFixed(1).padStart(12)}${ratio(s.name).toFixed(2).padStart(8)}x`
    )
  }
  const perRound = rounds.map((r) => (r.get("@fiberkit/core Http")!.rps / r.get("raw undici request")!.rps).toFixed(2))
  console.log(`\nHttp / raw per round: ${perRound.join(" ")}`)
  console.log(`\ntarget: @fiberkit/core Http >= 0.80x raw undici`)

  await httpRuntime.dispose()
  await platformRuntime.dispose()
  await rawAgent.close()
  await platformAgent.close()
  server.stop()
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
