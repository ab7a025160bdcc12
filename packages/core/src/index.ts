/**
 * `@fiberkit/core`: HTTP, SQL and file IO as typed Effect services, plus the
 * concurrency and resilience pieces they share.
 *
 * @since 0.1.0
 */
