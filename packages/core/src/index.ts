/**
 * `@fiberkit/core`: HTTP, SQL and file IO as typed Effect services, plus the
 * concurrency and resilience pieces they share.
 *
 * @since 0.1.0
 */

/** Per-key counting semaphores, created on demand and dropped when idle, with an optional total shared round-robin across keys. @since 0.1.0 */
export * as KeyedSemaphore from "./KeyedSemaphore.js"

/** Per-key request-rate limits (GCRA, with burst, pauses, overrides, Crawl-delay floors and adaptive AIMD on 429/503), dropped when idle. @since 0.1.0 */
export * as KeyedRateLimiter from "./KeyedRateLimiter.js"

/** Bounded work queues in front of N workers: back-pressure, drain or immediate shutdown, per-item outcomes, stream stages. @since 0.1.0 */
export * as WorkQueue from "./WorkQueue.js"

/** Combinators for groups of effects and for time: `settle`, `firstOf`, `withDeadline` (absolute), `inChunks` (batches with a pause). @since 0.1.0 */
export * as Concurrent from "./Concurrent.js"

/** The typed HTTP client service: timeouts, retries, per-host limits, redirects, size caps, metrics. @since 0.1.0 */
export * as Http from "./Http.js"

/** The typed errors of `Http`, each with method, URL, attempt and an actionable message. @since 0.1.0 */
export * as HttpError from "./HttpError.js"

/** Retry policies: backoff with jitter and caps, `Retry-After` in both forms, as a pure decision and a `Schedule`. @since 0.1.0 */
export * as Retry from "./Retry.js"

/** Logging setup: pretty on a terminal, JSON lines otherwise, to stderr; level from `--log-level`, `LOG_LEVEL` or `Info`. @since 0.1.0 */
export * as Logging from "./Logging.js"

/** The metric registry as Prometheus text (with a `GET /metrics` route) and as a summary table printed at exit. @since 0.1.0 */
export * as Metrics from "./Metrics.js"

/** A terminal progress display (done/total, rate, ETA, errors), in place on a TTY, plain lines otherwise. @since 0.1.0 */
export * as Progress from "./Progress.js"

/** `timed(name)`: a span, a duration histogram and a log line around an effect. @since 0.1.0 */
export * as Timed from "./Timed.js"

/** The database service: SQLite (embedded default) or Postgres, transactions with retry, bulk writes, batched loads, streaming. @since 0.1.0 */
export * as Db from "./Db.js"

/** The typed errors of `Db`: unique and foreign-key violations, not found, busy, serialization failures, lost connections. @since 0.1.0 */
export * as DbError from "./DbError.js"

/** Schema migrations for `Db` with the platform `Migrator`: per-app table, idempotent, newer databases refused. @since 0.1.0 */
export * as Migrations from "./Migrations.js"

/** Repositories over `@effect/sql` `Model` classes whose SQL failures are typed `DbError`s, not defects. @since 0.1.0 */
export * as Repository from "./Repository.js"

/** CPU-bound work on a pool of worker threads over a `Schema` protocol; crashed threads fail typed and are replaced. @since 0.1.0 */
export * as WorkerPool from "./WorkerPool.js"

/** Event-loop lag monitor: a histogram, a blocked counter and rate-limited warnings when the loop is blocked. @since 0.1.0 */
export * as EventLoopLag from "./EventLoopLag.js"

/** File IO on the platform `FileSystem`: text, bytes and `Schema` JSON, atomic writes, line streaming, bounded many-file processing. @since 0.1.0 */
export * as Files from "./Files.js"

/** The typed errors of the file modules, each with the operation and path, mapped from platform system errors. @since 0.1.0 */
export * as FilesError from "./FilesError.js"

/** JSON Lines with a `Schema`: a batching append sink, and a reader that skips a torn last line after a crash. @since 0.1.0 */
export * as Jsonl from "./Jsonl.js"

/** A content-addressed blob store: SHA-256 keys, gzip on disk, fan-out directories, integrity checks, no path traversal. @since 0.1.0 */
export * as BlobStore from "./BlobStore.js"

/** CSV for exports, quoted per RFC 4180: as a string, a stream of text, or an atomically written file. @since 0.1.0 */
export * as Csv from "./Csv.js"
