/**
 * `apps/aggregator`: tick duration and API throughput.
 *
 * **Tick.** 50 symbols (real coins quoted in USDT, `market.ts`) × 5 demo
 * exchanges (Binance, Coinbase, Kraken, OKX, Bybit: `DemoExchanges` with no
 * random faults and a fixed 50 ms latency before every answer), served by a
 * separate process (`exchanges.ts`). The sources are the real
 * `Source.exchange` adapters with their request plans — Binance 3 requests
 * of 20 symbols, Kraken 1 of 50 pairs, OKX and Bybit 1 all-tickers request
 * each, Coinbase 1 per symbol (it has no multi-symbol endpoint) — and their
 * own `Http` client (at most 8 requests in flight per host, as in
 * production). Each source's rate limit is set to 100,000 requests/s with a
 * burst of 100,000 so that it never binds: with the documented limits
 * (Kraken 1/s, Coinbase 10/s burst 15, OKX 9/s burst 2) the runs would
 * measure politeness, not concurrency. Every round measures, back to back:
 *
 * - `concurrent`: one `Pipeline.collect` over all sources and their
 *   multi-symbol plans, sources concurrently (what a tick does);
 * - `sequential by source`: `Pipeline.collect` of one source after another;
 *   each of these is also that source's time alone, and the slowest of them
 *   is the round's `ideal` (a concurrent tick cannot beat its slowest source);
 * - `sequential naive` (the guides' form, fewer rounds: it takes ~250 × 50 ms):
 *   every (symbol, source) pair asked one request after another, single-symbol
 *   requests through the same sources.
 *
 * Figures are medians over rounds; ratios are the median of the per-round
 * ratios. Every pass must bring all 250 quotes (a shortfall is printed).
 *
 * **API.** The real aggregator server (`api-server.ts`: `Server.layer` over a
 * migrated SQLite `Store` holding 300 ticks of aggregates, `Live` with a new
 * tick published every second, `SourceHealth` with the five sources, the CLI's
 * logger) and a bare `node:http` server (`bare-server.ts`) answering
 * `GET /api/prices/BTCUSDT` with the very bytes and content type the real
 * server answered first. A third, informational row asks the aggregator
 * for the same route with a query string (`?via=httpapi`): `Server.layer`
 * answers the bare route for a live symbol from pre-encoded bytes before the
 * HttpApi stack sees it, and the query string sends it through that stack
 * (routing, schema decoding, middleware, tracing) like every other endpoint.
 * Each server runs in its own process; the load generator (autocannon 8,
 * in this process, `connections` 32, pipelining 1) never shares an event
 * loop with the server it measures. With `taskset`, servers are pinned to
 * the last CPU and this process (the tick's client and autocannon) to the
 * others, so generator and server never compete for a core. Each server
 * gets a warm-up run, then `--api-rounds` measured runs of `--duration` s
 * each, interleaved (A B C, then C B A, …). Printed: requests/s, p50/p99
 * latency (autocannon's resolution is 1 ms), server CPU per request (from
 * `/proc/<pid>/stat`: a figure independent of the generator's own limits and
 * steadier than requests/s on a shared machine) and the generator's CPU
 * (near 100 % means the generator, not the server, set the pace). Target:
 * the aggregator (bare route) ≥ 0.7× the bare server's requests/s.
 *
 *   tsx bench/aggregator/index.ts [--parts tick,api] [--latency 50] [--rounds 5] [--naive-rounds 3]
 *     [--connections 32] [--duration 10] [--warmup 3] [--api-rounds 3]
 */
import * as Exchanges from "@fiberkit/aggregator/Exchanges"
import * as Pipeline from "@fiberkit/aggregator/Pipeline"
import * as Source from "@fiberkit/aggregator/Source"
import * as SourceHealth from "@fiberkit/aggregator/SourceHealth"
import autocannon from "autocannon"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Market from "./market.js"

