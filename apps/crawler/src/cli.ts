/**
 * The `crawl` command line: `crawl <url...> [options]` (the default),
 * `crawl worker` (join a Postgres crawl as one more process),
 * `crawl status`, `crawl export`. It parses flags, provides layers and
 * prints; the crawling is `Crawler.crawl`.
 *
 * Exit codes: `0` done, `2` bad input (one line on stderr, no stack trace),
 * `130` stopped by SIGINT/SIGTERM (the resume command is printed), `1` an
 * unexpected failure.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as CliOptions from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Db, Logging } from "@fiberkit/core"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Crawler from "./Crawler.js"
import * as Frontier from "./Frontier.js"
import * as Options from "./Options.js"
import * as Store from "./Store.js"
import * as stored from "./internal/stored.js"
import * as Url from "./Url.js"
import * as Workers from "./Workers.js"

/**
 * A user error: printed as one line on stderr, exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

// ---------------------------------------------------------------------------
// Shared flags
// ---------------------------------------------------------------------------

const db = CliOptions.text("db").pipe(
  CliOptions.withDescription(
    "Where the crawl is stored: a SQLite file path, or a postgres:// URL. Default: $DATABASE_URL, else ./data/crawl.db."
  ),
  CliOptions.optional
)

/** The database layer for `--db` (or the environment, or ./data/crawl.db). */
const dbLayer = (value: Option.Option<string>) => {
  // Every commit is fsynced (SQLite synchronous=FULL): group commits make that cheap.
  const base: Db.Input = { app: "crawl", sqliteSynchronous: "full" }
  const input: Db.Input = Option.match(value, {
    onNone: () => base,
    onSome: (target) => /^postgres(ql)?:\/\//i.test(target) ? { ...base, url: target } : { ...base, filename: target }
  })
  return Frontier.layer.pipe(Layer.provideMerge(Db.layerConfig(input)))
}

const openError = (error: { readonly _tag: string; readonly message: string }) =>
  new UsageError({ message: error.message })

// ---------------------------------------------------------------------------
// crawl
// ---------------------------------------------------------------------------

const positive = (name: string, description: string, fallback?: number) => {
  const base = CliOptions.integer(name).pipe(CliOptions.withDescription(description))
  return fallback === undefined ? CliOptions.optional(base) : base.pipe(CliOptions.withDefault(fallback), CliOptions.map(Option.some))
}

