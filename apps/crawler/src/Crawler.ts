/**
 * The crawl: frontier → fetch → extract → (your page handler) → commit →
 * frontier. `crawl(options)` runs one to its end (or to a stop request) and
 * returns the summary; the CLI is a thin layer over it.
 *
 * - Every discovered URL is stored once in SQL under its normalized key; the
 *   crawl's memory is bounded by its queues, whatever the frontier's size.
 * - A page's record, its new links and its frontier transition commit in one
 *   transaction (several pages per transaction, group commit): a crash at any
 *   moment, then `resume`, loses nothing and stores nothing twice.
 * - Politeness (robots.txt, Crawl-delay, per-host caps and rate, backoff on
 *   429/503) is the {@link Fetcher}'s.
 * - Each run is a worker (`Workers`): it beats every third of its lease,
 *   renewing its leases. On PostgreSQL any number of workers may crawl one
 *   crawl (`join`), politely as a whole (`HostSlots`); a dead worker's work
 *   goes back to the others.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Db } from "@fiberkit/core"
 * import { Crawler, Frontier } from "@fiberkit/crawler"
 *
 * const prices = Crawler.crawl({ seeds: ["https://shop.example/"], maxPages: 1000 }, {
 *   // your extraction: stored with the page record as `data`
 *   handler: (page) => Effect.succeed({ price: /data-price="([\d.]+)"/.exec(page.text)?.[1] ?? null })
 * }).pipe(Effect.provide(Frontier.layer), Effect.provide(Db.layerConfig({ app: "crawl" })))
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { BlobStore, Db, type Http, type HttpError, Jsonl, Progress } from "@fiberkit/core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Extract from "./Extract.js"
import * as Fetcher from "./Fetcher.js"
import * as Frontier from "./Frontier.js"
import * as HostSlots from "./HostSlots.js"
import * as loop from "./internal/loop.js"
import * as Options from "./Options.js"
import * as Page from "./Page.js"
import * as Store from "./Store.js"
import * as Url from "./Url.js"
import * as Workers from "./Workers.js"

/**
 * A fetched HTML page, as a page handler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchedPage {
  /** The URL as stored in the frontier (normalized). */
  readonly url: string
  /** The URL that answered, after redirects. */
  readonly finalUrl: string
  readonly depth: number
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: Uint8Array
  /** The body decoded in its declared charset. */
  readonly text: string
  /** What the extractor found: title, description, canonical, robots meta, links. */
  readonly document: Extract.Extracted
}

/**
 * A page handler: your extraction for each fetched HTML page. What it
 * returns is stored with the page's record as `data` (so it must be JSON);
 * a failure is recorded on the page (`error_kind: "handler"`), not fatal.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<A, E, R> = (page: FetchedPage) => Effect.Effect<A, E, R>

/**
 * How a crawl ended, in numbers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary extends Store.Summary {
  /** `true` when a stop request ended the crawl before the frontier was done. */
  readonly stopped: boolean
  /** `true` when `maxPages` ended it. */
  readonly limitReached: boolean
  /** The wall time of this run, in ms. */
  readonly runMs: number
  /** Pages committed by this run. */
  readonly runPages: number
  /** This run's id in the crawl's `workers` table (empty when it did nothing, see `alreadyFinished`). */
  readonly worker: string
  /** `true` when a run joining the crawl found it finished already and did nothing. */
  readonly alreadyFinished: boolean
}

/**
 * The crawl cannot start or continue: bad options, a database that is not
 * a crawl database (or holds another crawl), or the database failing.
 *
 * @since 0.1.0
 * @category errors
 */
