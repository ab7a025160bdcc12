/**
 * `@fiberkit/core`: HTTP, SQL and file IO as typed Effect services, plus the
 * concurrency and resilience pieces they share.
 *
 * @since 0.1.0
 */

/** Per-key counting semaphores, created on demand and dropped when idle (per-host concurrency). @since 0.1.0 */
export * as KeyedSemaphore from "./KeyedSemaphore.js"

/** Per-key request-rate limits (GCRA, with burst, pauses and overrides), dropped when idle. @since 0.1.0 */
export * as KeyedRateLimiter from "./KeyedRateLimiter.js"

/** The typed HTTP client service: timeouts, retries, per-host limits, redirects, size caps, metrics. @since 0.1.0 */
export * as Http from "./Http.js"

/** The typed errors of `Http`, each with method, URL, attempt and an actionable message. @since 0.1.0 */
export * as HttpError from "./HttpError.js"

/** Retry policies: backoff with jitter and caps, `Retry-After` in both forms, as a pure decision and a `Schedule`. @since 0.1.0 */
export * as Retry from "./Retry.js"