const crawlFlags = {
  urls: Args.text({ name: "url" }).pipe(Args.withDescription("Start URLs (http or https). Required unless --resume."), Args.repeated),
  db,
  out: CliOptions.text("out").pipe(
    CliOptions.withDescription("Append every page's record to this JSONL file as pages complete. Default: no file (records stay in --db; see export)."),
    CliOptions.optional
  ),
  concurrency: positive("concurrency", `Requests in flight at once, all hosts together. Default: ${Options.defaults.concurrency}.`, Options.defaults.concurrency),
  perHost: positive("per-host", `Requests in flight at once to one host. Default: ${Options.defaults.perHost}.`, Options.defaults.perHost),
  rate: CliOptions.float("rate").pipe(
    CliOptions.withDescription("Request starts per second to one host (default: no limit beyond robots Crawl-delay)."),
    CliOptions.optional
  ),
  maxPages: positive("max-pages", "Stop after this many pages (default: no limit)."),
  maxDepth: CliOptions.integer("max-depth").pipe(
    CliOptions.withDescription("Do not follow links deeper than this; start URLs are depth 0 (default: no limit)."),
    CliOptions.optional
  ),
  scope: CliOptions.choice("scope", Url.scopeModes).pipe(
    CliOptions.withDescription(`Which URLs belong to the crawl, relative to the start URLs: same-host (host and port), same-origin (scheme too), same-domain (registrable domain, public suffix list), prefix (URL starts with a start URL), any. Default: ${Options.defaults.scope}.`),
    CliOptions.withDefault(Options.defaults.scope)
  ),
  include: CliOptions.text("include").pipe(
    CliOptions.withDescription("Only URLs matching this regular expression (repeatable; any one matches)."),
    CliOptions.repeated
  ),
  exclude: CliOptions.text("exclude").pipe(
    CliOptions.withDescription("Never URLs matching this regular expression (repeatable; wins over --include)."),
    CliOptions.repeated
  ),
  noRobots: CliOptions.boolean("no-robots").pipe(
    CliOptions.withDescription("Ignore robots.txt. Default: off (its Disallow/Allow rules and Crawl-delay are obeyed).")
  ),
  sitemaps: CliOptions.boolean("sitemaps").pipe(
    CliOptions.withDescription("Also read the sitemaps robots.txt lists (index and gzip supported). Default: off.")
  ),
  sitemap: CliOptions.text("sitemap").pipe(
    CliOptions.withDescription("A sitemap to read at the start (repeatable). Default: none."),
    CliOptions.repeated
  ),
  userAgent: CliOptions.text("user-agent").pipe(
    CliOptions.withDescription(`User-Agent header; its first token is matched against robots.txt groups. Default: ${Options.defaults.userAgent}.`),
    CliOptions.withDefault(Options.defaults.userAgent)
  ),
  timeout: CliOptions.float("timeout").pipe(
    CliOptions.withDescription(`Seconds one request attempt may take. Default: ${Options.defaults.timeoutMs / 1000}.`),
    CliOptions.withDefault(Options.defaults.timeoutMs / 1000)
  ),
  retries: CliOptions.integer("retries").pipe(
    CliOptions.withDescription(`Retries of a failed request (timeouts, transport errors, 408/425/429/5xx), with backoff and Retry-After. Default: ${Options.defaults.retries}.`),
    CliOptions.withDefault(Options.defaults.retries)
  ),
  maxBytes: CliOptions.integer("max-bytes").pipe(
    CliOptions.withDescription(`Largest response body in bytes, after decompression. Default: ${Options.defaults.maxBytes} (10 MiB).`),
    CliOptions.withDefault(Options.defaults.maxBytes)
  ),
  allowPrivate: CliOptions.boolean("allow-private").pipe(
    CliOptions.withDescription("Also fetch hosts that resolve to private, loopback or link-local addresses. Default: off (only the start URLs' own hosts may; other such links, redirects and sitemap entries are recorded as private_address).")
  ),
  saveBodies: CliOptions.text("save-bodies").pipe(
    CliOptions.withDescription("Keep every body (gzip, content-addressed) in this directory, e.g. ./data/bodies. Default: bodies are not kept."),
    CliOptions.optional
  ),
  sortQuery: CliOptions.boolean("sort-query").pipe(
    CliOptions.withDescription("Treat URLs differing only in query parameter order as the same page. Default: off (query order is kept).")
  ),
  keepTracking: CliOptions.boolean("keep-tracking").pipe(
    CliOptions.withDescription("Keep tracking parameters (utm_*, gclid, fbclid, ...) in URLs. Default: off (they are dropped).")
  ),
  lease: CliOptions.float("lease").pipe(
    CliOptions.withDescription(`Seconds a claimed URL stays reserved. Each worker renews its leases every third of it; a worker silent this long is found dead and its work goes to the others. Default: ${Options.defaults.leaseMs / 1000}.`),
    CliOptions.withDefault(Options.defaults.leaseMs / 1000)
  ),
  resume: CliOptions.boolean("resume").pipe(
    CliOptions.withDescription("Continue the crawl stored in --db (start URLs may be left out). Default: off (a --db that already holds a crawl is refused).")
  ),
  noProgress: CliOptions.boolean("no-progress").pipe(
    CliOptions.withDescription("Do not show the progress display. Default: off (progress is shown on stderr).")
  ),
  logLevel: CliOptions.choice("log-level", ["trace", "debug", "info", "warning", "error", "none"] as const).pipe(
    CliOptions.withDescription("How much to log on stderr. Default: warning."),
    CliOptions.withDefault("warning" as const)
  )
}

type CrawlFlags = Command.Command.ParseConfig<typeof crawlFlags>

const toOptions = (flags: CrawlFlags): Partial<Options.Options> => ({
  seeds: flags.urls,
  concurrency: Option.getOrUndefined(flags.concurrency),
  perHost: Option.getOrUndefined(flags.perHost),
  rate: Option.getOrUndefined(flags.rate),
  maxPages: Option.getOrUndefined(flags.maxPages),
  maxDepth: Option.getOrUndefined(flags.maxDepth),
  scope: flags.scope,
  include: flags.include,
  exclude: flags.exclude,
  robots: !flags.noRobots,
  sitemaps: flags.sitemaps,
  sitemapUrls: flags.sitemap,
  userAgent: flags.userAgent,
  timeoutMs: flags.timeout * 1000,
  retries: flags.retries,
  maxBytes: flags.maxBytes,
  allowPrivate: flags.allowPrivate,
  saveBodies: Option.getOrUndefined(flags.saveBodies),
  sortQuery: flags.sortQuery,
  stripTracking: !flags.keepTracking,
  out: Option.getOrUndefined(flags.out),
  resume: flags.resume,
  leaseMs: flags.lease * 1000,
  progress: !flags.noProgress
})