const { values } = parseArgs({
  options: {
    parts: { type: "string", default: "tick,api" },
    latency: { type: "string", default: "50" },
    rounds: { type: "string", default: "5" },
    "naive-rounds": { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    "api-rounds": { type: "string", default: "3" }
  }
})
const PARTS = new Set(values.parts.split(",").map((s) => s.trim()))
const LATENCY_MS = Number(values.latency)
const ROUNDS = Number(values.rounds)
const NAIVE_ROUNDS = Number(values["naive-rounds"])
const CONNECTIONS = Number(values.connections)
const DURATION_S = Number(values.duration)
const WARMUP_S = Number(values.warmup)
const API_ROUNDS = Number(values["api-rounds"])

/** High enough never to bind (see the header). */
const NOT_BINDING = { perSecond: 100_000, burst: 100_000 }
/** No tick deadline cuts a pass short: the bench measures how long the fetches take. */
const DEADLINE_MS = 120_000

const here = Path.dirname(fileURLToPath(import.meta.url))
const root = Path.resolve(here, "../..")

const cpus = Os.availableParallelism()
const hasTaskset = cpus > 1 && ChildProcess.spawnSync("taskset", ["-p", String(process.pid)]).status === 0
const serverCpu = String(cpus - 1)
const clientCpus = cpus > 2 ? `0-${cpus - 2}` : "0"
const pinned = (cpuList: string, command: ReadonlyArray<string>): Array<string> =>
  hasTaskset ? ["taskset", "-c", cpuList, ...command] : [...command]

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? sorted[mid] ?? Number.NaN : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
const pad = (s: string, n: number): string => s.padStart(n)
const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : "-")
/** autocannon records latencies in whole milliseconds: 0 means under 1 ms. */
const latency = (ms: number): string => (Number.isFinite(ms) && ms < 1 ? "<1" : fixed(ms, 1))

interface Child {
  readonly pid: number
  /** The first line the child printed on stdout. */
  readonly line: string
  readonly stop: () => Promise<void>
}

/** Starts `node --import tsx <script> …args` pinned to the server CPU and waits for its first stdout line. */
const startChild = (script: string, args: ReadonlyArray<string>): Promise<Child> =>
  new Promise((resolve, reject) => {
    const [command, ...rest] = pinned(serverCpu, [process.execPath, "--import", "tsx", Path.join(here, script), ...args])
    const child = ChildProcess.spawn(command ?? process.execPath, rest, { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    let out = ""
    let started = false
    child.once("error", reject)
    child.once("exit", (code, signal) => {
      if (!started) reject(new Error(`${script} exited with ${code ?? signal} before it was ready: ${out}`))
    })
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const newline = out.indexOf("\n")
      if (newline < 0) return
      started = true
      child.stdout.off("data", onData)
      const pid = child.pid
      if (pid === undefined) return reject(new Error(`${script} has no pid`))
      resolve({
        pid,
        line: out.slice(0, newline).trim(),
        stop: () => {
          if (child.exitCode !== null || child.signalCode !== null) return exited
          child.kill("SIGTERM")
          const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
          return exited.then(() => clearTimeout(timer))
        }
      })
    }
    child.stdout.on("data", onData)
  })

const clockTicks = Number(ChildProcess.spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100

/** User + system CPU seconds of a process so far (Linux), or NaN. */
const processCpuSeconds = (pid: number): number => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may contain spaces) start at state (field 3); utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch {
    return Number.NaN
  }
}

// ---------------------------------------------------------------------------
// Tick
// ---------------------------------------------------------------------------

interface TickRound {
  readonly concurrent: number
  readonly alone: ReadonlyMap<string, number>
  readonly bySource: number
  readonly naive: number | undefined
}

const now = Effect.sync(() => performance.now())

const timed = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<readonly [number, A], E, R> =>
  Effect.flatMap(now, (start) => Effect.flatMap(self, (a) => Effect.map(now, (end) => [end - start, a] as const)))

const quotes = (observations: ReadonlyArray<{ readonly _tag: string }>): number =>
  observations.filter((o) => o._tag === "Quote").length