export class CrawlError extends Data.TaggedError("CrawlError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * Extra inputs of {@link crawl}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<A, E, R> {
  readonly handler?: Handler<A, E, R> | undefined
  /** Completing it asks for a graceful stop: no new claims, in-flight pages get `graceMs` to finish. */
  readonly stop?: Deferred.Deferred<void> | undefined
  /**
   * Join the crawl the database holds as one more worker (PostgreSQL): no
   * new crawl, no resume, no sitemaps at the start; the scope comes from
   * the stored start URLs (give the crawl's stored options). A crawl that is
   * finished already returns at once (`alreadyFinished`).
   */
  readonly join?: boolean | undefined
}

const errorKind = (error: HttpError.HttpError): Page.ErrorKind => {
  switch (error._tag) {
    case "TimeoutError":
      return "timeout"
    case "TransportError":
      return error.phase === "dns" ? "dns" : "transport"
    case "BodyTooLarge":
      return "too_large"
    case "RedirectError":
      return error.reason === "Loop" ? "redirect_loop" : error.reason === "TooMany" ? "too_many_redirects" : "invalid_redirect"
    case "DecodeError":
      return "decode"
    case "StatusError":
      return "http_status"
    case "InvalidUrl":
    case "InvalidRequest":
      return "invalid_url"
  }
}

/** Keys kept in the cache of recently stored links (about 100 bytes each). */
const RECENT_KEYS = 100_000

/** A bounded set: the oldest entry goes when it is full. */
class RecentKeys {
  private readonly keys = new Set<string>()
  constructor(private readonly capacity: number) {}
  has(key: string): boolean {
    return this.keys.has(key)
  }
  add(key: string): void {
    if (this.keys.has(key)) return
    this.keys.add(key)
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next()
      if (oldest.done !== true) this.keys.delete(oldest.value)
    }
  }
}

/** Tries of a URL whose site's robots.txt cannot be fetched, before it fails with `robots_unavailable`. */
const ROBOTS_ATTEMPTS = 3
/** The first wait before trying such a URL again (doubling each time). */
const ROBOTS_RETRY_MS = 5_000

