/**
 * `@fiberkit/aggregator`: concurrent multi-source price aggregation on
 * `@fiberkit/core` — exchange adapters, a polling pipeline with deadlines
 * and circuit breakers, robust aggregation (quorum, staleness, outliers,
 * median), SQL time series, and a JSON API with a live stream and a
 * dashboard.
 *
 * @since 0.1.0
 */

/** The records that flow through the aggregator: quotes, observations, aggregates, source status, candles. @since 0.1.0 */
export * as Model from "./Model.js"

/** Adapters for six exchanges' public ticker endpoints: URLs, symbol mapping, documented rate limits, payload schemas. @since 0.1.0 */
export * as Exchanges from "./Exchanges.js"

/** Sources of quotes: an exchange over HTTP, a generic JSON endpoint, a JSONL/CSV file. @since 0.1.0 */
export * as Source from "./Source.js"

/** Quorum, staleness, outlier rejection (MAD), median, mean, VWAP, spread and dispersion for one symbol and tick. @since 0.1.0 */
export * as Aggregate from "./Aggregate.js"

/** A per-source circuit breaker: closed, open after repeated failures, half-open probe after a cool-down. @since 0.1.0 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/** Each source's recent health: last success and error, error rate, latency percentiles, circuit state, metrics. @since 0.1.0 */
export * as SourceHealth from "./SourceHealth.js"

/** The polling pipeline: collector → bounded queue → processor → writer, and the first-answer read. @since 0.1.0 */
export * as Pipeline from "./Pipeline.js"

/** Quotes and aggregates as time series in SQL (SQLite or Postgres), OHLC history, retention. @since 0.1.0 */
export * as Store from "./Store.js"

/** Batched writes that ride out database outages with a bounded buffer, counting anything dropped. @since 0.1.0 */
export * as BufferedWriter from "./BufferedWriter.js"

/** The latest aggregates in memory and a broadcast of every new one (for the stream and the dashboard). @since 0.1.0 */
export * as Live from "./Live.js"

/** The HTTP API contract (`HttpApi`): prices, history, sources, stream, health; its errors. @since 0.1.0 */
export * as Api from "./Api.js"

/** The HTTP server: the API, SSE, /metrics, /health, /docs and the dashboard. @since 0.1.0 */
export * as Server from "./Server.js"

/** Configuration from a JSON/YAML file, the environment and flags, validated by Schema. @since 0.1.0 */
export * as Config from "./Config.js"

/** Simulated exchanges on loopback speaking the real payload shapes, with faults: the offline demo and the tests. @since 0.1.0 */
export * as DemoExchanges from "./DemoExchanges.js"

/** The aggregator assembled from its configuration: sources, pipeline, store, retention, server. @since 0.1.0 */
export * as App from "./App.js"
