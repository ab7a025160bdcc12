/**
 * Exact rendering of fixed metrics. The metric registry is global, so each
 * test makes metrics under its own name prefix and renders only those.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import { createServer } from "node:http"
import { inFlight, Registry } from "../src/internal/httpMetrics.js"
import * as Metrics from "../src/Metrics.js"

const snapshotOf = (prefix: string) =>
  Effect.map(Metric.snapshot, (pairs) => pairs.filter((pair) => pair.metricKey.name.startsWith(prefix)))

/** Counters, a gauge, a histogram, a summary and a frequency under `prefix`. */
const fixture = (prefix: string) =>
  Effect.gen(function*() {
    const requests = Metric.counter(`${prefix}requests_total`, { description: "Requests handled" })
    yield* Metric.incrementBy(Metric.tagged(Metric.tagged(requests, "route", "/a"), "http.method", "GET"), 2)
    yield* Metric.increment(Metric.tagged(requests, "route", "say \"hi\" \\o/\nnow"))
    yield* Metric.incrementBy(Metric.counter(`${prefix}bytes`, { bigint: true }), 12345678901234567890n)
    yield* Metric.set(Metric.gauge(`${prefix}queue.depth-now`), 3.5)
    const latency = Metric.histogram(
      `${prefix}latency_ms`,
      MetricBoundaries.fromIterable([10, 100]),
      "Latency\nin ms \\ per call"
    )
    for (const value of [5, 50, 500]) yield* Metric.update(latency, value)
    const sizes = Metric.summary({
      name: `${prefix}size`,
      maxAge: "1 minute",
      maxSize: 100,
      error: 0,
      quantiles: [0.5, 0.9]
    })
    for (const value of [1, 2, 3, 4]) yield* Metric.update(sizes, value)
    const outcome = Metric.frequency(`${prefix}outcome`)
    for (const value of ["ok", "error", "ok"]) yield* Metric.update(outcome, value)
  })

describe("Metrics.renderPrometheus", () => {
  it.effect("renders every kind of metric in text format 0.0.4", () =>
    Effect.gen(function*() {
      yield* fixture("p1_")
      const text = Metrics.renderPrometheus(yield* snapshotOf("p1_"))
      expect(text).toBe(
        [
          "# TYPE p1_bytes counter",
          "p1_bytes 12345678901234567890",
          "# HELP p1_latency_ms Latency\\nin ms \\\\ per call",
          "# TYPE p1_latency_ms histogram",
          "p1_latency_ms_bucket{le=\"10\"} 1",
          "p1_latency_ms_bucket{le=\"100\"} 2",
          "p1_latency_ms_bucket{le=\"+Inf\"} 3",
          "p1_latency_ms_sum 555",
          "p1_latency_ms_count 3",
          "# TYPE p1_outcome counter",
          "p1_outcome{key=\"error\"} 1",
          "p1_outcome{key=\"ok\"} 2",
          "# TYPE p1_queue_depth_now gauge",
          "p1_queue_depth_now 3.5",
          "# HELP p1_requests_total Requests handled",
          "# TYPE p1_requests_total counter",
          "p1_requests_total{route=\"/a\",http_method=\"GET\"} 2",
          "p1_requests_total{route=\"say \\\"hi\\\" \\\\o/\\nnow\"} 1",
          "# TYPE p1_size summary",
          "p1_size{quantile=\"0.5\"} 2",
          "p1_size{quantile=\"0.9\"} 3",
          "p1_size_sum 10",
          "p1_size_count 4",
          ""
        ].join("\n")
      )
    }))

  it.effect("renders the Http client's metrics with their host and status_class labels", () =>
    Effect.gen(function*() {
      const host = new Registry(true, 10).forHost("api.example.com:8443")
      host.status("2xx").update(3)
      host.status("5xx").update(1)
      host.retries.update(1)
      host.bytes.update(2048)
      host.duration.update(3)
      host.duration.update(70)
      yield* Metric.set(inFlight, 2)
      const text = Metrics.renderPrometheus(yield* snapshotOf("http_client_"))
      const labels = "host=\"api.example.com:8443\""
      const bounds = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
      expect(text).toBe(
        [
          "# HELP http_client_in_flight HTTP exchanges currently on the wire",
          "# TYPE http_client_in_flight gauge",
          "http_client_in_flight 2",
          "# HELP http_client_request_duration_ms Duration of each HTTP exchange in milliseconds, by host",
          "# TYPE http_client_request_duration_ms histogram",
          // 3 ms falls in le=4, 70 ms in le=128; buckets are cumulative
          ...bounds.map((le) =>
            `http_client_request_duration_ms_bucket{${labels},le="${le}"} ${le >= 128 ? 2 : le >= 4 ? 1 : 0}`
          ),
          `http_client_request_duration_ms_bucket{${labels},le="+Inf"} 2`,
          `http_client_request_duration_ms_sum{${labels}} 73`,
          `http_client_request_duration_ms_count{${labels}} 2`,
          "# HELP http_client_requests_total HTTP exchanges completed, by host and status class (1xx-5xx, or error)",
          "# TYPE http_client_requests_total counter",
          `http_client_requests_total{${labels},status_class="2xx"} 3`,
          `http_client_requests_total{${labels},status_class="5xx"} 1`,
          "# HELP http_client_response_bytes_total Response body bytes received (after decompression), by host",
          "# TYPE http_client_response_bytes_total counter",
          `http_client_response_bytes_total{${labels}} 2048`,
          "# HELP http_client_retries_total HTTP retries scheduled, by host",
          "# TYPE http_client_retries_total counter",
          `http_client_retries_total{${labels}} 1`,
          ""
        ].join("\n")
      )
    }))

  it.effect("sanitises names, and keeps one TYPE per name when two kinds share it", () =>
    Effect.gen(function*() {
      yield* Metric.increment(Metric.tagged(Metric.counter("p3_9lives"), "0day", "x"))
      yield* Metric.set(Metric.gauge("p3_9lives"), 1)
      expect(Metrics.renderPrometheus(yield* snapshotOf("p3_"))).toBe(
        [
          "# TYPE p3_9lives counter",
          "p3_9lives{_0day=\"x\"} 1",
          "# TYPE p3_9lives_gauge gauge",
          "p3_9lives_gauge 1",
          ""
        ].join("\n")
      )
      expect(Metrics.renderPrometheus([])).toBe("")
    }))

  it.effect("Metrics.prometheus renders the global registry", () =>
    Effect.gen(function*() {
      yield* fixture("p4_")
      const all = yield* Metrics.prometheus
      expect(all).toContain(Metrics.renderPrometheus(yield* snapshotOf("p4_")))
    }))
})

