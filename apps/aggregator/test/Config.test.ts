/**
 * Configuration: defaults, JSON and YAML files, the environment and flags
 * in that order, and bad fields reported by name, path and origin.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Config from "../src/Config.js"

const write = (name: string, text: string): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agg-config-"))
  const file = Path.join(dir, name)
  Fs.writeFileSync(file, text)
  return file
}

const load = (options: Parameters<typeof Config.load>[0]) => Config.load(options).pipe(Effect.provide(NodeContext.layer))

describe("Config", () => {
  it.effect("an empty configuration is a working one: three symbols, six exchanges, documented defaults", () =>
    Effect.gen(function*() {
      const config = yield* load({ env: {} })
      expect(config.symbols).toEqual(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
      expect(config.sources.map((s) => s.type === "exchange" ? s.exchange : s.type)).toEqual([
        "binance",
        "coinbase",
        "kraken",
        "okx",
        "bybit",
        "bitstamp"
      ])
      expect(config).toMatchObject({
        interval: 1000,
        jitter: 0,
        align: true,
        quorum: 3,
        maxAge: 10_000,
        db: "./data/aggregator.db",
        retention: 86_400_000,
        buffer: 100_000,
        port: 8080,
        host: "127.0.0.1",
        breaker: { failureThreshold: 5, coolDown: 30_000 }
      })
    }))

  it.effect("a YAML file, then the environment, then flags: later wins field by field", () =>
    Effect.gen(function*() {
      const file = write(
        "agg.yaml",
        [
          "symbols: [BTCUSDT, ETHUSDT]",
          "interval: 2s",
          "quorum: 2",
          "port: 9000",
          "sources:",
          "  - { type: exchange, exchange: binance, interval: 5s, only: [BTCUSDT] }",
          "  - type: json",
          "    id: mybank",
          "    urlTemplate: \"http://127.0.0.1:1/rates/{base}-{quote}\"",
          "    pricePath: data.price",
          "  - { type: file, id: manual, path: ./prices.csv }"
        ].join("\n")
      )
      const config = yield* load({
        file,
        env: { AGGREGATOR_PORT: "9100", AGGREGATOR_SYMBOLS: "btcusdt, solusdt", DATABASE_URL: "postgres://u@127.0.0.1/x" },
        flags: { port: 9200 }
      })
      expect(config.symbols).toEqual(["BTCUSDT", "SOLUSDT"])
      expect(config.interval).toBe(2000)
      expect(config.quorum).toBe(2)
      expect(config.port).toBe(9200)
      expect(config.db).toBe("postgres://u@127.0.0.1/x")
      expect(config.sources).toHaveLength(3)
      expect(config.sources[0]).toMatchObject({ type: "exchange", exchange: "binance", interval: 5000, only: ["BTCUSDT"] })
      expect(config.sources[1]).toMatchObject({ type: "json", id: "mybank", pricePath: "data.price" })
      expect(config.sources[2]).toMatchObject({ type: "file", id: "manual", path: "./prices.csv" })
    }))

  it.effect("a JSON file is read as JSON", () =>
    Effect.gen(function*() {
      const file = write("agg.json", JSON.stringify({ symbols: ["ETHUSDT"], interval: 250, jitter: "50ms" }))
      const config = yield* load({ file, env: {} })
      expect(config).toMatchObject({ symbols: ["ETHUSDT"], interval: 250, jitter: 50 })
    }))

  it("durations: milliseconds, short units and Effect's long form", () => {
    const decode = (input: unknown) => Either.getOrUndefined(Config.decode([{ origin: "t", raw: { interval: input } }]))?.interval
    expect(decode(1500)).toBe(1500)
    expect(decode("500ms")).toBe(500)
    expect(decode("2s")).toBe(2000)
    expect(decode("1m")).toBe(60_000)
    expect(decode("1 second")).toBe(1000)
    expect(decode("soon")).toBeUndefined()
  })

  it.effect("a bad field is reported by its path and where it came from", () =>
    Effect.gen(function*() {
      const file = write(
        "bad.yaml",
        [
          "symbols: [BTCUSDT, btc-usdt]",
          "sources:",
          "  - { type: exchange, exchange: binance }",
          "  - { type: json, id: x, pricePath: a.b }"
        ].join("\n")
      )
      const error = yield* Effect.flip(load({ file, env: {} }))
      expect(error._tag).toBe("AggregatorConfigError")
      expect(error.message).toContain("symbols[1]")
      expect(error.message).toContain("sources[1].urlTemplate")
      expect(error.message).toContain("is missing")
      expect(error.message).toContain(file)
    }))

  it.effect("an unknown field, a bad type from the environment, a missing or malformed file: each says what and where", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(load({ env: {}, flags: { prot: 80 } }))
      expect(unknown.message).toContain("prot")
      expect(unknown.message).toContain("command line")

      const env = yield* Effect.flip(load({ env: { AGGREGATOR_PORT: "eighty" } }))
      expect(env.message).toContain("port")
      expect(env.message).toContain("environment")

      const missing = yield* Effect.flip(load({ file: "/nonexistent/agg.yaml", env: {} }))
      expect(missing.message).toContain("/nonexistent/agg.yaml")
      expect(missing.message).toContain("cannot read")

      const malformed = yield* Effect.flip(load({ file: write("m.json", "{ nope"), env: {} }))
      expect(malformed.message).toContain("not valid JSON")

      const wrongExchange = yield* Effect.flip(load({ env: {}, flags: { sources: [{ type: "exchange", exchange: "ftx" }] } }))
      expect(wrongExchange.message).toContain("sources[0]")
    }))
})
