/**
 * Shared pieces of the reliability suite (`test/*.test.ts`): an in-process
 * crawl on a fresh database of either dialect, the documents a set of
 * records stands for, a seeded PRNG and hash, and a route wrapper that
 * injects faults at fixed rates, deterministically per URL and attempt.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Db } from "@fiberkit/core"
import { Crawler, Frontier, type Options, type Page, Store } from "@fiberkit/crawler"
import { Faults, type Route, SeededRandom } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Harness } from "../apps/crawler/test/dbHarness.js"

export { forEachDialect, type Harness } from "../apps/crawler/test/dbHarness.js"

/**
 * A SQLite harness for tests whose subject is not the database: a fresh
 * file per call under one temp directory, removed when the process exits.
 */
export const sqlite: Harness = (() => {
  let dir: string | undefined
  let n = 0
  return {
    dialect: "sqlite",
    fresh: Effect.sync(() => {
      if (dir === undefined) {
        const made = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-reliability-"))
        process.once("exit", () => Fs.rmSync(made, { recursive: true, force: true }))
        dir = made
      }
      return { app: "crawl", poolMetricsInterval: 0, filename: Path.join(dir, `t${++n}.db`) }
    }),
    serial: "INTEGER PRIMARY KEY"
  }
})()

/** The layers a crawl needs, on the database `input`. */
export const crawlLayer = (input: Db.Input) =>
  Frontier.layer.pipe(Layer.provideMerge(Db.layerWith(input)), Layer.provideMerge(NodeContext.layer))

/** Every stored record, in commit order. */
export const storedRecords = Effect.map(Stream.runCollect(Store.records()), Chunk.toReadonlyArray)

/**
 * Crawls `seeds` in process on a fresh database of `h`'s dialect (no
 * progress display, robots on) and returns the summary and every stored record.
 */
export const crawlFresh = <A = never, E = never, R = never>(
  h: Harness,
  options: Partial<Options.Options>,
  run: Crawler.RunOptions<A, E, R> = {}
) =>
  Effect.gen(function*() {
    const input = yield* h.fresh
    return yield* Effect.gen(function*() {
      const summary = yield* Crawler.crawl({ concurrency: 8, perHost: 4, progress: false, timeoutMs: 2_000, ...options }, run)
      const records = yield* storedRecords
      return { summary, records, input }
    }).pipe(Effect.provide(crawlLayer(input)))
  })

/** The documents a set of records stands for: a page is known by its canonical link, else its final URL. */
export const documents = (records: ReadonlyArray<Page.PageRecord>, origin: string): Array<string> =>
  Array.from(
    new Set(
      records
        .filter((r) => r.status === 200 && r.error_kind === null)
        .map((r) => (r.canonical ?? r.final_url ?? r.url).slice(origin.length))
    )
  ).sort()

/** A 32-bit hash of a string (FNV-1a, mixed): one independent draw per (seed, path, attempt). */
export const hash32 = SeededRandom.hashString

/** mulberry32: a small seeded PRNG giving numbers in [0, 1). */
export const prng = SeededRandom.generator

/** A fault the chaos wrapper injects into one attempt. */
export type Chaos = "503" | "reset" | "429" | "stall"

/** Fault rates, as fractions of attempts. */
export interface ChaosRates {
  readonly unavailable: number
  readonly reset: number
  readonly tooMany: number
  readonly stall: number
}

/**
 * The fault attempt `attempt` (1-based) of `path` gets, or `undefined` for
 * the real answer: a pure function of seed, path and attempt, so a test can
 * predict every URL's fate.
 */
export const chaosFor = (seed: number, rates: ChaosRates, path: string, attempt: number): Chaos | undefined => {
  const u = hash32(`${seed}|${path}|${attempt}`) / 4294967296
  let edge = rates.unavailable
  if (u < edge) return "503"
  if (u < (edge += rates.reset)) return "reset"
  if (u < (edge += rates.tooMany)) return "429"
  if (u < (edge += rates.stall)) return "stall"
  return undefined
}

/**
 * Wraps a handler so that each request gets `chaosFor(seed, rates, path,
 * attempt)` — attempt counted per path and query — or the real answer.
 * 429s carry `Retry-After: retryAfterSeconds`; stalls never answer.
 * Paths for which `exempt` holds are never faulted.
 */
export const chaotic = (
  handle: (request: Route.IncomingRequest) => Route.Reply,
  options: {
    readonly seed: number
    readonly rates: ChaosRates
    readonly retryAfterSeconds: number
    readonly exempt?: (path: string) => boolean
  }
): ((request: Route.IncomingRequest) => Route.Reply) => {
  const attempts = new Map<string, number>()
  return (request) => {
    if (options.exempt?.(request.path) === true) return handle(request)
    const attempt = (attempts.get(request.path) ?? 0) + 1
    attempts.set(request.path, attempt)
    switch (chaosFor(options.seed, options.rates, request.path, attempt)) {
      case "503":
        return Faults.unavailable()
      case "reset":
        return Faults.resetBeforeHeaders
      case "429":
        return Faults.tooManyRequests({ seconds: options.retryAfterSeconds })
      case "stall":
        return Faults.stallBeforeHeaders
      case undefined:
        return handle(request)
    }
  }
}
