/**
 * The progress display: counters updated on the hot path, and a line
 * rendered from them on a timer (so the cost of `advance` never depends on
 * how often the terminal is redrawn).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as GlobalValue from "effect/GlobalValue"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import type { Options, Output, Progress } from "../Progress.js"

/** Carriage return, then erase the whole line. */
const CLEAR = "\r\x1b[2K"

/** The rate (and so the ETA) is measured over roughly this much recent time. */
const RATE_WINDOW_MS = 10_000

const DEFAULT_TTY_INTERVAL_MS = 100
const DEFAULT_PLAIN_INTERVAL_MS = 10_000

/**
 * The progress lines currently drawn on a terminal. Process-wide on purpose:
 * the terminal is, and a log line written by any fiber must clear them.
 */
const drawn = GlobalValue.globalValue("@fiberkit/core/Progress/drawn", () => new Set<Display>())

/**
 * Erases every progress line on screen; each is redrawn on its next tick,
 * so a burst of log lines costs one erase, not one redraw per line.
 *
 * @internal
 */
export const clearDrawn = (): void => {
  if (drawn.size === 0) return
  for (const display of drawn) display.clear()
}

/** @internal */
export const logger = <M, O>(self: Logger.Logger<M, O>): Logger.Logger<M, O> =>
  Logger.make((options) => {
    clearDrawn()
    return self.log(options)
  })

/** @internal */
export class Display implements Progress {
  done = 0
  errors = 0
  /** Flat `[time, done]` pairs, oldest first: the base of the rate is the first pair. */
  private readonly samples: Array<number>
  /** What is on screen (TTY), to skip identical redraws. */
  private shown = ""
  private visible = false

  constructor(
    readonly label: string,
    public total: number | undefined,
    readonly output: Output,
    readonly tty: boolean,
    readonly startedAt: number,
    readonly detail: (() => string) | undefined = undefined
  ) {
    this.samples = [startedAt, 0]
  }

  advance(n = 1): Effect.Effect<void> {
    return Effect.sync(() => {
      this.done += n
    })
  }

  error(n = 1): Effect.Effect<void> {
    return Effect.sync(() => {
      this.done += n
      this.errors += n
    })
  }

  setTotal(total: number): Effect.Effect<void> {
    return Effect.sync(() => {
      this.total = total
    })
  }

  addTotal(n: number): Effect.Effect<void> {
    return Effect.sync(() => {
      this.total = (this.total ?? 0) + n
    })
  }

  clear(): void {
    if (!this.visible) return
    this.output.write(CLEAR)
    this.visible = false
  }

  /** One timer tick: redraw in place (TTY) or print a line. */
  tick(now: number): void {
    const line = this.line(now, this.windowRate(now), false)
    if (!this.tty) {
      this.output.write(line + "\n")
      return
    }
    const fitted = fit(line, this.output.columns)
    if (this.visible && fitted === this.shown) return
    this.output.write(CLEAR + fitted)
    this.shown = fitted
    this.visible = true
  }

  /** The last line, left on screen: overall rate and elapsed time instead of an ETA. */
  finish(now: number): void {
    const elapsed = now - this.startedAt
    const line = this.line(now, elapsed > 0 ? this.done / (elapsed / 1000) : 0, true)
    this.output.write(this.tty ? CLEAR + fit(line, this.output.columns) + "\n" : line + "\n")
    this.visible = false
  }

  /** Records a sample and returns items per second over the recent window. */
  private windowRate(now: number): number {
    const samples = this.samples
    samples.push(now, this.done)
    // keep the newest sample that is at least a window old as the base
    let drop = 0
    while (samples.length - drop > 4 && (samples[drop + 2] ?? now) <= now - RATE_WINDOW_MS) drop += 2
    if (drop > 0) samples.splice(0, drop)
    const baseTime = samples[0] ?? now
    const baseDone = samples[1] ?? 0
    return now > baseTime ? (this.done - baseDone) / ((now - baseTime) / 1000) : 0
  }

  private line(now: number, rate: number, final: boolean): string {
    const parts = [this.label]
    const total = this.total
    if (total === undefined) {
      parts.push(String(this.done))
    } else {
      const pct = total > 0 ? Math.min(100, Math.floor((this.done / total) * 100)) : 100
      parts.push(`${this.done}/${total} (${pct}%)`)
    }
    parts.push(`${formatRate(rate)}/s`)
    if (final) {
      parts.push(`in ${formatDuration(now - this.startedAt)}`)
    } else if (total !== undefined) {
      const remaining = Math.max(0, total - this.done)
      parts.push(
        remaining === 0 ? "ETA 0s" : rate > 0 ? `ETA ${formatDuration((remaining / rate) * 1000)}` : "ETA --"
      )
    }
    if (this.errors > 0) parts.push(this.errors === 1 ? "1 error" : `${this.errors} errors`)
    const detail = this.detail?.()
    if (detail !== undefined && detail !== "") parts.push(detail)
    return parts.join("  ")
  }

  register(): void {
    if (this.tty) drawn.add(this)
  }

  unregister(): void {
    drawn.delete(this)
  }
}

/** Cuts a line to the terminal width: a wrapped line could not be erased with `\r`. */
const fit = (line: string, columns: number | undefined): string =>
  columns !== undefined && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line

/** @internal */
export const formatRate = (rate: number): string => (rate < 10 ? rate.toFixed(1) : String(Math.round(rate)))

/** @internal */
export const formatDuration = (ms: number): string => {
  const seconds = ms / 1000
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  const whole = Math.round(seconds)
  if (whole < 60) return `${whole}s`
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s`
  const minutes = Math.round(whole / 60)
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

const validInterval = (ms: number): boolean => Number.isFinite(ms) && ms > 0

/** @internal */
export const make = (options: Options): Effect.Effect<Display, never, Scope.Scope> =>
  Effect.gen(function*() {
    const output = options.output ?? process.stderr
    const tty = options.isTTY ?? output.isTTY === true
    const requested = options.intervalMs ?? (tty ? DEFAULT_TTY_INTERVAL_MS : DEFAULT_PLAIN_INTERVAL_MS)
    if (!validInterval(requested)) {
      return yield* Effect.dieMessage(
        `Progress "${options.label}": intervalMs must be a positive number of milliseconds, got ${requested}`
      )
    }
    const display = yield* Effect.acquireRelease(
      Effect.map(Clock.currentTimeMillis, (now) => {
        const display = new Display(options.label, options.total, output, tty, now, options.detail)
        display.register()
        if (tty) display.tick(now)
        return display
      }),
      (display) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          display.unregister()
          display.finish(now)
        })
    )
    // forked after the acquire, so it is interrupted before the final line is written
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(
          Effect.sleep(requested),
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => display.tick(now)))
        )
      )
    )
    return display
  })