const runTick = async (): Promise<void> => {
  const exchanges = await startChild("exchanges.ts", ["--latency", String(LATENCY_MS)])
  try {
    const urls = JSON.parse(exchanges.line) as Record<string, string>
    const expected = Market.symbols.length * Market.sources.length
    const shortfalls: Array<string> = []
    const check = (what: string, observations: ReadonlyArray<{ readonly _tag: string }>) => {
      const got = quotes(observations)
      if (got !== expected) shortfalls.push(`${what}: ${got} quotes of ${expected}`)
    }

    const program = Effect.gen(function*() {
      const sources: Array<{ readonly source: Source.Source; readonly adapter: Exchanges.Adapter }> = []
      for (const id of Market.sources) {
        const adapter = Exchanges.byId(id)
        const baseUrl = urls[id]
        if (adapter === undefined || baseUrl === undefined) return yield* Effect.die(new Error(`no adapter or demo exchange for ${id}`))
        const source = yield* Source.exchange(adapter, { baseUrl, rate: NOT_BINDING })
        sources.push({ source, adapter })
      }
      const plans = sources.map(({ source }) => ({ source, symbols: Market.symbols }))
      const naive = Effect.forEach(
        plans,
        ({ source, symbols }) =>
          Effect.forEach(symbols, (symbol) => Pipeline.collect([{ source, symbols: [symbol] }], DEADLINE_MS), {
            concurrency: 1
          }),
        { concurrency: 1 }
      ).pipe(Effect.map((lists) => lists.flat(2)))

      // Warm-up: connections opened, code paths compiled, single-symbol endpoints touched; not measured.
      yield* Pipeline.collect(plans, DEADLINE_MS)
      for (const plan of plans) yield* Pipeline.collect([{ source: plan.source, symbols: Market.symbols.slice(0, 2) }], DEADLINE_MS)

      const rounds: Array<TickRound> = []
      for (let round = 0; round < ROUNDS; round++) {
        process.stdout.write(`  tick round ${round + 1}/${ROUNDS} … `)
        const [concurrent, all] = yield* timed(Pipeline.collect(plans, DEADLINE_MS))
        check(`round ${round + 1} concurrent`, all)
        const alone = new Map<string, number>()
        const gathered: Array<{ readonly _tag: string }> = []
        for (const plan of plans) {
          const [ms, observations] = yield* timed(Pipeline.collect([plan], DEADLINE_MS))
          alone.set(plan.source.id, ms)
          gathered.push(...observations)
        }
        check(`round ${round + 1} sequential by source`, gathered)
        const bySource = [...alone.values()].reduce((a, b) => a + b, 0)
        let naiveMs: number | undefined
        if (round < NAIVE_ROUNDS) {
          const [ms, observations] = yield* timed(naive)
          check(`round ${round + 1} sequential naive`, observations)
          naiveMs = ms
        }
        process.stdout.write(
          `concurrent ${concurrent.toFixed(0)} ms, by source ${bySource.toFixed(0)} ms${
            naiveMs === undefined ? "" : `, naive ${naiveMs.toFixed(0)} ms`
          }\n`
        )
        rounds.push({ concurrent, alone, bySource, naive: naiveMs })
      }
      return { rounds, sources }
    })

    const { rounds, sources } = await Effect.runPromise(
      Effect.scoped(program).pipe(Effect.provide(SourceHealth.layer()))
    )
    printTick(rounds, sources.map((s) => ({ id: s.source.id, requests: s.adapter.requests(Market.symbols).length })))
    for (const s of shortfalls) console.log(`  WARNING: ${s}`)
  } finally {
    await exchanges.stop()
  }
}