const formatBytes = (n: number): string =>
  n >= 1024 * 1024 * 1024
    ? `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`
    : n >= 1024 * 1024
    ? `${(n / 1024 / 1024).toFixed(1)} MiB`
    : n >= 1024
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${n} B`

/**
 * The summary printed at the end of a crawl and by `status`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSummary = (s: Store.Summary, run?: { readonly ms: number; readonly pages: number }): string => {
  const lines: Array<string> = []
  const statuses = Object.entries(s.byStatus).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`)
  const errors = Object.entries(s.byErrorKind).sort(([, a], [, b]) => b - a).map(([k, v]) => `${k}: ${v}`)
  lines.push(`pages      ${s.pages} (${statuses.join(", ") || "none"})`)
  lines.push(
    `urls       ${s.urls.total} known: ${s.urls.done} done, ${s.urls.failed} failed, ${s.urls.skipped} skipped, ` +
      `${s.urls.pending} pending, ${s.urls.leased} leased`
  )
  if (errors.length > 0) lines.push(`errors     ${errors.join(", ")}`)
  lines.push(`bytes      ${formatBytes(s.bytes)}`)
  if (run !== undefined) {
    const rate = run.ms > 0 ? run.pages / (run.ms / 1000) : 0
    lines.push(`this run   ${run.pages} pages in ${(run.ms / 1000).toFixed(1)} s, ${rate.toFixed(1)} pages/s`)
  } else {
    lines.push(`elapsed    ${(s.elapsedMs / 1000).toFixed(1)} s (first to last fetch), ${s.pagesPerSecond.toFixed(1)} pages/s`)
  }
  return lines.join("\n")
}