describe("Metrics.router", () => {
  const ServerLive = HttpServer.serve(Metrics.router).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
  )

  it.scoped("serves GET /metrics as Prometheus text, read at each scrape", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      const base = `http://127.0.0.1:${server.address.port}`
      const scrapes = Metric.counter("r1_scrapes_total", { description: "scrapes seen by the test" })
      const get = (path: string) =>
        Effect.promise(async () => {
          const response = await fetch(base + path)
          return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
        })

      yield* Metric.increment(scrapes)
      const first = yield* get("/metrics")
      expect(first.status).toBe(200)
      expect(first.type).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(first.body).toContain(
        "# HELP r1_scrapes_total scrapes seen by the test\n# TYPE r1_scrapes_total counter\nr1_scrapes_total 1\n"
      )

      yield* Metric.increment(scrapes)
      expect((yield* get("/metrics")).body).toContain("\nr1_scrapes_total 2\n")
      expect((yield* get("/other")).status).toBe(404)
    }).pipe(Effect.provide(ServerLive)))
})

describe("Metrics.renderSummary", () => {
  it.effect("lists the non-zero metrics as an aligned table", () =>
    Effect.gen(function*() {
      yield* fixture("s1_")
      yield* Metric.incrementBy(Metric.counter("s1_never"), 0)
      yield* Metric.set(Metric.gauge("s1_idle"), 0)
      yield* Metric.value(Metric.histogram("s1_unused_ms", MetricBoundaries.fromIterable([1])))
      expect(Metrics.renderSummary(yield* snapshotOf("s1_"))).toBe(
        [
          "s1_bytes                                     12345678901234567890",
          "s1_latency_ms                                count=3 mean=185 min=5 max=500",
          "s1_outcome                                   error=1 ok=2",
          "s1_queue_depth_now                           3.5",
          "s1_requests_total{route=/a,http.method=GET}  2",
          // a newline in a label value is shown escaped, keeping one row per series
          "s1_requests_total{route=say \"hi\" \\o/\\nnow}   1",
          "s1_size                                      count=4 mean=2.5 min=1 max=4 p50=2 p90=3",
          ""
        ].join("\n")
      )
      expect(Metrics.renderSummary([])).toBe("")
    }))

  it.effect("printSummaryAtExit writes the table when the scope closes, even on failure", () =>
    Effect.gen(function*() {
      const writes: Array<string> = []
      const output = { write: (chunk: string) => writes.push(chunk) }
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        yield* Metrics.printSummaryAtExit({ output, title: "Stats:" })
        yield* Metric.incrementBy(Metric.counter("s2_pages_total"), 42)
        expect(writes).toEqual([])
        return yield* Effect.fail("crawl failed")
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(writes).toHaveLength(1)
      expect(writes[0]).toMatch(/^Stats:\n/)
      expect(writes[0]).toMatch(/\ns2_pages_total +42\n/)
    }))
})