const printTick = (
  rounds: ReadonlyArray<TickRound>,
  sources: ReadonlyArray<{ readonly id: string; readonly requests: number }>
): void => {
  const ideal = (r: TickRound) => Math.max(...r.alone.values())
  const slowest = (r: TickRound) => [...r.alone.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0]
  const naiveRounds = rounds.filter((r) => r.naive !== undefined)
  const requestsPerTick = sources.reduce((n, s) => n + s.requests, 0)
  const pairs = Market.symbols.length * sources.length
  const row = (label: string, xs: ReadonlyArray<number>, requests: string, n: number) =>
    console.log(
      `${label.padEnd(52)}${pad(fixed(median(xs), 0), 10)}${pad(fixed(Math.min(...xs), 0), 8)}${pad(fixed(Math.max(...xs), 0), 8)}${
        pad(requests, 10)
      }${pad(String(n), 8)}`
    )
  console.log(
    `\nTick: ${Market.symbols.length} symbols × ${sources.length} sources (${sources.map((s) => s.id).join(", ")}), ` +
      `demo exchanges in their own process${hasTaskset ? ` on CPU ${serverCpu}` : ""} at ${LATENCY_MS} ms latency, ` +
      `no faults, source rate limits ${NOT_BINDING.perSecond.toLocaleString("en-US")}/s (not binding)\n`
  )
  console.log(`${"mode".padEnd(52)}${pad("median ms", 10)}${pad("min", 8)}${pad("max", 8)}${pad("requests", 10)}${pad("rounds", 8)}`)
  row("concurrent (Pipeline.collect, all sources at once)", rounds.map((r) => r.concurrent), String(requestsPerTick), rounds.length)
  const middle = rounds[Math.floor(rounds.length / 2)]
  row(
    `ideal (slowest source alone${middle === undefined ? "" : `: ${slowest(middle)}`})`,
    rounds.map(ideal),
    "",
    rounds.length
  )
  row("sequential by source (one source after another)", rounds.map((r) => r.bySource), String(requestsPerTick), rounds.length)
  if (naiveRounds.length > 0) {
    row(
      "sequential naive (each symbol × source in turn)",
      naiveRounds.map((r) => r.naive ?? Number.NaN),
      String(pairs),
      naiveRounds.length
    )
  }
  console.log(
    `\n  each source alone, median ms (requests per tick): ${
      sources.map((s) => `${s.id} ${fixed(median(rounds.map((r) => r.alone.get(s.id) ?? Number.NaN)), 0)} (${s.requests})`).join(", ")
    }`
  )
  const ratio = (xs: ReadonlyArray<number>) => `${fixed(median(xs), 2)}x`
  console.log(
    `  concurrent / ideal: ${ratio(rounds.map((r) => r.concurrent / ideal(r)))}; ` +
      `sequential by source / concurrent: ${ratio(rounds.map((r) => r.bySource / r.concurrent))}` +
      (naiveRounds.length > 0
        ? `; sequential naive / concurrent: ${ratio(naiveRounds.map((r) => (r.naive ?? Number.NaN) / r.concurrent))}`
        : "")
  )
}

// ---------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------

interface Target {
  readonly name: string
  readonly url: string
  readonly pid: number
}

interface LoadResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Server CPU per completed request, µs. */
  readonly serverCpuUs: number
  /** The generator's (this process's) CPU over the run, % of one core. */
  readonly clientCpu: number
  readonly failed: number
}

const load = async (target: Target, seconds: number): Promise<LoadResult> => {
  const serverBefore = processCpuSeconds(target.pid)
  const clientBefore = process.cpuUsage()
  const started = performance.now()
  const result = await autocannon({ url: target.url, connections: CONNECTIONS, pipelining: 1, duration: seconds })
  const wallS = (performance.now() - started) / 1000
  const client = process.cpuUsage(clientBefore)
  const serverS = processCpuSeconds(target.pid) - serverBefore
  const completed = result.requests.total
  return {
    rps: completed / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpuUs: (serverS / Math.max(1, completed)) * 1e6,
    clientCpu: ((client.user + client.system) / 1e6 / wallS) * 100,
    failed: result.errors + result.timeouts + result.non2xx
  }
}

