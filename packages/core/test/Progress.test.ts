/**
 * The display is driven by the TestClock, so every line (rate and ETA
 * included) is asserted exactly. Interleaving is checked on the screen a
 * terminal would show, by replaying the bytes through a tiny terminal model.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/TestClock"
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import * as internal from "../src/internal/progress.js"
import * as Logging from "../src/Logging.js"
import * as Progress from "../src/Progress.js"

/** An output that keeps every write. */
const buffer = (isTTY: boolean, columns?: number) => {
  const writes: Array<string> = []
  return {
    writes,
    isTTY,
    columns,
    write(chunk: string) {
      writes.push(chunk)
      return true
    },
    text: () => writes.join("")
  }
}

/**
 * The lines a terminal shows after receiving `text`: `\r` returns to column
 * 0, `ESC[2K` erases the line, `\n` starts a new line, anything else is
 * written over what is there.
 */
const screen = (text: string): Array<string> => {
  const lines: Array<string> = []
  let line: Array<string> = []
  let col = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (text.startsWith("\x1b[2K", i)) {
      line = []
      i += 3
    } else if (ch === "\r") {
      col = 0
    } else if (ch === "\n") {
      lines.push(line.join(""))
      line = []
      col = 0
    } else if (ch !== undefined) {
      while (line.length < col) line.push(" ")
      line[col] = ch
      col++
    }
  }
  lines.push(line.join(""))
  return lines
}

const CLEAR = "\r\x1b[2K"

describe("Progress", () => {
  it.effect("prints a plain line every interval and a last line when not a TTY", () =>
    Effect.gen(function*() {
      const out = buffer(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ label: "pages", total: 100, output: out, intervalMs: 1000 })
        yield* progress.advance(10)
        expect(out.writes).toEqual([])
        yield* TestClock.adjust("1 second")
        yield* progress.advance(30)
        yield* progress.error(2)
        yield* TestClock.adjust("1 second")
        yield* progress.advance(58)
        yield* TestClock.adjust("500 millis")
      }))
      expect(out.text()).toBe(
        "pages  10/100 (10%)  10/s  ETA 9.0s\n" +
          // 42 done in 2 s: 21/s, 58 left: 2.8 s
          "pages  42/100 (42%)  21/s  ETA 2.8s  2 errors\n" +
          // the last line: overall rate (100 in 2.5 s) and elapsed time
          "pages  100/100 (100%)  40/s  in 2.5s  2 errors\n"
      )
    }))

  it.effect("appends the detail text, computed at each render", () =>
    Effect.gen(function*() {
      const out = buffer(false)
      let queued = 5
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({
          label: "pages",
          output: out,
          intervalMs: 1000,
          detail: () => `queued ${queued}`
        })
        yield* progress.advance(10)
        yield* TestClock.adjust("1 second")
        queued = 0
      }))
      expect(out.text()).toBe("pages  10  10/s  queued 5\npages  10  10/s  in 1.0s  queued 0\n")
    }))

  it.effect("redraws in place on a TTY, only when the line changed, and leaves the last line", () =>
    Effect.gen(function*() {
      const out = buffer(true)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ label: "links", output: out, intervalMs: 100 })
        // drawn at once
        expect(out.writes).toEqual([`${CLEAR}links  0  0.0/s`])
        // nothing changes: no redraws
        yield* TestClock.adjust("500 millis")
        expect(out.writes).toHaveLength(1)
        // many updates between two ticks: one redraw
        for (let i = 0; i < 50; i++) yield* progress.advance()
        yield* progress.addTotal(200)
        expect(out.writes).toHaveLength(1)
        yield* TestClock.adjust("100 millis")
        // 50 in the 600 ms since the start: 83/s; 150 left: 1.8 s
        expect(out.writes.slice(1)).toEqual([`${CLEAR}links  50/200 (25%)  83/s  ETA 1.8s`])
        yield* progress.setTotal(50)
      }))
      expect(out.writes.slice(2)).toEqual([`${CLEAR}links  50/50 (100%)  83/s  in 0.6s\n`])
      expect(screen(out.text())).toEqual(["links  50/50 (100%)  83/s  in 0.6s", ""])
    }))

  it.effect("measures the rate over the last ten seconds: a stall shows as 0/s and no ETA", () =>
    Effect.gen(function*() {
      const out = buffer(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ label: "rows", total: 1000, output: out, intervalMs: 5000 })
        yield* progress.advance(100)
        yield* TestClock.adjust("15 seconds")
      }))
      expect(out.text()).toBe(
        "rows  100/1000 (10%)  20/s  ETA 45s\n" +
          "rows  100/1000 (10%)  10/s  ETA 1m30s\n" +
          // nothing done since 5 s: the overall average (6.7/s) would hide the stall
          "rows  100/1000 (10%)  0.0/s  ETA --\n" +
          "rows  100/1000 (10%)  6.7/s  in 15s\n"
      )
    }))

  it.effect("cuts lines to the terminal width so they can be erased", () =>
    Effect.gen(function*() {
      const out = buffer(true, 16)
      yield* Effect.scoped(Progress.make({ label: "downloading", total: 10, output: out }))
      expect(out.writes[0]).toBe(`${CLEAR}downloading  0/`)
      expect(screen(out.text())).toEqual(["downloading  0/", ""])
    }))

  it.effect("dies on an interval that is not a positive number", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Progress.make({ label: "x", output: buffer(false), intervalMs: 0 })))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("intervalMs must be a positive number")
    }))

  it("formats durations compactly", () => {
    expect(internal.formatDuration(0)).toBe("0.0s")
    expect(internal.formatDuration(2_760)).toBe("2.8s")
    expect(internal.formatDuration(30_000)).toBe("30s")
    expect(internal.formatDuration(65_000)).toBe("1m05s")
    expect(internal.formatDuration(7_380_000)).toBe("2h03m")
    expect(internal.formatRate(0.25)).toBe("0.3")
    expect(internal.formatRate(1234.4)).toBe("1234")
  })
})

