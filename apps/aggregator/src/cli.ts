/**
 * The `aggregator` command line:
 *
 * - `demo`: embedded simulated exchanges on loopback (offline), polled,
 *   aggregated, stored and served (dashboard at `/`, API at `/api`, docs at
 *   `/docs`) until Ctrl-C.
 * - `serve`: the same against the configured sources; exchange sources
 *   without a `baseUrl` need `--live` to reach the real public APIs.
 * - `once --symbols BTCUSDT,ETHUSDT`: one round of quotes printed as a
 *   table, with the time it takes one request after another vs all at once.
 *
 * Settings come from `--config <file.json|yaml>`, then the environment
 * (`AGGREGATOR_*`, `DATABASE_URL`), then the flags. Exit codes: `0` done,
 * `2` bad input (one line on stderr naming the field), `1` unexpected.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as CliOptions from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Logging } from "@fiberkit/core"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Aggregate from "./Aggregate.js"
import * as App from "./App.js"
import * as Config from "./Config.js"
import * as DemoExchanges from "./DemoExchanges.js"
import type { Aggregate as AggregateRecord, Observation } from "./Model.js"
import * as Pipeline from "./Pipeline.js"
import * as SourceHealth from "./SourceHealth.js"

/**
 * A user error: printed as one line, exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------
// flags
// ---------------------------------------------------------------------------

const configFile = CliOptions.file("config").pipe(
  CliOptions.withDescription("A JSON or YAML configuration file (see the README). Default: none (built-in defaults)."),
  CliOptions.optional
)
const symbols = CliOptions.text("symbols").pipe(
  CliOptions.withDescription("Comma-separated canonical symbols, e.g. BTCUSDT,ETHUSDT. Default: BTCUSDT,ETHUSDT,SOLUSDT."),
  CliOptions.optional
)
const db = CliOptions.text("db").pipe(
  CliOptions.withDescription("SQLite file or postgres:// URL. Default: $DATABASE_URL, else ./data/aggregator.db."),
  CliOptions.optional
)
const interval = CliOptions.text("interval").pipe(
  CliOptions.withDescription("Time between ticks: 500ms, 2s, 1m, or milliseconds. Default: 1s."),
  CliOptions.optional
)
const quorum = CliOptions.integer("quorum").pipe(
  CliOptions.withDescription("Fewest sources for an aggregate. Default: 3."),
  CliOptions.optional
)
const port = CliOptions.integer("port").pipe(
  CliOptions.withDescription("HTTP port (0: any free port). Default: 8080."),
  CliOptions.optional
)
const host = CliOptions.text("host").pipe(
  CliOptions.withDescription("HTTP interface. Default: 127.0.0.1 (this machine only)."),
  CliOptions.optional
)
const live = CliOptions.boolean("live").pipe(
  CliOptions.withDescription(
    "Send exchange sources without a baseUrl to the exchanges' real public APIs. Default: off (serve refuses them; once uses the simulated exchanges)."
  )
)
const seed = CliOptions.integer("seed").pipe(
  CliOptions.withDescription("Seed of the simulated exchanges' prices and faults. Default: 1."),
  CliOptions.withDefault(1)
)
const first = CliOptions.boolean("first").pipe(
  CliOptions.withDescription("Ask every source at once and keep the first valid quote per symbol (the others are cancelled). Default: off.")
)
const calm = CliOptions.boolean("calm").pipe(
  CliOptions.withDescription("Simulated exchanges without random faults (no 5xx, 429, stalls or stale quotes). Default: off.")
)

interface CommonFlags {
  readonly config: Option.Option<string>
  readonly symbols: Option.Option<string>
  readonly db: Option.Option<string>
  readonly interval: Option.Option<string>
  readonly quorum: Option.Option<number>
  readonly port?: Option.Option<number>
  readonly host?: Option.Option<string>
}

const loadConfig = (flags: CommonFlags): Effect.Effect<Config.AppConfig, UsageError, FileSystem.FileSystem> => {
  const raw: Record<string, unknown> = {}
  if (Option.isSome(flags.symbols)) raw["symbols"] = Config.splitList(flags.symbols.value)
  if (Option.isSome(flags.db)) raw["db"] = flags.db.value
  if (Option.isSome(flags.interval)) raw["interval"] = /^\d+$/.test(flags.interval.value) ? Number(flags.interval.value) : flags.interval.value
  if (Option.isSome(flags.quorum)) raw["quorum"] = flags.quorum.value
  if (flags.port !== undefined && Option.isSome(flags.port)) raw["port"] = flags.port.value
  if (flags.host !== undefined && Option.isSome(flags.host)) raw["host"] = flags.host.value
  return Config.load({ file: Option.getOrUndefined(flags.config), env: process.env, flags: raw }).pipe(
    Effect.mapError((e) => new UsageError({ message: e.message }))
  )
}

// ---------------------------------------------------------------------------
// printing
// ---------------------------------------------------------------------------

const fmt = (n: number | null, digits = 2): string =>
  n === null ? "—" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const decimalsFor = (price: number | null): number => price === null ? 2 : price >= 1000 ? 2 : price >= 1 ? 3 : 6

/** One line per symbol: price, contributors, exclusions with their reasons. */
const tickLine = (a: AggregateRecord): string => {
  const why = a.exclusions.map((e) => `${e.source}:${e.reason}`).join(" ")
  const price = a.status === "ok" ? fmt(a.price, decimalsFor(a.price)) : "no quorum"
  const dispersion = a.dispersion === null ? "" : ` ±${(a.dispersion * 10_000).toFixed(1)}bp`
  return `${a.symbol.padEnd(9)} ${price.padStart(12)}${dispersion.padEnd(10)} ${a.contributions.length} sources${why === "" ? "" : `  (${why})`}`
}