const quote = (arg: string): string => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`

/**
 * Runs a crawl in this process with the signal handling of the command
 * line (first SIGINT/SIGTERM: graceful stop; second: stop at once), then
 * prints its summary. `options` is read once the database is open.
 */
const runCrawl = (
  dbFlag: Option.Option<string>,
  options: Effect.Effect<Partial<Options.Options>, UsageError, Frontier.Frontier>,
  run: { readonly join?: boolean; readonly again: (argv: ReadonlyArray<string>) => string }
) =>
  Effect.gen(function*() {
    const stop = yield* Deferred.make<void>()
    const interrupted = yield* Deferred.make<void>()
    // First signal: stop gracefully. Second: stop now (still consistent: leases go back, nothing half-written).
    let signals = 0
    const onSignal = () => {
      signals++
      if (signals === 1) {
        process.stderr.write("\nstopping: finishing in-flight pages (press Ctrl-C again to stop at once)\n")
        Deferred.unsafeDone(stop, Effect.void)
      } else {
        Deferred.unsafeDone(interrupted, Effect.void)
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        })
    )
    const { input, summary } = yield* Effect.gen(function*() {
      const input = yield* options
      const summary = yield* Crawler.crawl(input, { stop, join: run.join })
      return { input, summary }
    }).pipe(
      Effect.raceFirst(Effect.zipRight(Deferred.await(interrupted), Effect.fail(new UsageError({ message: "stopped at once" })))),
      Effect.provide(dbLayer(dbFlag)),
      Effect.mapError((error) => error._tag === "UsageError" ? error : new UsageError({ message: error.message }))
    )
    if (summary.alreadyFinished) {
      const id = summary.crawl === null ? "" : ` ${summary.crawl.id}`
      yield* Console.error(`crawl${id} is finished (${summary.pages} pages): nothing left to do. See: crawl status, crawl export`)
      return
    }
    yield* Console.error(formatSummary(summary, { ms: summary.runMs, pages: summary.runPages }))
    if (input.out !== undefined) yield* Console.error(`records    ${input.out}`)
    if (summary.stopped) {
      yield* Console.error(`stopped; continue with: npm run crawl -- ${run.again(process.argv.slice(2))}`)
      process.exitCode = 130
    }
  }).pipe(Effect.scoped)

const crawlCommand = Command.make("crawl", crawlFlags, (flags) =>
  runCrawl(flags.db, Effect.succeed(toOptions(flags)), {
    again: (argv) => [...argv.filter((arg) => arg !== "--resume"), "--resume"].map(quote).join(" ")
  }).pipe(Effect.provide(Logging.layerWith({ level: logLevel(flags.logLevel) })))
).pipe(Command.withDescription("Crawl from the start URLs: politely, resumably, each page stored exactly once."))

// ---------------------------------------------------------------------------
// worker
// ---------------------------------------------------------------------------

const isPostgres = (target: string): boolean => /^postgres(ql)?:\/\//i.test(target)

const workerCommand = Command.make(
  "worker",
  {
    db,
    concurrency: positive("concurrency", "Requests in flight at once for this worker, all hosts together. Default: the crawl's."),
    maxPages: positive("max-pages", "Stop this worker after this many pages (default: no limit)."),
    out: crawlFlags.out,
    noProgress: crawlFlags.noProgress,
    logLevel: crawlFlags.logLevel
  },
  (flags) =>
    Effect.gen(function*() {
      const target = Option.getOrElse(flags.db, () => process.env["DATABASE_URL"] ?? "")
      if (!isPostgres(target)) {
        return yield* new UsageError({
          message: "worker: joining a crawl needs PostgreSQL (--db postgres://... or DATABASE_URL). A SQLite crawl is run by one process; continue it with --resume"
        })
      }
      // The crawl's own options (scope, limits, lease...), this worker's concurrency and output.
      const options = Effect.gen(function*() {
        const crawl = yield* Effect.flatMap(Frontier.Frontier, (frontier) => frontier.crawl()).pipe(
          Effect.mapError((error) => new UsageError({ message: error.message }))
        )
        if (Option.isNone(crawl)) {
          return yield* new UsageError({
            message: `the database holds no crawl to join. Start one first: npm run crawl -- <url> --db ${target.replace(/\/\/[^@/]*@/, "//")}`
          })
        }
        return {
          ...stored.options(crawl.value),
          ...Option.match(flags.concurrency, { onNone: () => ({}), onSome: (concurrency) => ({ concurrency }) }),
          maxPages: Option.getOrUndefined(flags.maxPages),
          out: Option.getOrUndefined(flags.out),
          progress: !flags.noProgress
        }
      })
      yield* runCrawl(flags.db, options, { join: true, again: (argv) => argv.map(quote).join(" ") })
    }).pipe(Effect.provide(Logging.layerWith({ level: logLevel(flags.logLevel) })))
).pipe(Command.withDescription(
  "Join the crawl stored in a PostgreSQL --db as one more worker, with the crawl's own options; any number of workers on any number of machines. Exits when nothing is left."
))

const logLevel = (name: "trace" | "debug" | "info" | "warning" | "error" | "none") => {
  const parsed = Logging.parseLevel(name)
  return Option.getOrUndefined(parsed)
}

// ---------------------------------------------------------------------------
// status, export
// ---------------------------------------------------------------------------

const statusCommand = Command.make("status", { db }, (flags) =>
  Effect.gen(function*() {
    const summary = yield* Store.summary.pipe(Effect.mapError(openError))
    if (summary.crawl !== null) {
      yield* Console.log(`crawl      ${summary.crawl.id}, started ${new Date(summary.crawl.createdAt).toISOString()}`)
      yield* Console.log(`seeds      ${summary.crawl.seeds.join(" ")}`)
    }
    yield* Console.log(formatSummary(summary))
    const workers = yield* Workers.list.pipe(Effect.mapError(openError))
    if (workers.length > 0) yield* Console.log(Workers.format(workers, Date.now()))
  }).pipe(Effect.provide(dbLayer(flags.db)), Effect.mapError((e) => e._tag === "UsageError" ? e : openError(e)))
).pipe(Command.withDescription("Print the frontier and result counts of a stored crawl, and its workers (pages, rate, last heartbeat, alive or dead)."))

const exportCommand = Command.make(
  "export",
  {
    db,
    format: CliOptions.choice("format", ["jsonl", "csv"] as const).pipe(
      CliOptions.withDescription("Output format."),
      CliOptions.withDefault("jsonl" as const)
    ),
    out: CliOptions.text("out").pipe(
      CliOptions.withDescription("File to write (atomically); default: standard output."),
      CliOptions.optional
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const target = Option.getOrElse(flags.out, () => "/dev/stdout")
      const count = flags.format === "csv"
        ? yield* Store.exportCsv(target, Option.isNone(flags.out) ? { atomic: false } : undefined)
        : yield* Store.exportJsonl(target, Option.isNone(flags.out) ? { atomic: false } : undefined)
      if (Option.isSome(flags.out)) yield* Console.error(`${count} records written to ${flags.out.value}`)
    }).pipe(Effect.provide(dbLayer(flags.db)), Effect.mapError(openError))
).pipe(Command.withDescription("Write every stored page record as JSONL or CSV."))

/**
 * The root command: `crawl` with its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = crawlCommand.pipe(Command.withSubcommands([workerCommand, statusCommand, exportCommand]))

/**
 * Parses `argv` (as `process.argv`) and runs. User errors print one line on
 * stderr and set exit code 2.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "crawl", version: "0.1.0" })(argv).pipe(
    Effect.catchIf(
      (error): error is UsageError | ValidationError.ValidationError =>
        error instanceof UsageError || ValidationError.isValidationError(error),
      (error) =>
        Effect.gen(function*() {
          // @effect/cli prints its own help for flag errors already.
          if (error instanceof UsageError) yield* Console.error(`crawl: ${error.message}`)
          process.exitCode = 2
        })
    ),
    Effect.provide(NodeContext.layer)
  )
