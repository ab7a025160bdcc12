/**
 * `@fiberkit/crawler`: a polite, resumable, exactly-once web crawler on
 * `@fiberkit/core`.
 *
 * @since 0.1.0
 */

/** The records that flow through the crawler: entries, leases, discovered links, page records, completions. @since 0.1.0 */
export * as Page from "./Page.js"

/** The SQL frontier (SQLite or Postgres): leased claims, exactly-once group commits, resume, stats, robots cache. @since 0.1.0 */
export * as Frontier from "./Frontier.js"

/** The crawl's results in commit order: records stream, JSONL/CSV exports, JSONL regeneration on resume, the status summary. @since 0.1.0 */
export * as Store from "./Store.js"

/** URL normalization (RFC 3986 + WHATWG, tracking parameters, query order), frontier keys and crawl scope. @since 0.1.0 */
export * as Url from "./Url.js"

/** robots.txt per RFC 9309 as pure functions: parse, pick the crawler's group, match paths, status semantics, Crawl-delay. @since 0.1.0 */
export * as Robots from "./Robots.js"

/** Sitemaps and sitemap indexes (XML, text, gzip) parsed from fetched bytes, with the protocol's size and URL caps. @since 0.1.0 */
export * as Sitemap from "./Sitemap.js"

/** Streaming HTML extraction (title, description, canonical, base, meta robots, links) and HTML sniffing. @since 0.1.0 */
export * as Extract from "./Extract.js"

/** The crawl's options, their defaults and their validation. @since 0.1.0 */
export * as Options from "./Options.js"

/** Fetching with manners: robots.txt, Crawl-delay floors, per-host caps, scoped redirects, through `Http`. @since 0.1.0 */
export * as Fetcher from "./Fetcher.js"

/** Which hosts a crawl may connect to: private, loopback and link-local addresses refused (SSRF), cached per host. @since 0.1.0 */
export * as AddressPolicy from "./AddressPolicy.js"

/** The crawl: frontier → fetch → extract → your handler → commit, to its end or a stop request. @since 0.1.0 */
export * as Crawler from "./Crawler.js"

/** The crawl's processes: registration, heartbeats, dead workers found and their work handed back, `status` rows. @since 0.1.0 */
export * as Workers from "./Workers.js"

/** Politeness for all the workers of a Postgres crawl together: shared in-flight slots, start reservations, backoff. @since 0.1.0 */
export * as HostSlots from "./HostSlots.js"