/** Prints a few lines every `every` ticks while the pipeline runs. */
const printTicks = (pipeline: Pipeline.Running, every: number) =>
  Effect.gen(function*() {
    let n = 0
    while (true) {
      const aggregates = yield* pipeline.nextTick
      if (n++ % every !== 0) continue
      const time = aggregates[0] === undefined ? "" : new Date(aggregates[0].tick).toISOString().slice(11, 19)
      yield* Console.log(`— ${time} —`)
      for (const a of aggregates) yield* Console.log(`  ${tickLine(a)}`)
    }
  })

const describeSources = (sources: ReadonlyArray<Pipeline.Scheduled>): string =>
  sources.map((s) => s.source.id).join(", ")

// ---------------------------------------------------------------------------
// demo / serve
// ---------------------------------------------------------------------------

const runServer = (
  config: Config.AppConfig,
  target: App.ExchangeTarget,
  banner: (running: App.Running) => string
) =>
  Effect.gen(function*() {
    const running = yield* App.start(config, target, { serve: true }).pipe(
      Effect.mapError((e) => new UsageError({ message: e.message }))
    )
    yield* Console.log(banner(running))
    yield* Effect.forkScoped(printTicks(running.pipeline, Math.max(1, Math.round(5000 / config.interval))))
    return yield* Effect.never
  }).pipe(
    Effect.provide(
      App.services(config).pipe(
        Layer.mapError((e) => new UsageError({ message: `cannot open the database ${config.db}: ${e.message}` }))
      )
    )
  )

const demoCommand = Command.make(
  "demo",
  { config: configFile, symbols, db, interval, quorum, port, host, seed, calm },
  (flags) =>
    Effect.scoped(Effect.gen(function*() {
      const config = yield* loadConfig(flags)
      const demo = yield* DemoExchanges.make({
        seed: flags.seed,
        symbols: config.symbols,
        ...(flags.calm ? { faults: DemoExchanges.noFaults } : {})
      })
      yield* runServer(config, { _tag: "demo", demo }, (running) =>
        [
          `aggregator demo: ${demo.exchanges.length} simulated exchanges on loopback (${
            demo.exchanges.map((e) => `${e.id} ${e.baseUrl}`).join(", ")
          })`,
          `polling ${config.symbols.join(", ")} every ${Duration.format(Duration.millis(config.interval))} from ${
            describeSources(running.sources)
          }; quorum ${config.quorum}`,
          `dashboard  ${running.url ?? "?"}/`,
          `API        ${running.url ?? "?"}/api/prices/${config.symbols[0] ?? "BTCUSDT"}  (docs: ${running.url ?? "?"}/docs, metrics: /metrics)`,
          `database   ${config.db}`,
          "Ctrl-C to stop.\n"
        ].join("\n"))
    }))
).pipe(Command.withDescription("Run on simulated exchanges (offline): poll, aggregate, store and serve the API and dashboard."))

const serveCommand = Command.make(
  "serve",
  { config: configFile, symbols, db, interval, quorum, port, host, live },
  (flags) =>
    Effect.scoped(Effect.gen(function*() {
      const config = yield* loadConfig(flags)
      const target: App.ExchangeTarget = flags.live ? { _tag: "live" } : { _tag: "none" }
      yield* runServer(config, target, (running) =>
        [
          `aggregator: polling ${config.symbols.join(", ")} every ${Duration.format(Duration.millis(config.interval))} from ${
            describeSources(running.sources)
          }`,
          `serving    ${running.url ?? "?"}/ (API /api, docs /docs, metrics /metrics)`,
          `database   ${config.db}`
        ].join("\n"))
    }))
).pipe(Command.withDescription("Poll the configured sources, aggregate, store and serve the API and dashboard."))

// ---------------------------------------------------------------------------
// once
// ---------------------------------------------------------------------------

