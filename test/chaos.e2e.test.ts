/**
 * A chaos crawl, on SQLite and on Postgres: a synthetic site whose answers
 * are 20% 503, 5% connection resets, 5% 429 with `Retry-After`, 2% stalls
 * past the timeout — decided per URL and attempt by a seeded hash, so every
 * URL's fate is known in advance and the run is reproducible (set
 * `CHAOS_SEED` to try another).
 *
 * What it proves, from the server's own log:
 * - the crawl ends (no crash, nothing pending or leased);
 * - every URL requested has exactly one record, and that record is what the
 *   fault script predicts: fetched with the site's answer when some attempt
 *   got through, else failed with the last fault's kind (`http_status` with
 *   503 or 429, `transport`, `timeout`);
 * - the retry budget: each URL is requested exactly as often as predicted,
 *   never more than 1 + retries;
 * - `Retry-After` is honoured: after a 429 the same URL is not asked again
 *   within the window, and the whole host pauses (the crawler's promise:
 *   429/503 slow the whole host) — no request to it arrives within the window,
 *   beyond requests already on their way when the 429 was sent.
 */
import { expect, it } from "@effect/vitest"
import { SyntheticSite, TestServer } from "@fiberkit/testkit"
import * as Effect from "effect/Effect"
import { type ChaosRates, chaosFor, chaotic, crawlFresh, forEachDialect } from "./support.js"

const SEED = Number(process.env["CHAOS_SEED"] ?? 20_240_601)
const RATES: ChaosRates = { unavailable: 0.2, reset: 0.05, tooMany: 0.05, stall: 0.02 }
const RETRIES = 2
const RETRY_AFTER_S = 1
const TIMEOUT_MS = 400
/** Requests dispatched before the client read a 429 may still arrive this long after it was sent. */
const IN_FLIGHT_SLACK_MS = 150

type Predicted =
  | { readonly outcome: "fetched"; readonly attempts: number }
  | { readonly outcome: "failed"; readonly attempts: number; readonly kind: string; readonly status: number | null }

/** robots.txt stays reliable (a failing one postpones the whole site for seconds, RFC 9309: another test's subject), and so
 * does the start page, without which there is no crawl whatever the seed. */
const exempt = (path: string): boolean => path === "/robots.txt" || path === "/"

const predict = (path: string): Predicted => {
  if (exempt(path)) return { outcome: "fetched", attempts: 1 }
  for (let attempt = 1; attempt <= RETRIES + 1; attempt++) {
    const fault = chaosFor(SEED, RATES, path, attempt)
    if (fault === undefined) return { outcome: "fetched", attempts: attempt }
    if (attempt === RETRIES + 1) {
      switch (fault) {
        case "503":
          return { outcome: "failed", attempts: attempt, kind: "http_status", status: 503 }
        case "429":
          return { outcome: "failed", attempts: attempt, kind: "http_status", status: 429 }
        case "reset":
          return { outcome: "failed", attempts: attempt, kind: "transport", status: null }
        case "stall":
          return { outcome: "failed", attempts: attempt, kind: "timeout", status: null }
      }
    }
  }
  throw new Error("unreachable: the loop returns on the last attempt")
}

