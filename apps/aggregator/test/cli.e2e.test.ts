/**
 * The aggregator as a separate process, the way users run it: `once`
 * prints the table and the sequential vs concurrent timings; `demo` serves
 * live aggregates from the simulated exchanges, stores them, and stops
 * cleanly on SIGINT; bad input exits 2 with one line on stderr naming the
 * field.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ChildProcess } from "@fiberkit/testkit"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = Path.join(root, "apps/aggregator/src/bin/aggregator.ts")

type Run = ChildProcess.Run

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Run =>
  ChildProcess.tsx(bin, args, { cwd: root, env: { DATABASE_URL: "", ...env } })

const wait = <A>(promise: Promise<A>) => Effect.promise(() => promise)

const until = (run: Run, pattern: RegExp, ms: number) =>
  Effect.promise(() =>
    new Promise<string>((resolve, reject) => {
      const started = Date.now()
      const poll = setInterval(() => {
        const match = pattern.exec(run.output().stdout)
        if (match !== null) {
          clearInterval(poll)
          resolve(match[1] ?? match[0])
        } else if (Date.now() - started > ms || run.child.exitCode !== null) {
          clearInterval(poll)
          reject(new Error(`no ${pattern} within ${ms} ms; stdout: ${run.output().stdout}; stderr: ${run.output().stderr}`))
        }
      }, 50)
    })
  )

describe("aggregator command line", () => {
  it.live("once: one row per symbol with every source, and the sequential vs concurrent timings", () =>
    Effect.gen(function*() {
      const run = start(["once", "--symbols", "BTCUSDT,ETHUSDT"])
      const { code } = yield* wait(run.done)
      const { stdout, stderr } = run.output()
      expect(stderr).toBe("")
      expect(code).toBe(0)
      expect(stdout).toMatch(/symbol\s+binance\s+coinbase\s+kraken\s+okx\s+bybit\s+bitstamp\s+median\s+sources/)
      expect(stdout).toMatch(/BTCUSDT\s+[\d,.]+/)
      expect(stdout).toMatch(/ETHUSDT\s+[\d,.]+/)
      const sequential = Number(/sequential\s+(\d+) ms/.exec(stdout)?.[1])
      const concurrent = Number(/concurrent\s+(\d+) ms/.exec(stdout)?.[1])
      // Six sources at 20-120 ms each: one after another costs several times one round.
      expect(sequential).toBeGreaterThan(concurrent * 1.5)

      const first = start(["once", "--first", "--symbols", "ETHUSDT"])
      expect((yield* wait(first.done)).code).toBe(0)
      expect(first.output().stdout).toMatch(/ETHUSDT\s+[\d,.]+\s+from (binance|coinbase|kraken|okx|bybit|bitstamp) in \d+ ms/)
    }), { timeout: 60_000 })

  it.live("demo: serves live aggregates, stores them, and stops on SIGINT", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agg-cli-"))
      const db = Path.join(dir, "agg.db")
      const run = start(["demo", "--port", "0", "--db", db, "--interval", "300ms", "--calm"])
      const url = yield* until(run, /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//, 30_000)
      yield* until(run, /BTCUSDT\s+[\d,.]+/, 15_000)
      const price = yield* Effect.promise(() => fetch(`${url}/api/prices/BTCUSDT`).then((r) => r.json() as Promise<unknown>))
      expect(price).toMatchObject({ symbol: "BTCUSDT", aggregate: { status: "ok" } })
      const health = yield* Effect.promise(() => fetch(`${url}/health`).then((r) => r.status))
      expect(health).toBe(200)
      run.child.kill("SIGINT")
      const { code, signal } = yield* wait(run.done)
      expect(signal === "SIGINT" || code === 0 || code === 130).toBe(true)
      expect(Fs.existsSync(db)).toBe(true)
      expect(Fs.statSync(db).size).toBeGreaterThan(0)
    }), { timeout: 60_000 })

  it.live("bad input: one line on stderr naming the field, exit code 2", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agg-cli-"))
      const file = Path.join(dir, "bad.yaml")
      Fs.writeFileSync(file, "quorum: -1\nsources:\n  - { type: json, id: x, pricePath: a }\n")
      const bad = start(["once", "--config", file])
      expect((yield* wait(bad.done)).code).toBe(2)
      const stderr = bad.output().stderr.trim()
      expect(stderr.split("\n")).toHaveLength(1)
      expect(stderr).toContain("quorum")
      expect(stderr).toContain("sources[0].urlTemplate")
      expect(stderr).not.toMatch(/\n\s+at /)

      const live = start(["serve", "--port", "0", "--db", Path.join(dir, "s.db")])
      expect((yield* wait(live.done)).code).toBe(2)
      expect(live.output().stderr).toContain("--live")

      const env = start(["once"], { AGGREGATOR_INTERVAL: "sometimes" })
      expect((yield* wait(env.done)).code).toBe(2)
      expect(env.output().stderr).toContain("interval")
      expect(env.output().stderr).toContain("environment")
    }), { timeout: 60_000 })
})
