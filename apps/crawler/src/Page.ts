/**
 * The records that flow through the crawler: frontier entries, leases,
 * discovered links, page records and how a leased entry ends.
 *
 * Data moves one way: the frontier hands out {@link Lease}s, the fetcher and
 * extractor turn each into a {@link Completion}, and the frontier commits it
 * (the page's {@link PageRecord}, its {@link Discovered} links and its state
 * transition) in one transaction.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One URL as stored in the frontier. `key` is the normalized URL
 * (`Url.key`) and is unique.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly id: number
  readonly key: string
  readonly url: string
  /** The politeness key: host and port (`URL.host`). */
  readonly host: string
  readonly depth: number
  readonly attempts: number
}

/**
 * A claimed entry. `token` fences its completion: once the lease is lost
 * (expired and claimed again), its completion can never commit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease extends Entry {
  readonly token: string
  /** Epoch milliseconds. */
  readonly leasedUntil: number
}

/**
 * A URL found on a page, ready to insert if absent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Discovered {
  readonly key: string
  readonly url: string
  readonly host: string
  readonly depth: number
  readonly parentId: number
}

/**
 * The output record of one page: a line of the JSONL output, a row of an
 * export, a row of the `pages` table. At most one per normalized URL.
 *
 * @since 0.1.0
 * @category models
 */
export const PageRecord = Schema.Struct({
  url: Schema.String,
  final_url: Schema.NullOr(Schema.String),
  status: Schema.NullOr(Schema.Number),
  content_type: Schema.NullOr(Schema.String),
  bytes: Schema.NullOr(Schema.Number),
  title: Schema.NullOr(Schema.String),
  /** The page's `<link rel=canonical>`, resolved; pages are the same document when their canonicals match. */
  canonical: Schema.NullOr(Schema.String),
  depth: Schema.Number,
  links_out: Schema.Number,
  /** ISO-8601. */
  fetched_at: Schema.String,
  elapsed_ms: Schema.NullOr(Schema.Number),
  error_kind: Schema.NullOr(Schema.String),
  error_message: Schema.NullOr(Schema.String),
  /** What a user page handler returned (JSON). */
  data: Schema.optional(Schema.Unknown),
  /** The `BlobStore` key of the body when bodies are saved. */
  body_key: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * @since 0.1.0
 * @category models
 */
export type PageRecord = typeof PageRecord.Type

/**
 * Why a page record carries an error, in `error_kind`.
 *
 * - `http_status`: the server answered >= 400 (the record has the status);
 * - `not_html`: fetched, not parsed (another content type);
 * - `out_of_scope_redirect`: a redirect to a URL outside the crawl's scope (recorded, not fetched);
 * - `private_address`: the host resolves to a private, loopback or link-local address and is not a start URL's host (refused, nothing sent);
 * - `handler`: the page was fetched but the user's page handler failed;
 * - the others are fetch failures after retries.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorKind =
  | "timeout"
  | "transport"
  | "dns"
  | "http_status"
  | "too_large"
  | "redirect_loop"
  | "too_many_redirects"
  | "invalid_redirect"
  | "out_of_scope_redirect"
  | "private_address"
  | "robots_disallowed"
  | "robots_unavailable"
  | "not_html"
  | "decode"
  | "invalid_url"
  | "handler"

/**
 * How a leased entry ends.
 *
 * - `Done`: fetched (any status); the record and the links found commit with the transition.
 * - `Failed`: the fetch failed after its retries; the record says why.
 * - `Skipped`: not fetched on purpose (robots, scope); no page record.
 * - `Postponed`: try again at `until` (e.g. robots.txt answered 5xx); attempts grow.
 *
 * @since 0.1.0
 * @category models
 */
export type Completion =
  | {
    readonly _tag: "Done"
    readonly lease: Lease
    readonly record: PageRecord
    readonly links: ReadonlyArray<Discovered>
  }
  | { readonly _tag: "Failed"; readonly lease: Lease; readonly record: PageRecord }
  | { readonly _tag: "Skipped"; readonly lease: Lease; readonly reason: string }
  | { readonly _tag: "Postponed"; readonly lease: Lease; readonly until: number; readonly reason: string }