describe("Progress and log lines", () => {
  /** Logs a few lines around ticks of a TTY display; returns the screen. */
  const scenario = (wrap: boolean) =>
    Effect.gen(function*() {
      const out = buffer(true)
      const plain = Logger.make(({ message }) => {
        out.write(`${String(message)}\n`)
      })
      const layer = Logger.replace(Logger.defaultLogger, wrap ? Progress.logger(plain) : plain)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ label: "pages", total: 10, output: out, intervalMs: 100 })
        yield* progress.advance(2)
        yield* Effect.log("fetched /a")
        yield* Effect.log("fetched /b")
        yield* TestClock.adjust("100 millis")
        yield* progress.advance(3)
        yield* Effect.log("fetched /c")
        yield* TestClock.adjust("100 millis")
      })).pipe(Effect.provide(layer))
      return { out, lines: screen(out.text()) }
    })

  it.effect("a wrapped logger erases the progress line first; the line comes back on the next tick", () =>
    Effect.gen(function*() {
      const { lines, out } = yield* scenario(true)
      expect(lines).toEqual([
        "fetched /a",
        "fetched /b",
        "fetched /c",
        "pages  5/10 (50%)  25/s  in 0.2s",
        ""
      ])
      // between the logs the display was back (redrawn by the tick)
      expect(out.writes).toContain(`${CLEAR}pages  2/10 (20%)  20/s  ETA 0.4s`)
      for (const line of lines) expect(line.includes("fetched") && line.includes("pages")).toBe(false)
    }))

  it.effect("without the wrapper log lines land on the progress line (the check above can fail)", () =>
    Effect.gen(function*() {
      const { lines } = yield* scenario(false)
      expect(lines.some((line) => line.includes("fetched") && line.includes("pages"))).toBe(true)
    }))

  it.effect("Logging's loggers erase progress lines too", () =>
    Effect.gen(function*() {
      const out = buffer(true)
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.write(chunk.toString("utf8"))
          callback()
        }
      })
      const nodeConsole = new NodeConsole({ stdout: sink, stderr: sink })
      const console = yield* Effect.map(Effect.console, (base) => ({ ...base, unsafe: nodeConsole }))
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ label: "pages", total: 4, output: out, intervalMs: 100 })
        yield* progress.advance(1)
        yield* TestClock.adjust("100 millis")
        yield* Effect.logInfo("fetched /a")
        yield* progress.advance(3)
        yield* TestClock.adjust("100 millis")
      })).pipe(
        Effect.withConsole(console),
        Effect.provide(Logging.layerWith({ format: "json", isTTY: false }))
      )
      const lines = screen(out.text())
      expect(lines).toHaveLength(3)
      expect(JSON.parse(lines[0] ?? "")).toMatchObject({ message: "fetched /a", logLevel: "INFO" })
      expect(lines.slice(1)).toEqual(["pages  4/4 (100%)  20/s  in 0.2s", ""])
    }))
})
