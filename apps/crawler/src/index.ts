/**
 * `@fiberkit/crawler`: a polite, resumable, exactly-once web crawler on
 * `@fiberkit/core`.
 *
 * @since 0.1.0
 */

/** The records that flow through the crawler: entries, leases, discovered links, page records, completions. @since 0.1.0 */
export * as Page from "./Page.js"
