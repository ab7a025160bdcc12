/**
 * `Progress`: a terminal progress display for long work — done/total with a
 * percentage (or just done while the total is unknown), rate, ETA and
 * errors:
 *
 * ```text
 * pages  1200/5000 (24%)  85/s  ETA 44s  3 errors
 * ```
 *
 * On a TTY the line is redrawn in place (carriage return, erase line) at
 * most every `intervalMs` (default 100 ms); elsewhere a plain line is printed
 * every `intervalMs` (default 10 s). When the scope closes a last line stays:
 * the overall rate and the time taken (`pages  5000/5000 (100%)  83/s  in 1m00s`).
 *
 * Counting is cheap (`advance` adds to a number); all formatting happens on
 * the timer. The rate is measured over the last ~10 s and the ETA is the
 * remaining items at that rate; both read the Effect `Clock`, so `TestClock`
 * makes them exact in tests.
 *
 * Log lines never share a line with a progress line: the loggers of
 * `Logging` are wrapped with {@link logger}, which erases every progress line
 * on screen before a log line is written; the progress line comes back on
 * its next tick. Wrap any other logger that writes to the same terminal the
 * same way. One display per terminal at a time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Logging, Progress } from "@fiberkit/core"
 *
 * // each page's outcome is kept (Either); the display counts failures as errors
 * const fetchAll = <A, E>(urls: ReadonlyArray<string>, fetchOne: (url: string) => Effect.Effect<A, E>) =>
 *   Effect.gen(function*() {
 *     const progress = yield* Progress.make({ label: "pages", total: urls.length })
 *     return yield* Effect.forEach(urls, (url) =>
 *       fetchOne(url).pipe(
 *         Effect.tapBoth({ onFailure: () => progress.error(), onSuccess: () => progress.advance() }),
 *         Effect.either
 *       ), { concurrency: 16 })
 *   }).pipe(Effect.scoped, Effect.provide(Logging.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/progress.js"

/**
 * Where the display writes: `process.stderr` by default (stdout stays free
 * for data), or any `Writable`-like object. `isTTY` picks the mode unless
 * {@link Options.isTTY} says otherwise; `columns` cuts lines to the terminal
 * width.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  write(chunk: string): unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Shown first on the line. */
  readonly label: string
  /** Items expected; leave out while unknown and set it later with `setTotal` / `addTotal`. */
  readonly total?: number | undefined
  /** Default `process.stderr`. */
  readonly output?: Output | undefined
  /** Redraw in place (`true`) or print plain lines (`false`). Default: `output.isTTY`. */
  readonly isTTY?: boolean | undefined
  /** Time between redraws (TTY, default `100`) or between plain lines (default `10_000`). */
  readonly intervalMs?: number | undefined
  /**
   * Extra text appended to each rendered line, computed at render time only
   * (e.g. queue depths, in-flight counts, errors by kind).
   */
  readonly detail?: (() => string) | undefined
}

/**
 * A running progress display.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** `n` items (default 1) finished. */
  readonly advance: (n?: number) => Effect.Effect<void>
  /** `n` items (default 1) finished with an error: they count as done and as errors. */
  readonly error: (n?: number) => Effect.Effect<void>
  /** Sets the number of items expected. */
  readonly setTotal: (total: number) => Effect.Effect<void>
  /** Adds to the number of items expected, e.g. as a crawler discovers links (starts from 0 when unknown). */
  readonly addTotal: (n: number) => Effect.Effect<void>
}

/**
 * Starts a display, shown until the scope closes, when its last line is
 * written. Dies if `intervalMs` is not a positive number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Progress, never, Scope.Scope> = internal.make

/**
 * Wraps a logger so that its lines never share a terminal line with a
 * progress line: every progress line on screen is erased before the logger
 * runs (and redrawn on its display's next tick). The loggers of `Logging`
 * are already wrapped; use this for your own.
 *
 * @example
 * ```ts
 * import { Logger } from "effect"
 * import { Progress } from "@fiberkit/core"
 *
 * const layer = Logger.replace(Logger.defaultLogger, Progress.logger(Logger.withConsoleError(Logger.logfmtLogger)))
 * ```
 *
 * @since 0.1.0
 * @category loggers
 */
export const logger: <M, O>(self: Logger.Logger<M, O>) => Logger.Logger<M, O> = internal.logger