forEachDialect(`chaos crawl (seed ${SEED})`, (h) => {
  it.scopedLive("every page fetched or failed with its kind; retry budgets and Retry-After honoured", () =>
    Effect.gen(function*() {
      // No redirects: each URL is then requested only for itself, so the server's count per path is its attempts.
      const site = SyntheticSite.make({ seed: 7, pages: 70, pageBytes: 600, redirects: false, trap: false, crawlDelay: 0 })
      const handle = chaotic(site.handle, {
        seed: SEED,
        rates: RATES,
        retryAfterSeconds: RETRY_AFTER_S,
        exempt
      })
      const server = yield* TestServer.make({ routes: [{ path: "/*", handler: handle }] })
      const started = performance.now()
      const { records, summary } = yield* crawlFresh(h, {
        seeds: [server.urlFor("/")],
        maxDepth: 4,
        retries: RETRIES,
        timeoutMs: TIMEOUT_MS,
        concurrency: 8,
        perHost: 4
      })
      const elapsed = performance.now() - started
      const log = (yield* server.requests).filter((r) => r.path !== "/robots.txt")

      // The crawl ended on its own with every URL settled.
      expect(summary.stopped).toBe(false)
      expect(summary.urls.pending + summary.urls.leased).toBe(0)

      // One record per URL requested, none for a URL never requested.
      const attempts = new Map<string, number>()
      for (const r of log) attempts.set(r.path, (attempts.get(r.path) ?? 0) + 1)
      const byPath = new Map(records.map((r) => [r.url.slice(server.url.length), r]))
      expect(records.length).toBe(byPath.size)
      expect([...byPath.keys()].sort()).toEqual([...attempts.keys()].sort())

      // Each record is what the fault script predicts, after exactly the predicted attempts.
      const failedKinds: Array<string> = []
      for (const [path, record] of byPath) {
        const predicted = predict(path)
        const seen = attempts.get(path) ?? 0
        expect(seen, path).toBeLessThanOrEqual(RETRIES + 1)
        expect(seen, path).toBe(predicted.attempts)
        if (predicted.outcome === "fetched") {
          // The site's own answer, asked directly.
          const [pathname = path, query = ""] = path.split("?")
          const answer = site.handle({
            method: "GET",
            path,
            pathname,
            query: new URLSearchParams(query),
            headers: { host: server.host },
            body: new Uint8Array(),
            hit: 1
          })
          expect(record.status, path).toBe(answer.status ?? 200)
        } else {
          failedKinds.push(`${predicted.kind}${predicted.status === null ? "" : ` ${predicted.status}`}`)
          expect({ status: record.status, error_kind: record.error_kind }, path).toEqual({ status: predicted.status, error_kind: predicted.kind })
        }
      }
      // The script did bite: every kind of fault was injected and some URLs ran out of retries.
      const injected: Record<string, number> = {}
      for (const [path, n] of attempts) {
        for (let attempt = 1; attempt <= n; attempt++) {
          const fault = exempt(path) ? undefined : chaosFor(SEED, RATES, path, attempt)
          if (fault !== undefined) injected[fault] = (injected[fault] ?? 0) + 1
        }
      }
      if (process.env["CHAOS_SEED"] === undefined) {
        // The default seed hits every kind (another seed may miss a rare one on a site this small).
        expect(Object.keys(injected).sort()).toEqual(["429", "503", "reset", "stall"])
      }
      expect(failedKinds.length).toBeGreaterThan(0)

      // Retry-After: the same URL not before the window ends; the host paused, apart from requests already under way.
      const all = [...log].sort((x, y) => x.arrivedAt - y.arrivedAt)
      const throttles = all.filter((r) => r.status === 429)
      expect(throttles.length).toBeGreaterThan(0)
      for (const t of throttles) {
        const sentAt = t.completedAt ?? t.arrivedAt
        const windowEnd = sentAt + RETRY_AFTER_S * 1000
        const retry = all.find((r) => r.path === t.path && r.arrivedAt > t.arrivedAt)
        if (retry !== undefined) expect(retry.arrivedAt - sentAt, t.path).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 10)
        const intruders = all.filter((r) => r.arrivedAt > sentAt + IN_FLIGHT_SLACK_MS && r.arrivedAt < windowEnd - 10)
        expect(intruders.map((r) => `${r.path} +${Math.round(r.arrivedAt - sentAt)} ms`), `after the 429 of ${t.path}`).toEqual([])
      }
      // Small enough for CI: reported, and bounded.
      console.log(
        `chaos [${h.dialect}] seed ${SEED}: ${records.length} URLs, ${log.length} requests, faults ${JSON.stringify(injected)}, ` +
          `${failedKinds.length} failed (${failedKinds.join(", ")}), ${Math.round(elapsed)} ms`
      )
      expect(elapsed).toBeLessThan(30_000)
    }), { timeout: 60_000 })
})
