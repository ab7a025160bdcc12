/**
 * The aggregator assembled from its configuration: sources (embedded demo
 * exchanges, the real APIs, JSON and file sources), the polling
 * {@link Pipeline}, the {@link Store} with retention, and the HTTP server.
 * The CLI's `demo` and `serve` commands are this module plus printing.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as HttpServer from "@effect/platform/HttpServer"
import { Db } from "@fiberkit/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as BufferedWriter from "./BufferedWriter.js"
import * as Config from "./Config.js"
import * as DemoExchanges from "./DemoExchanges.js"
import * as Live from "./Live.js"
import * as Pipeline from "./Pipeline.js"
import * as Server from "./Server.js"
import * as Source from "./Source.js"
import * as SourceHealth from "./SourceHealth.js"
import * as Store from "./Store.js"

/**
 * Where exchange sources without a `baseUrl` go.
 *
 * - `demo`: the embedded simulated exchanges on loopback (offline).
 * - `live`: the exchanges' real public APIs.
 * - `none`: refused — so that nothing reaches the network unless asked.
 *
 * @since 0.1.0
 * @category models
 */
export type ExchangeTarget =
  | { readonly _tag: "demo"; readonly demo: DemoExchanges.Service }
  | { readonly _tag: "live" }
  | { readonly _tag: "none" }

/**
 * The configuration cannot be turned into running sources.
 *
 * @since 0.1.0
 * @category errors
 */
export class SetupError extends Data.TaggedError("AggregatorSetupError")<{ readonly message: string }> {}

/**
 * Build the configured sources in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sources = (
  config: Config.AppConfig,
  target: ExchangeTarget
): Effect.Effect<ReadonlyArray<Pipeline.Scheduled>, SetupError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.forEach(config.sources, (entry, index): Effect.Effect<Pipeline.Scheduled, SetupError, Scope.Scope | FileSystem.FileSystem> => {
    const where = `sources[${index}]`
    const schedule = (source: Source.Source): Pipeline.Scheduled => ({
      source,
      intervalMs: entry.interval,
      symbols: entry.only
    })
    const failed = (e: Source.SourceError) => new SetupError({ message: `${where}: ${e.message}` })
    switch (entry.type) {
      case "exchange": {
        const { interval: _interval, only: _only, type: _type, ...exchangeConfig } = entry
        if (entry.baseUrl !== undefined || target._tag === "live") {
          return Effect.map(Effect.mapError(Source.fromExchangeConfig(exchangeConfig), failed), schedule)
        }
        if (target._tag === "none") {
          return Effect.fail(
            new SetupError({
              message:
                `${where}: ${entry.exchange} has no baseUrl; pass --live to use its real public API, give a baseUrl, or run \`demo\``
            })
          )
        }
        const simulated = target.demo.exchanges.find((e) => e.id === entry.exchange)
        if (simulated === undefined) {
          return Effect.fail(new SetupError({ message: `${where}: no simulated exchange for ${entry.exchange}` }))
        }
        return Effect.map(
          Effect.mapError(Source.fromExchangeConfig({ ...exchangeConfig, baseUrl: simulated.baseUrl }), failed),
          schedule
        )
      }
      case "json": {
        const { interval: _interval, only: _only, type: _type, ...jsonConfig } = entry
        return Effect.map(Effect.mapError(Source.json(jsonConfig), failed), schedule)
      }
      case "file": {
        const { interval: _interval, only: _only, type: _type, ...fileConfig } = entry
        return Effect.map(Effect.mapError(Source.file(fileConfig), failed), schedule)
      }
    }
  })

/**
 * The database layer for a `db` setting: a `postgres://` URL or a SQLite
 * file path.
 *
 * @since 0.1.0
 * @category layers
 */
export const dbLayer = (db: string) => {
  const input: Db.Input = /^postgres(ql)?:\/\//i.test(db)
    ? { app: "aggregator", url: db }
    : { app: "aggregator", filename: db }
  return Db.layerWith(input)
}

/**
 * Everything the pipeline and the server need, from the configuration:
 * `Db` → `Store` (migrated) → `BufferedWriter`, `SourceHealth` with the
 * configured breakers, and `Live`.
 *
 * @since 0.1.0
 * @category layers
 */
export const services = (config: Config.AppConfig) => {
  const store = Store.layer.pipe(Layer.provideMerge(dbLayer(config.db)))
  return Layer.mergeAll(
    BufferedWriter.layer({ bound: config.buffer }),
    SourceHealth.layer({ breaker: { failureThreshold: config.breaker.failureThreshold, coolDown: config.breaker.coolDown } }),
    Live.layer
  ).pipe(Layer.provideMerge(store))
}

/**
 * A running aggregator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running {
  readonly pipeline: Pipeline.Running
  readonly sources: ReadonlyArray<Pipeline.Scheduled>
  /** `http://host:port` when serving. */
  readonly url: string | undefined
}

/**
 * Start the aggregator in the scope: sources, pipeline, retention and (when
 * `serve`) the HTTP server.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  config: Config.AppConfig,
  target: ExchangeTarget,
  options: { readonly serve: boolean }
): Effect.Effect<
  Running,
  SetupError,
  | Scope.Scope
  | FileSystem.FileSystem
  | Store.Store
  | BufferedWriter.BufferedWriter
  | SourceHealth.SourceHealth
  | Live.Live
> =>
  Effect.gen(function*() {
    const scheduled = yield* sources(config, target)
    const pipeline = yield* Pipeline.run({
      symbols: config.symbols,
      sources: scheduled,
      intervalMs: config.interval,
      jitterMs: config.jitter,
      align: config.align,
      deadlineMs: config.deadline,
      policy: Config.policy(config)
    })
    yield* Effect.forkScoped(Store.retention({ keep: config.retention }))
    let url: string | undefined
    if (options.serve) {
      const context = yield* Layer.build(Server.layer({ port: config.port, host: config.host })).pipe(
        Effect.mapError((e) =>
          new SetupError({
            message: `cannot listen on ${config.host}:${config.port}: ${
              e.cause instanceof Error ? e.cause.message : String(e.cause)
            }. Choose another --port or stop what uses it.`
          })
        )
      )
      url = Server.url(Context.get(context, HttpServer.HttpServer))
    }
    return { pipeline, sources: scheduled, url }
  })