const firstHeader = (v: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof v === "string" ? v : v?.[0]

const toCrawlError = (reason: string) => (cause: { readonly message: string }) =>
  new CrawlError({ reason: `${reason}: ${cause.message}`, cause })

/**
 * Runs a crawl to its end (or to a stop request) and returns its summary.
 * Needs a {@link Frontier.Frontier} (and through it a `Db`), a
 * `FileSystem`/`Path` for the JSONL output and saved bodies, and whatever
 * the handler needs.
 *
 * @since 0.1.0
 * @category running
 */
export const crawl = <A = never, E = never, R = never>(
  input: Partial<Options.Options>,
  run: RunOptions<A, E, R> = {}
): Effect.Effect<Summary, CrawlError, Frontier.Frontier | Db.Db | FileSystem.FileSystem | Path.Path | R> =>
  Effect.scoped(Effect.gen(function*() {
    const options = yield* Either.match(Options.make(input), {
      onLeft: (error) => Effect.fail(new CrawlError({ reason: error.message, cause: error })),
      onRight: Effect.succeed
    })
    const frontier = yield* Frontier.Frontier
    const normalizeOptions: Url.Options = { sortQuery: options.sortQuery, stripTracking: options.stripTracking }

    // -- start or resume --------------------------------------------------
    const seeds: Array<Url.Normalized> = []
    for (const seed of options.seeds) {
      const normalized = Url.normalize(seed, normalizeOptions)
      if (Either.isLeft(normalized)) {
        return yield* Effect.fail(new CrawlError({ reason: `invalid start URL: ${normalized.left.message}` }))
      }
      seeds.push(normalized.right)
    }
    const db = yield* Db.Db
    const storedSeeds = (crawl: Frontier.Crawl) =>
      crawl.seeds.flatMap((url) => Either.getOrElse(Either.map(Url.normalize(url, normalizeOptions), (n) => [n]), () => []))
    let scopeSeeds: ReadonlyArray<Url.Normalized> = seeds
    if (run.join === true) {
      const crawl = yield* frontier.crawl().pipe(Effect.mapError(toCrawlError("cannot read the crawl")))
      if (Option.isNone(crawl)) {
        return yield* new CrawlError({
          reason: `${db.target} holds no crawl to join. Start one first: crawl <url> --db <the same database>`
        })
      }
      if (seeds.length === 0) scopeSeeds = storedSeeds(crawl.value)
    } else if (options.resume) {
      // Dead workers' leases go back first (on this machine, those of
      // processes that are gone); live workers of a Postgres crawl keep theirs.
      yield* Workers.reap().pipe(Effect.mapError(toCrawlError("cannot resume")))
      const resumed = yield* frontier.resume().pipe(
        Effect.mapError((error) =>
          error._tag === "NoCrawl"
            ? new CrawlError({ reason: `${error.message}`, cause: error })
            : toCrawlError("cannot resume")(error)
        )
      )
      if (seeds.length === 0) scopeSeeds = storedSeeds(resumed.crawl)
    } else {
      yield* frontier.init({
        seeds: seeds.map((s) => ({ key: s.href, url: s.href, host: s.host, depth: 0 })),
        options: { ...options, saveBodies: options.saveBodies ?? null }
      }).pipe(Effect.mapError(toCrawlError("cannot start the crawl")))
    }
    const inScope = yield* Either.match(
      Url.scope(scopeSeeds, options.scope, { include: options.include, exclude: options.exclude }),
      { onLeft: (error) => Effect.fail(new CrawlError({ reason: error.message, cause: error })), onRight: Effect.succeed }
    )

    // -- this worker ----------------------------------------------------------
    const startedAt = yield* Clock.currentTimeMillis
    if (run.join === true) {
      const state = yield* frontier.finished().pipe(Effect.mapError(toCrawlError("cannot read the crawl")))
      if (state.finished) {
        const summary = yield* Store.summary.pipe(Effect.mapError(toCrawlError("cannot read the results")))
        return { ...summary, stopped: false, limitReached: false, runMs: 0, runPages: 0, worker: "", alreadyFinished: true }
      }
    }
    const worker = yield* Workers.register({ leaseMs: options.leaseMs }).pipe(
      Effect.mapError(toCrawlError("cannot register this worker"))
    )
    // How this worker ended, for the workers table (a process killed outright is found dead by the others).
    let endState: Workers.EndState = "failed"
    const counters = new loop.Counters()
    yield* Effect.addFinalizer((exit) =>
      Workers.end(worker.id, Exit.isInterrupted(exit) ? "stopped" : Exit.isSuccess(exit) ? endState : "failed", counters.pages).pipe(
        Effect.catchAll((error) => Effect.logWarning(`could not record the end of worker ${worker.id}: ${error.message}`))
      )
    )
    // Postgres: politeness for all workers together; SQLite: one process, whose own limits are exact.
    const slots = db.dialect === "pg"
      ? Option.some(yield* HostSlots.make({ worker: worker.id, perHost: options.perHost, rate: options.rate }))
      : Option.none<HostSlots.Service>()

    const fetcher = yield* Fetcher.make(options, inScope, normalizeOptions, scopeSeeds.map((seed) => seed.host)).pipe(
      Option.isSome(slots) ? Effect.provideService(HostSlots.HostSlots, slots.value) : (self) => self,
      Effect.mapError(toCrawlError("invalid HTTP settings"))
    )
    const blobs = options.saveBodies === undefined
      ? undefined
      : yield* BlobStore.make({ root: options.saveBodies }).pipe(Effect.mapError(toCrawlError("cannot open the body store")))

    // -- sitemaps at the start ------------------------------------------------
    if (!options.resume && run.join !== true) {
      const sitemapUrls = [...options.sitemapUrls]
      if (options.sitemaps) {
        for (const seed of seeds) sitemapUrls.push(...(yield* fetcher.sitemapsOf(seed)))
      }
      for (const sitemap of new Set(sitemapUrls)) {
        const urls = yield* fetcher.sitemap(sitemap)
        const discovered: Array<Page.Discovered> = []
        for (const url of urls) {
          const normalized = Url.normalize(url, normalizeOptions)
          if (Either.isRight(normalized) && inScope(normalized.right) === true) {
            discovered.push({ key: normalized.right.href, url: normalized.right.href, host: normalized.right.host, depth: 1, parentId: 0 })
          }
        }
        if (discovered.length > 0) yield* frontier.seed(discovered).pipe(Effect.mapError(toCrawlError("cannot store sitemap URLs")))
      }
    }

    // -- output ---------------------------------------------------------------
    let writer: Jsonl.Writer<Page.PageRecord> | undefined
    if (options.out !== undefined) {
      // A joining worker's file holds its own pages (appended); `export` writes the whole crawl.
      if (options.resume && run.join !== true) {
        yield* Store.regenerateJsonl(options.out).pipe(Effect.mapError(toCrawlError(`cannot rewrite ${options.out}`)))
      }
      writer = yield* Jsonl.writer(options.out, Page.PageRecord, { maxRecords: 256, maxDelay: "1 second", makeDirectories: true }).pipe(
        Effect.mapError(toCrawlError(`cannot open ${options.out}`))
      )
    }

    // -- progress -------------------------------------------------------------
    const errorsByKind = new Map<string, number>()
    let queued = 0
    const progress = options.progress
      ? yield* Progress.make({
        label: "crawl",
        detail: () => {
          const errors = [...errorsByKind].map(([kind, n]) => `${kind} ${n}`).join(", ")
          const backoff = fetcher.hostsInBackoff()
          return `queued ${queued}  in-flight ${counters.inFlight}` +
            (backoff > 0 ? `  hosts in backoff ${backoff}` : "") +
            (errors !== "" ? `  (${errors})` : "")
        }
      })
      : undefined
    if (progress !== undefined) {
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
        Effect.sleep("2 seconds"),
        Effect.flatMap(frontier.stats().pipe(Effect.option), (stats) =>
          Effect.sync(() => {
            if (Option.isSome(stats)) queued = stats.value.urls.pending
          }))
      )))
    }

    // -- links already stored --------------------------------------------------
    // A bounded cache of keys committed lately: navigation links repeat on
    // every page, and skipping their (idempotent) insert-if-absent saves most
    // of the frontier's writes. Bounded, so memory does not grow with the
    // crawl; filled only after commit, so a key is never skipped before it is
    // really stored.
    const recent = new RecentKeys(RECENT_KEYS)

    // -- one page ---------------------------------------------------------------
    const handler = run.handler
    const visit = (lease: Page.Lease): Effect.Effect<Page.Completion, never, R> =>
      Effect.gen(function*() {
        const normalized = Url.normalize(lease.url, normalizeOptions)
        const now = yield* Clock.currentTimeMillis
        const base = {
          url: lease.url,
          final_url: null,
          status: null,
          content_type: null,
          bytes: null,
          title: null,
          canonical: null,
          depth: lease.depth,
          links_out: 0,
          fetched_at: new Date(now).toISOString(),
          elapsed_ms: null,
          error_kind: null,
          error_message: null
        } satisfies Page.PageRecord
        if (Either.isLeft(normalized)) {
          return { _tag: "Failed", lease, record: { ...base, error_kind: "invalid_url", error_message: normalized.left.message } }
        }
        const fetched = yield* fetcher.fetch(normalized.right)
        switch (fetched._tag) {
          case "Disallowed":
            return { _tag: "Skipped", lease, reason: "robots_disallowed" }
          case "Refused":
            // Recorded (nothing was sent), so the output says why the page is missing.
            return { _tag: "Failed", lease, record: { ...base, error_kind: "private_address", error_message: fetched.refused.message } }
          case "RobotsUnavailable":
            // RFC 9309: a site whose robots.txt fails is not crawled; ask again a little later, then give up on the URL.
            return lease.attempts >= ROBOTS_ATTEMPTS
              ? {
                _tag: "Failed",
                lease,
                record: { ...base, error_kind: "robots_unavailable", error_message: "robots.txt could not be fetched (5xx, 429 or unreachable) after several tries" }
              }
              : { _tag: "Postponed", lease, until: now + ROBOTS_RETRY_MS * 2 ** lease.attempts, reason: "robots_unavailable" }
          case "Error":
            return {
              _tag: "Failed",
              lease,
              record: { ...base, elapsed_ms: fetched.elapsedMs, error_kind: errorKind(fetched.error), error_message: fetched.error.message }
            }
          case "Response":
            return yield* page(lease, fetched.response, fetched.elapsedMs, base)
        }
      })

    const page = (
      lease: Page.Lease,
      response: Http.HttpResponse,
      elapsedMs: number,
      base: Page.PageRecord
    ): Effect.Effect<Page.Completion, never, R> =>
      Effect.gen(function*() {
        const status = response.status
        const contentType = response.header("content-type") ?? null
        let record: Page.PageRecord = {
          ...base,
          final_url: response.url,
          status,
          content_type: contentType,
          bytes: response.body.length,
          elapsed_ms: elapsedMs
        }
        const links: Array<Page.Discovered> = []
        const seen = new Set<string>()
        const discover = (target: Url.Normalized, depth: number): void => {
          if (seen.has(target.href) || target.href === lease.key || recent.has(target.href)) return
          if (options.maxDepth !== undefined && depth > options.maxDepth) return
          if (inScope(target) !== true) return
          seen.add(target.href)
          links.push({ key: target.href, url: target.href, host: target.host, depth, parentId: lease.id })
        }

        if (status >= 300 && status < 400) {
          // A redirect not followed: out of scope, or its host's robots.txt not known yet.
          const location = firstHeader(response.headers["location"])
          const target = location === undefined ? undefined : Url.resolve(location, response.url, normalizeOptions)
          if (target !== undefined && Either.isRight(target) && inScope(target.right) === true) {
            // Redirect hops do not add depth.
            discover(target.right, lease.depth)
            record = { ...record, final_url: target.right.href, links_out: links.length }
          } else {
            record = {
              ...record,
              error_kind: "out_of_scope_redirect",
              error_message: `redirect to ${location ?? "(no Location)"}, outside the crawl's scope: recorded, not fetched`
            }
          }
          return { _tag: "Done", lease, record, links }
        }
        if (status >= 400) {
          record = { ...record, error_kind: "http_status", error_message: `HTTP ${status}` }
          return { _tag: "Done", lease, record, links }
        }
        if (!Extract.isHtml(contentType, response.body)) {
          record = { ...record, error_kind: "not_html", error_message: null }
          return { _tag: "Done", lease, record, links }
        }

        const text = response.text
        const document = Extract.parse(text, response.url, { normalize: normalizeOptions })
        record = { ...record, title: document.title ?? null, canonical: document.canonical ?? null }
        if (!document.nofollow) {
          for (const link of document.links) {
            if (!link.nofollow && link.url !== undefined) discover(link.url, lease.depth + 1)
          }
        }
        record = { ...record, links_out: document.links.length }

        if (blobs !== undefined) {
          // A full disk must not fail the page: the record says the body was not kept (body_key null) and the log says why.
          const key = yield* blobs.put(response.body).pipe(
            Effect.tapError((error) => Effect.logWarning(`body of ${lease.url} not saved: ${error.message}`)),
            Effect.option
          )
          record = { ...record, body_key: Option.getOrNull(key) }
        }
        if (handler !== undefined) {
          const fetchedPage: FetchedPage = {
            url: lease.url,
            finalUrl: response.url,
            depth: lease.depth,
            status,
            headers: response.headers,
            body: response.body,
            text,
            document
          }
          const data = yield* Effect.either(handler(fetchedPage))
          record = Either.isRight(data)
            ? { ...record, data: data.right }
            : {
              ...record,
              error_kind: "handler",
              error_message: data.left instanceof Error ? data.left.message : String(data.left)
            }
        }
        return { _tag: "Done", lease, record, links }
      })

    // -- run ------------------------------------------------------------------
    // -- heartbeat -------------------------------------------------------------
    // Every third of a lease: say this worker is alive, renew its leases,
    // and hand back the work of workers found dead. A failed beat is tried
    // again at the next one; a worker the others found dead stops.
    const heartbeat = (tokens: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const alive = yield* Workers.heartbeat(worker.id, counters.pages)
        if (!alive) {
          return yield* new CrawlError({
            reason: `this worker (${worker.id}) was found dead by another worker: no heartbeat for ${
              options.leaseMs / 1000
            } s (the process was paused, or cut off from the database). Its leases went to the other workers; start it again to rejoin`
          })
        }
        if (tokens.length > 0) yield* frontier.renew(tokens, options.leaseMs)
        const reaped = yield* Workers.reap(worker.id)
        if (reaped.dead.length > 0) {
          yield* Effect.logWarning(
            `worker(s) ${reaped.dead.join(", ")} found dead: ${reaped.leases} leases and ${reaped.slots} host slots handed back`
          )
        }
      }).pipe(Effect.catchAll((error) =>
        error instanceof CrawlError
          ? Effect.fail(error)
          : Effect.logWarning(`heartbeat failed (tried again at the next one): ${error.message}`)
      ))
    if (db.dialect === "pg") {
      // Leases of workers that died while nobody was beating go back before the first claim.
      yield* Workers.reap(worker.id).pipe(Effect.mapError(toCrawlError("cannot reap dead workers")))
    }

    const stop = run.stop ?? (yield* Deferred.make<void>())
    const result = yield* loop.run(
      frontier,
      visit,
      {
        committed: (completions) =>
          Effect.gen(function*() {
            const records: Array<Page.PageRecord> = []
            let failed = 0
            for (const c of completions) {
              if (c._tag === "Done") for (const link of c.links) recent.add(link.key)
              if (c._tag !== "Done" && c._tag !== "Failed") continue
              records.push(c.record)
              const kind = c.record.error_kind
              if (kind !== null) {
                errorsByKind.set(kind, (errorsByKind.get(kind) ?? 0) + 1)
                if (c._tag === "Failed") failed++
              }
            }
            if (writer !== undefined && records.length > 0) {
              yield* writer.writeAll(records).pipe(Effect.mapError(toCrawlError(`cannot write ${options.out ?? ""}`)))
            }
            if (progress !== undefined) {
              yield* progress.advance(records.length - failed)
              if (failed > 0) yield* progress.error(failed)
            }
          }),
        heartbeat
      },
      {
        workers: options.concurrency,
        leaseMs: options.leaseMs,
        maxPages: options.maxPages,
        graceMs: options.graceMs,
        batch: 128,
        lingerMs: 10,
        owner: worker.id
      },
      stop,
      counters
    ).pipe(Effect.mapError((error) => error instanceof CrawlError ? error : toCrawlError("the crawl failed")(error)))
    if (writer !== undefined) yield* writer.sync.pipe(Effect.mapError(toCrawlError(`cannot write ${options.out ?? ""}`)))
    const finishedAt = yield* Clock.currentTimeMillis
    endState = result.stopped ? "stopped" : "done"
    // So that `status` shows who died during the crawl, even if nobody beat since.
    yield* Workers.reap(worker.id).pipe(Effect.catchAll((error) => Effect.logWarning(`could not reap dead workers: ${error.message}`)))
    const summary = yield* Store.summary.pipe(Effect.mapError(toCrawlError("cannot read the results")))
    return {
      ...summary,
      stopped: result.stopped,
      limitReached: result.limitReached,
      runMs: finishedAt - startedAt,
      runPages: counters.pages,
      worker: worker.id,
      alreadyFinished: false
    }
  }))
