/**
 * The dashboard in real headless Chromium (Debian `chromium`, driven by
 * `playwright-core`), against a running server fed like the pipeline feeds
 * it: a fiber publishes aggregates of five sources every 250 ms to `Live`,
 * writes them to the `Store` and records each source's outcome in
 * `SourceHealth` (one source always fails, so its circuit opens). The test
 * waits for live prices to appear and change, the per-source deviation
 * table, the source health table and the history chart, checks the page
 * logged no errors, and saves `test-artifacts/dashboard.png`.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium } from "playwright-core"
import * as Aggregate from "../src/Aggregate.js"
import type { Aggregate as AggregateModel, Observation } from "../src/Model.js"
import * as Harness from "./serverHarness.js"

const chromiumPath = "/usr/bin/chromium"
const artifacts = fileURLToPath(new URL("../../../test-artifacts/", import.meta.url))

/** A small deterministic PRNG (mulberry32), so the screenshot's data is reproducible in shape. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const sources = ["binance", "coinbase", "kraken", "okx", "bybit", "bitstamp"] as const
const next = random(42)
const prices: Record<string, number> = { BTCUSDT: 67_000, ETHUSDT: 3_500, SOLUSDT: 150 }

/** One tick of every symbol: a random walk, per-source noise, okx sometimes slow, bitstamp always failing. */
const tick = (at: number): ReadonlyArray<AggregateModel> =>
  Object.keys(prices).map((symbol) => {
    const price = (prices[symbol] ?? 1) * (1 + (next() - 0.5) * 0.0008)
    prices[symbol] = price
    const observations: Array<Observation> = sources.map((source, i): Observation => {
      if (source === "bitstamp") return Harness.failure(source, symbol, "error", "bitstamp answered HTTP 503")
      if (source === "okx" && next() < 0.2) {
        return Harness.failure(source, symbol, "timeout", "okx did not answer within 2s")
      }
      const skew = source === "bybit" && next() < 0.1 ? 0.01 : (next() - 0.5) * 0.0006 + (i - 2) * 0.00005
      return Harness.quote(source, symbol, at, price * (1 + skew))
    })
    return Aggregate.aggregate(symbol, at, observations)
  })

/** Feeds Live, Store and SourceHealth like the pipeline, every 250 ms, after writing 15 minutes of history. */
const feed = Layer.scopedDiscard(Effect.gen(function*() {
  const { health, live, store } = yield* Harness.Env
  for (const source of sources) yield* health.register(source, "exchange")
  const now = Date.now()
  const history: Array<AggregateModel> = []
  for (let at = now - 15 * 60_000; at < now; at += 5_000) history.push(...tick(at))
  yield* store.writeAggregates(history)
  const once = Effect.gen(function*() {
    const at = Date.now()
    const aggregates = tick(at)
    yield* live.publish(aggregates)
    yield* store.writeAggregates(aggregates)
    for (const source of sources) {
      const failed = aggregates[0]?.exclusions.find((e) => e.source === source && e.reason !== "outlier")
      yield* health.record(source, {
        ok: failed === undefined,
        latencyMs: 30 + Math.round(next() * 60),
        ...(failed === undefined ? {} : { error: failed.detail }),
        at
      }).pipe(Effect.orDie)
    }
  })
  yield* Effect.forkScoped(Effect.repeat(Effect.orDie(once), Schedule.spaced("250 millis")))
}))

const env = feed.pipe(Layer.provideMerge(Harness.layer()))

const withBrowser = Effect.acquireRelease(
  Effect.promise((): Promise<Browser> =>
    chromium.launch({
      executablePath: chromiumPath,
      // Root in a container: Chromium's sandbox needs user namespaces it may not have.
      args: ["--no-sandbox", "--disable-dev-shm-usage"]
    })
  ),
  (browser) => Effect.promise(() => browser.close())
)

layer(env, { excludeTestServices: true })("dashboard in headless Chromium", (it) => {
  it.scoped("shows live prices, per-source deviation, source health and the history chart", () =>
    Effect.gen(function*() {
      expect(Fs.existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install -y chromium`).toBe(true)
      const { url } = yield* Harness.Env
      const browser = yield* withBrowser
      const problems: Array<string> = []
      yield* Effect.promise(async () => {
        const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
        page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
        page.on("response", (response) => {
          if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`)
        })
        page.on("console", (message) => {
          if (message.type() === "error" || message.type() === "warning") {
            problems.push(`console ${message.type()}: ${message.text()}`)
          }
        })
        await page.goto(url, { waitUntil: "load" })

        // Live values from the SSE stream, and then a change of value.
        const btc = page.getByTestId("price-BTCUSDT")
        await expect.poll(() => btc.textContent(), { timeout: 10_000 }).toMatch(/^\d{2},\d{3}\.\d{2}$/)
        const first = await btc.textContent()
        await expect.poll(() => btc.textContent(), { timeout: 10_000 }).not.toBe(first)
        await expect.poll(() => page.getByTestId("price-SOLUSDT").textContent()).toMatch(/^1\d{2}\.\d{4}$/)
        await expect.poll(() => page.getByTestId("connection").textContent()).toBe("live")

        // Per-source deviation for the selected (first) symbol: every source, bitstamp excluded.
        const deviationRows = page.locator("#deviation tbody tr")
        await expect.poll(() => deviationRows.count()).toBe(sources.length)
        await expect.poll(() => page.locator("#deviation tr[data-source='bitstamp']").textContent()).toContain("error")
        expect(await page.locator("#deviation tr[data-source='binance'] .devbar span").count()).toBe(1)

        // Source health from /api/sources: bitstamp's circuit opened after its failures.
        const healthRows = page.locator("#sources tbody tr")
        await expect.poll(() => healthRows.count(), { timeout: 10_000 }).toBe(sources.length)
        await expect.poll(() => page.locator("#sources tr[data-source='bitstamp']").textContent(), { timeout: 10_000 })
          .toContain("open")
        expect(await page.locator("#sources tr[data-source='binance']").textContent()).toContain("closed")

        // History chart from /api/prices/:symbol/history: 15 minutes of 5 s candles, the last 10 minutes shown.
        const candles = page.locator("#chart rect.candle")
        await expect.poll(() => candles.count(), { timeout: 10_000 }).toBeGreaterThan(100)
        expect(await page.locator("#chart text.axis").count()).toBeGreaterThan(5)

        // Selecting another symbol re-targets the deviation table and the chart.
        await page.locator(".card[data-symbol='ETHUSDT']").click()
        await expect.poll(() => page.locator("#detail-symbol").textContent()).toBe("ETHUSDT")
        await expect.poll(() => page.locator("#chart-symbol").textContent()).toBe("ETHUSDT · 5s")
        await page.locator(".card[data-symbol='BTCUSDT']").click()
        await expect.poll(() => page.locator("#chart-symbol").textContent()).toBe("BTCUSDT · 5s")
        await expect.poll(() => candles.count(), { timeout: 10_000 }).toBeGreaterThan(100)

        Fs.mkdirSync(artifacts, { recursive: true })
        await page.screenshot({ path: Path.join(artifacts, "dashboard.png"), fullPage: true })
      })
      expect(problems).toEqual([])
      expect(Fs.statSync(Path.join(artifacts, "dashboard.png")).size).toBeGreaterThan(10_000)
    }), { timeout: 60_000 })
})