const runApi = async (): Promise<void> => {
  const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "aggregator-bench-"))
  const children: Array<Child> = []
  try {
    const aggregator = await startChild("api-server.ts", [])
    children.push(aggregator)
    const aggregatorUrl = `http://127.0.0.1:${aggregator.line}/api/prices/BTCUSDT`
    const first = await fetch(aggregatorUrl)
    const body = await first.text()
    if (first.status !== 200) throw new Error(`GET ${aggregatorUrl} answered ${first.status}: ${body}`)
    const contentType = first.headers.get("content-type") ?? "application/json"
    const bodyFile = Path.join(tmp, "body.json")
    Fs.writeFileSync(bodyFile, body)
    const bare = await startChild("bare-server.ts", ["--body", bodyFile, "--content-type", contentType])
    children.push(bare)
    const bareUrl = `http://127.0.0.1:${bare.line}/api/prices/BTCUSDT`
    const check = await fetch(bareUrl)
    if ((await check.text()) !== body) throw new Error("the bare server does not answer the aggregator's body")

    // The same route with a query string: Server.layer's pre-encoded fast path takes only the bare path, so this
    // goes through routing, decoding, middleware and tracing — what every other endpoint costs. Shown, not a target.
    const slowUrl = `${aggregatorUrl}?via=httpapi`
    const slow = await fetch(slowUrl)
    const slowBody = await slow.text()
    const sameShape = (a: string, b: string) => a.replace(/"ageMs":\d+\}$/, "") === b.replace(/"ageMs":\d+\}$/, "")
    const targets: Array<Target> = [
      { name: "aggregator (Server.layer)", url: aggregatorUrl, pid: aggregator.pid },
      { name: "bare node:http, same body", url: bareUrl, pid: bare.pid }
    ]
    if (slow.status === 200 && sameShape(slowBody, body)) {
      targets.push({ name: "aggregator, HttpApi path (?via=httpapi)", url: slowUrl, pid: aggregator.pid })
    } else {
      console.log(`  (HttpApi-path row skipped: GET ${slowUrl} answered ${slow.status} with a different body)`)
    }
    for (const t of targets) {
      process.stdout.write(`  warm-up ${t.name} (${WARMUP_S} s) … `)
      const r = await load(t, WARMUP_S)
      process.stdout.write(`${r.rps.toFixed(0)} req/s\n`)
    }
    const rounds: Array<Map<string, LoadResult>> = []
    for (let round = 0; round < API_ROUNDS; round++) {
      const results = new Map<string, LoadResult>()
      const order = round % 2 === 0 ? targets : [...targets].reverse()
      for (const t of order) {
        process.stdout.write(`  round ${round + 1}/${API_ROUNDS} ${t.name} (${DURATION_S} s) … `)
        const r = await load(t, DURATION_S)
        process.stdout.write(`${r.rps.toFixed(0)} req/s\n`)
        results.set(t.name, r)
      }
      rounds.push(results)
    }

    const [agg, base] = targets
    if (agg === undefined || base === undefined) return
    const pick = (name: string, f: (r: LoadResult) => number) =>
      median(rounds.map((r) => {
        const x = r.get(name)
        return x === undefined ? Number.NaN : f(x)
      }))
    const ratios = rounds.map((r) => (r.get(agg.name)?.rps ?? Number.NaN) / (r.get(base.name)?.rps ?? Number.NaN))
    console.log(
      `\nAPI: GET /api/prices/BTCUSDT (${Buffer.byteLength(body)}-byte JSON), autocannon ${CONNECTIONS} connections, ` +
        `${DURATION_S} s per run, ${API_ROUNDS} interleaved runs each after a ${WARMUP_S} s warm-up; ` +
        `each server in its own process${hasTaskset ? ` on CPU ${serverCpu}, autocannon on CPU ${clientCpus}` : ""} (medians)\n`
    )
    console.log(
      `${"server".padEnd(42)}${pad("req/s", 9)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("CPU µs/req", 12)}${
        pad("gen CPU", 9)
      }${pad("failed", 8)}${pad("ratio", 8)}`
    )
    const ratioTo = (name: string) =>
      median(rounds.map((r) => (r.get(name)?.rps ?? Number.NaN) / (r.get(base.name)?.rps ?? Number.NaN)))
    for (const t of targets) {
      const ratio = `${fixed(ratioTo(t.name), 2)}x`
      console.log(
        `${t.name.padEnd(42)}${pad(fixed(pick(t.name, (r) => r.rps), 0), 9)}${pad(latency(pick(t.name, (r) => r.p50)), 9)}${
          pad(latency(pick(t.name, (r) => r.p99)), 9)
        }${pad(fixed(pick(t.name, (r) => r.serverCpuUs), 1), 12)}${pad(`${fixed(pick(t.name, (r) => r.clientCpu), 0)}%`, 9)}${
          pad(fixed(pick(t.name, (r) => r.failed), 0), 8)
        }${pad(ratio, 8)}`
      )
    }
    const cpuRatio = pick(base.name, (r) => r.serverCpuUs) / pick(agg.name, (r) => r.serverCpuUs)
    console.log(
      `\n  per run, aggregator / bare req/s: ${ratios.map((r) => fixed(r, 2)).join(" ")}; ` +
        `bare / aggregator server CPU per request: ${fixed(cpuRatio, 2)}x`
    )
    const q = median(ratios)
    console.log(`  target: aggregator >= 0.70x bare node:http req/s: ${fixed(q, 2)}x ${q >= 0.7 ? "met" : "NOT met"}`)
  } finally {
    for (const child of children.reverse()) await child.stop()
    Fs.rmSync(tmp, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const main = async () => {
  if (hasTaskset) ChildProcess.spawnSync("taskset", ["-a", "-p", "-c", clientCpus, String(process.pid)])
  if (PARTS.has("tick")) await runTick()
  if (PARTS.has("api")) await runApi()
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