const onceCommand = Command.make(
  "once",
  { config: configFile, symbols, interval, quorum, live, seed, first },
  (flags) =>
    Effect.scoped(Effect.gen(function*() {
      const config = yield* loadConfig({ ...flags, db: Option.none() })
      const target: App.ExchangeTarget = flags.live
        ? { _tag: "live" }
        : { _tag: "demo", demo: yield* DemoExchanges.make({ seed: flags.seed, symbols: config.symbols, faults: DemoExchanges.noFaults }) }
      const scheduled = yield* App.sources(config, target).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      const sources = scheduled.map((s) => s.source)
      if (flags.first) {
        // The latency-sensitive read: every source asked at once, the first valid quote wins, the rest are cancelled.
        yield* Console.log(`first answer per symbol from ${sources.length} sources (the slower requests are cancelled):\n`)
        for (const symbol of config.symbols) {
          const [elapsed, answer] = yield* Effect.timed(Effect.either(Pipeline.first(sources, symbol)))
          const took = `${Duration.toMillis(elapsed).toFixed(0)} ms`
          yield* Console.log(
            answer._tag === "Right"
              ? `${symbol.padEnd(9)} ${fmt(answer.right.price, decimalsFor(answer.right.price)).padStart(12)}  from ${answer.right.source} in ${took}`
              : `${symbol.padEnd(9)} ${"—".padStart(12)}  ${answer.left.message}`
          )
        }
        return
      }
      const plan = scheduled.map((s) => ({ source: s.source, symbols: config.symbols }))
      // Each source's documented rate limit still applies (kraken: 1 request/s): a pause before each
      // measured run lets the buckets refill, so the runs compare the same thing.
      const refill = Effect.sleep(Duration.millis(1100))

      yield* Console.log(
        `once: ${config.symbols.length} symbols × ${sources.length} sources (${sources.map((s) => s.id).join(", ")})${
          flags.live ? " — live APIs" : " — simulated exchanges on loopback"
        }\n`
      )
      // Warm-up: connections opened, unsupported symbols learnt; not measured.
      yield* Pipeline.collect(plan, 30_000)
      // The guides' demonstration: the sources asked one after another, then all at once.
      yield* refill
      const [sequentialTime] = yield* Effect.timed(Effect.forEach(plan, (p) => Pipeline.collect([p], 30_000), { concurrency: 1 }))
      yield* refill
      const [concurrentTime, observations] = yield* Effect.timed(Pipeline.collect(plan, 30_000))
      const slowest = observations.reduce(
        (acc, o) => {
          const latency = o._tag === "Quote" ? o.quote.latencyMs : o.failure.latencyMs
          const source = o._tag === "Quote" ? o.quote.source : o.failure.source
          return latency > acc.latency ? { source, latency } : acc
        },
        { source: "", latency: 0 }
      )
      const now = Date.now()
      const aggregates = config.symbols.map((symbol) => Aggregate.aggregate(symbol, now, observations, Config.policy(config)))

      const header = ["symbol", ...sources.map((s) => s.id), "median", "sources"]
      const rows = aggregates.map((a) => {
        const cells = sources.map((s) => {
          const found = observations.find((o: Observation) =>
            o._tag === "Quote" ? o.quote.source === s.id && o.quote.symbol === a.symbol : o.failure.source === s.id && o.failure.symbol === a.symbol
          )
          if (found === undefined) return "—"
          return found._tag === "Quote" ? fmt(found.quote.price, decimalsFor(found.quote.price)) : found.failure.kind
        })
        return [a.symbol, ...cells, a.status === "ok" ? fmt(a.price, decimalsFor(a.price)) : "no quorum", `${a.contributions.length}/${sources.length}`]
      })
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
      const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join("  ")
      yield* Console.log(line(header))
      for (const r of rows) yield* Console.log(line(r))
      const failures = observations.filter((o) => o._tag === "Failure").length
      const ms = (d: Duration.Duration) => `${Duration.toMillis(d).toFixed(0)} ms`
      yield* Console.log(
        [
          "",
          `sequential  ${ms(sequentialTime)}  (${sources.length} sources one after another)`,
          `concurrent  ${ms(concurrentTime)}  (all at once: ${
            (Duration.toMillis(sequentialTime) / Math.max(1, Duration.toMillis(concurrentTime))).toFixed(1)
          }× faster; the ideal is the slowest source: ${slowest.source} ${slowest.latency.toFixed(0)} ms)`,
          failures > 0 ? `(${failures} of ${observations.length} quotes failed; see the table)` : ""
        ].join("\n").trimEnd()
      )
    }).pipe(Effect.provide(SourceHealth.layer())))
).pipe(Command.withDescription("Fetch every symbol from every source once; print the table and sequential vs concurrent timings."))

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("aggregator").pipe(
  Command.withDescription("Concurrent multi-source price aggregation: demo, serve, once."),
  Command.withSubcommands([demoCommand, serveCommand, onceCommand])
)

/**
 * Parses `argv` (as `process.argv`) and runs. User errors print one line on
 * stderr and set exit code 2.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown, Scope.Scope> =>
  Command.run(command, { name: "aggregator", version: "0.1.0" })(argv).pipe(
    Effect.catchIf(
      (error): error is UsageError | ValidationError.ValidationError =>
        error instanceof UsageError || ValidationError.isValidationError(error),
      (error) =>
        Effect.gen(function*() {
          if (error instanceof UsageError) yield* Console.error(`aggregator: ${error.message}`)
          process.exitCode = 2
        })
    ),
    Effect.provide(Logging.layerWith({})),
    Effect.provide(NodeContext.layer)
  )
