/**
 * `Metrics`: Effect's metric registry made visible — as Prometheus text for
 * a scraper ({@link prometheus}, served by {@link router} at `GET /metrics`),
 * and as a compact table for people ({@link summary}, printed when a CLI
 * ends by {@link printSummaryAtExit}).
 *
 * Every metric made with `effect/Metric` is included (the `Http` client's
 * `http_client_*` metrics among them); nothing needs registering here.
 *
 * Prometheus rendering (text format 0.0.4): names are sanitised to
 * `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names to `[a-zA-Z_][a-zA-Z0-9_]*`
 * (other characters become `_`), label values and help text are escaped,
 * counter names are kept as given (no `_total` added). Histograms give
 * `_bucket{le="…"}` (cumulative, `+Inf` included), `_sum` and `_count`;
 * summaries give `{quantile="…"}`, `_sum` and `_count`; a frequency is a
 * counter with one series per observed value under the label `key`. A name
 * used by two kinds of metric renders the later kind as `<name>_<kind>`.
 *
 * @example
 * ```ts
 * import { HttpServer } from "@effect/platform"
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { createServer } from "node:http"
 * import { Metrics } from "@fiberkit/core"
 *
 * // a metrics endpoint on :9464 next to the rest of the app
 * const MetricsServer = HttpServer.serve(Metrics.router).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 9464 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/metrics.js"

/**
 * The content type of the Prometheus text exposition format 0.0.4.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Renders metric pairs (e.g. a filtered `Metric.snapshot`) as Prometheus
 * text: one `# HELP` (when the metric has a description) and `# TYPE` per
 * family, families sorted by name, series by labels.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderPrometheus: (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>) => string =
  internal.renderPrometheus

/**
 * Every metric in the registry as Prometheus text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, internal.renderPrometheus)

/**
 * Renders metric pairs as a table for people, one row per non-zero series,
 * sorted by name: counters and gauges as their value, histograms and
 * summaries as `count= mean= min= max=` (plus quantiles for summaries),
 * frequencies as `value=count` pairs. Empty when every metric is zero.
 *
 * ```text
 * http_client_request_duration_ms{host=example.com}              count=12 mean=38.5 min=21 max=90
 * http_client_requests_total{host=example.com,status_class=2xx}  12
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderSummary: (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>) => string = internal.renderSummary

/**
 * Every non-zero metric in the registry as a table ({@link renderSummary}).
 *
 * @since 0.1.0
 * @category rendering
 */
export const summary: Effect.Effect<string> = Effect.map(Metric.snapshot, internal.renderSummary)

/**
 * A response with the registry as Prometheus text, to mount at any route.
 *
 * @since 0.1.0
 * @category http
 */
export const handler: Effect.Effect<HttpServerResponse.HttpServerResponse> = Effect.map(
  prometheus,
  (body) => HttpServerResponse.text(body, { contentType })
)

/**
 * A router serving {@link handler} at `GET /metrics`; serve it alone
 * (`HttpServer.serve(Metrics.router)`) or mount it into an app's router
 * (`HttpRouter.concat`).
 *
 * @since 0.1.0
 * @category http
 */
export const router: HttpRouter.HttpRouter = HttpRouter.empty.pipe(HttpRouter.get("/metrics", handler))

/**
 * Where {@link printSummaryAtExit} writes: `process.stderr` by default, or
 * any `Writable`-like object.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  write(chunk: string): unknown
}

/**
 * When the scope closes (however it closes: success, failure or
 * interruption), writes `title` and the {@link summary} table, or nothing
 * when every metric is zero. Scrapy's "stats at the end" for a CLI.
 *
 * @since 0.1.0
 * @category finalizers
 */
export const printSummaryAtExit = (
  options: { readonly output?: Output | undefined; readonly title?: string | undefined } = {}
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.addFinalizer(() =>
    Effect.flatMap(summary, (table) =>
      Effect.sync(() => {
        if (table === "") return
        const output = options.output ?? process.stderr
        output.write(`${options.title ?? "Metrics:"}\n${table}`)
      }))
  )

/**
 * {@link printSummaryAtExit} as a layer: the table is written when the
 * program the layer is provided to ends.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSummaryAtExit: Layer.Layer<never> = Layer.scopedDiscard(printSummaryAtExit())
