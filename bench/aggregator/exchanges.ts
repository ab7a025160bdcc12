/**
 * The aggregator bench's simulated exchanges, in their own process (the
 * orchestrator pins it to its own CPU): `DemoExchanges.make` with no random
 * faults, no exchange-side rate limit and a fixed latency, for the bench's
 * 50 symbols. Prints one JSON line `{"id":"http://127.0.0.1:PORT",…}` on
 * stdout once listening; runs until SIGTERM/SIGINT.
 *
 *   node --import tsx bench/aggregator/exchanges.ts [--latency 50]
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as DemoExchanges from "@fiberkit/aggregator/DemoExchanges"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import * as Market from "./market.js"

const { values } = parseArgs({ options: { latency: { type: "string", default: "50" } } })
const latency = Number(values.latency)

const main = Effect.gen(function*() {
  const demo = yield* DemoExchanges.make({
    symbols: Market.symbols,
    exchanges: Market.sources,
    faults: DemoExchanges.noFaults,
    latencyMs: { min: latency, max: latency },
    // The request log is not needed; keep it small.
    logLimit: 100
  })
  const urls = Object.fromEntries(demo.exchanges.map((e) => [e.id, e.baseUrl]))
  yield* Effect.sync(() => process.stdout.write(`${JSON.stringify(urls)}\n`))
  return yield* Effect.never
})

NodeRuntime.runMain(Effect.scoped(main), { disablePrettyLogger: true })
