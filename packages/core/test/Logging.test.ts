/**
 * Log lines are captured through a real `node:console` Console whose
 * stdout and stderr are separate buffers, so the tests see exactly what a
 * process would print, and where.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import * as Logging from "../src/Logging.js"

const sink = (into: Array<string>) =>
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk.toString("utf8"))
      callback()
    }
  })

/** Runs `program` with `layer`, capturing what goes to stdout and stderr. */
const capture = <E>(layer: Layer.Layer<never, E>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const nodeConsole = new NodeConsole({ stdout: sink(stdout), stderr: sink(stderr), colorMode: false })
    const console = yield* Effect.map(Effect.console, (base) => ({ ...base, unsafe: nodeConsole }))
    const exit = yield* Effect.gen(function*() {
      yield* Effect.logDebug("debug line")
      yield* Effect.logInfo("info line")
      yield* Effect.logError("error line")
    }).pipe(
      Effect.provide(layer),
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.exit
    )
    return { exit, stdout, stderr: stderr.join("") }
  })

const jsonLines = (text: string) =>
  text.trim().split("\n").map((line) => JSON.parse(line) as { message: unknown; logLevel: string })

describe("Logging levels", () => {
  it("reads level names case-insensitively, with warn and off", () => {
    expect(Logging.parseLevel("DEBUG")).toEqual(Option.some(LogLevel.Debug))
    expect(Logging.parseLevel("warn")).toEqual(Option.some(LogLevel.Warning))
    expect(Logging.parseLevel(" off ")).toEqual(Option.some(LogLevel.None))
    expect(Logging.parseLevel("verbose")).toEqual(Option.none())
  })

  it("finds --log-level in argv, in both forms, the last one winning, never after --", () => {
    expect(Logging.levelFromArgv(["crawl", "--log-level", "debug"])).toEqual(Either.right(Option.some(LogLevel.Debug)))
    expect(Logging.levelFromArgv(["--log-level=error", "x", "--log-level=trace"])).toEqual(
      Either.right(Option.some(LogLevel.Trace))
    )
    expect(Logging.levelFromArgv(["crawl", "--", "--log-level", "debug"])).toEqual(Either.right(Option.none()))
    expect(Logging.levelFromArgv([])).toEqual(Either.right(Option.none()))
  })

  it("rejects a missing or unknown --log-level value with an actionable message", () => {
    const unknown = Logging.levelFromArgv(["--log-level", "verbose"])
    expect(Either.isLeft(unknown) && unknown.left.message).toBe(
      "Invalid log level \"verbose\" in --log-level: use one of trace, debug, info, warning, error, fatal, none, all"
    )
    const missing = Logging.levelFromArgv(["--log-level", "--json"])
    expect(Either.isLeft(missing) && missing.left.message).toBe(
      "--log-level needs a value: use one of trace, debug, info, warning, error, fatal, none, all, e.g. --log-level debug"
    )
  })
})

describe("Logging layers", () => {
  it.effect("writes JSON lines to stderr only, at Info and above by default", () =>
    Effect.gen(function*() {
      const { stderr, stdout } = yield* capture(Logging.layerWith({ format: "json" }))
      expect(stdout).toEqual([])
      expect(jsonLines(stderr).map((line) => [line.logLevel, line.message])).toEqual([
        ["INFO", "info line"],
        ["ERROR", "error line"]
      ])
    }))

  it.effect("auto picks pretty (colored) on a terminal and JSON elsewhere", () =>
    Effect.gen(function*() {
      const tty = yield* capture(Logging.layerWith({ isTTY: true }))
      expect(tty.stderr).toMatch(/^\x1b\[37m\[[\d:.]+\]\x1b\[0m \x1b\[32mINFO\x1b\[0m \(#\d+\): \x1b\[1m\x1b\[36minfo line\x1b\[0m\n/)
      const piped = yield* capture(Logging.layerWith({ isTTY: false }))
      expect(jsonLines(piped.stderr).map((line) => line.message)).toEqual(["info line", "error line"])
      // pretty forced off a terminal: no escape codes
      const plain = yield* capture(Logging.layerWith({ format: "pretty", isTTY: false }))
      expect(plain.stderr).toMatch(/^\[[\d:.]+\] INFO \(#\d+\): info line\n/)
      expect(plain.stderr).not.toContain("\x1b[")
    }))

  it.effect("layerConfig reads LOG_LEVEL and LOG_FORMAT; overrides win over them", () =>
    Effect.gen(function*() {
      const env = { LOG_LEVEL: "error", LOG_FORMAT: "JSON" }
      const fromEnv = yield* capture(Logging.layerConfig({ isTTY: true }), env)
      expect(jsonLines(fromEnv.stderr).map((line) => line.message)).toEqual(["error line"])
      const overridden = yield* capture(Logging.layerConfig({ isTTY: true, level: LogLevel.Debug }), env)
      expect(jsonLines(overridden.stderr).map((line) => line.message)).toEqual(["debug line", "info line", "error line"])
    }))

  it.effect("an invalid LOG_LEVEL fails the layer naming the variable", () =>
    Effect.gen(function*() {
      const { exit } = yield* capture(Logging.layerConfig(), { LOG_LEVEL: "verbose" })
      expect(exit._tag).toBe("Failure")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("LOG_LEVEL")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("\"verbose\"")
    }))

  it.effect("the layer's settings end with the effect it is provided to", () =>
    Effect.gen(function*() {
      const loggers = yield* FiberRef.get(FiberRef.currentLoggers)
      const inside = yield* FiberRef.get(FiberRef.currentMinimumLogLevel).pipe(
        Effect.provide(Logging.layerWith({ level: LogLevel.Error }))
      )
      expect(inside).toBe(LogLevel.Error)
      expect(yield* FiberRef.get(FiberRef.currentMinimumLogLevel)).toBe(LogLevel.Info)
      expect(yield* FiberRef.get(FiberRef.currentLoggers)).toBe(loggers)
    }))

  /** Runs with `process.argv` replaced, restoring it after. */
  const withArgv = <A, E, R>(args: ReadonlyArray<string>, effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const saved = process.argv
        process.argv = [saved[0] ?? "node", "app.js", ...args]
        return saved
      }),
      () => effect,
      (saved) => Effect.sync(() => {
        process.argv = saved
      })
    )

  it.effect("layer: --log-level beats LOG_LEVEL, which beats the default", () =>
    Effect.gen(function*() {
      const env = { LOG_LEVEL: "error", LOG_FORMAT: "json" }
      const flag = yield* withArgv(["--log-level", "debug"], capture(Logging.layer, env))
      expect(jsonLines(flag.stderr).map((line) => line.message)).toEqual(["debug line", "info line", "error line"])
      const envOnly = yield* withArgv([], capture(Logging.layer, env))
      expect(jsonLines(envOnly.stderr).map((line) => line.message)).toEqual(["error line"])
      const neither = yield* withArgv([], capture(Logging.layer, { LOG_FORMAT: "json" }))
      expect(jsonLines(neither.stderr).map((line) => line.message)).toEqual(["info line", "error line"])
      const bad = yield* withArgv(["--log-level=loud"], capture(Logging.layer, env))
      expect(bad.exit._tag === "Failure" && String(bad.exit.cause)).toContain("Invalid log level \"loud\" in --log-level")
    }))
})
