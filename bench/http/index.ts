/**
 * HTTP client throughput: requests/s and latency percentiles at concurrency
 * 32 against a server in a separate process on loopback, for
 *
 * - raw undici `Agent.request` (the baseline),
 * - `@fiberkit/core` `Http` with limits and retries on (not triggered),
 * - plain `@effect/platform` `HttpClient` on undici,
 *
 * all with the same pool settings, measured in the same run, interleaved
 * over several rounds (the best round of each counts, which filters out
 * noise from the rest of the machine). Prints a table and the ratios to the
 * baseline; never fails.
 *
 *   tsx bench/http/index.ts [--requests 40000] [--concurrency 32] [--rounds 3]
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Http } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Agent } from "undici"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "40000" },
    concurrency: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" }
  }
})
const REQUESTS = Number(values.requests)
const CONCURRENCY = Number(values.concurrency)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = 64

const here = Path.dirname(fileURLToPath(import.meta.url))

const startServer = (): Promise<{ url: string; stop: () => void }> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", Path.join(here, "server.ts")], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.once("error", reject)
    child.stdout.once("data", (data: Buffer) => {
      resolve({ url: `http://127.0.0.1:${data.toString().trim()}/`, stop: () => child.kill("SIGTERM") })
    })
  })

interface Result {
  readonly rps: number
  readonly p50: number
  readonly p99: number
}

const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

const summarise = (latencies: Float64Array, elapsedMs: number): Result => {
  const sorted = latencies.slice().sort()
  return { rps: (latencies.length / elapsedMs) * 1000, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
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
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return summarise(latencies, performance.now() - started)
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
    return Effect.as(
      Effect.all(Array.from({ length: CONCURRENCY }, () => worker), { concurrency: "unbounded", discard: true }),
      undefined
    ).pipe(Effect.map(() => summarise(latencies, performance.now() - started)))
  })

const main = async () => {
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
  const best = new Map<string, Result>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of subjects) {
      const r = await s.run(REQUESTS)
      const prev = best.get(s.name)
      if (prev === undefined || r.rps > prev.rps) best.set(s.name, r)
    }
  }

  const base = best.get("raw undici request")!.rps
  console.log(`\nHTTP client, GET of a ${128}-byte body, ${REQUESTS} requests at concurrency ${CONCURRENCY}, server in its own process (best of ${ROUNDS} rounds)\n`)
  console.log(`${"client".padEnd(40)}${"req/s".padStart(10)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}${"ratio".padStart(9)}`)
  for (const s of subjects) {
    const r = best.get(s.name)!
    console.log(
      `${s.name.padEnd(40)}${r.rps.toFixed(0).padStart(10)}${r.p50.toFixed(2).padStart(10)}${r.p99.toFixed(2).padStart(10)}${(r.rps / base).toFixed(2).padStart(8)}x`
    )
  }
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
