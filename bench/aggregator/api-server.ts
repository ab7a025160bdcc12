/**
 * The real aggregator server for the API bench, in its own process:
 * `Server.layer` on `127.0.0.1:0` over the real services, set up as `serve`
 * runs them —
 *
 * - `Store` on a fresh SQLite file (`Db.layerWith`, migrated) holding
 *   `--history` ticks (1 s apart) of aggregates of the bench's 50 symbols;
 * - `Live` with the latest tick published, and a new tick's aggregates
 *   published every `--tick-ms` (as the pipeline does), so the per-aggregate
 *   JSON cache of `GET /api/prices/:symbol` turns over as in production;
 * - `SourceHealth` with the five sources registered and some outcomes;
 * - the CLI's logger (`Logging.layerWith({})`), under `NodeRuntime.runMain`.
 *
 * Prints the port on stdout once listening; runs until SIGTERM/SIGINT, then
 * removes its database.
 *
 *   node --import tsx bench/aggregator/api-server.ts [--history 300] [--tick-ms 1000]
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Live from "@fiberkit/aggregator/Live"
import * as Server from "@fiberkit/aggregator/Server"
import * as SourceHealth from "@fiberkit/aggregator/SourceHealth"
import * as Store from "@fiberkit/aggregator/Store"
import { Db, Logging } from "@fiberkit/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as Market from "./market.js"

const { values } = parseArgs({
  options: { history: { type: "string", default: "300" }, "tick-ms": { type: "string", default: "1000" } }
})
const HISTORY = Number(values.history)
const TICK_MS = Number(values["tick-ms"])

const tempDb = Layer.unwrapScoped(
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-aggregator-bench-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => Db.layerWith({ app: "aggregator", filename: Path.join(dir, "aggregator.db") })))
)

const services = Layer.mergeAll(Live.layer, SourceHealth.layer(), Store.layer.pipe(Layer.provide(tempDb)))

const main = Effect.gen(function*() {
  const store = yield* Store.Store
  const live = yield* Live.Live
  const health = yield* SourceHealth.SourceHealth
  const now = Math.floor(Date.now() / 1000) * 1000
  for (let chunk = 0; chunk < HISTORY; chunk += 60) {
    const aggregates = []
    for (let i = chunk; i < Math.min(HISTORY, chunk + 60); i++) aggregates.push(...Market.aggregatesAt(now - (HISTORY - i) * 1000))
    yield* store.write({ quotes: [], aggregates })
  }
  yield* live.publish(Market.aggregatesAt(now))
  for (const [i, source] of Market.sources.entries()) {
    yield* health.register(source, "exchange")
    for (let k = 0; k < 20; k++) yield* health.record(source, { ok: true, latencyMs: 50 + i + (k % 7), at: now - k * 1000 })
  }
  let tick = now
  yield* Effect.forkScoped(
    Effect.suspend(() => live.publish(Market.aggregatesAt(tick += TICK_MS))).pipe(
      Effect.repeat(Schedule.spaced(TICK_MS))
    )
  )
  const server = yield* HttpServer.HttpServer
  const address = server.address
  yield* Effect.sync(() => process.stdout.write(`${address._tag === "TcpAddress" ? address.port : 0}\n`))
  return yield* Effect.never
})

const app = Server.layer({ port: 0, host: "127.0.0.1" }).pipe(Layer.provideMerge(services))

NodeRuntime.runMain(
  Effect.scoped(main).pipe(Effect.provide(app), Effect.provide(Logging.layerWith({}))),
  { disablePrettyLogger: true }
)
