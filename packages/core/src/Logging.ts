/**
 * `Logging`: one layer that sets up Effect's logging for an app — Effect's
 * pretty logger when stderr is a terminal, JSON lines otherwise (or when
 * `LOG_FORMAT=json`), and the minimum level from `--log-level`, then
 * `LOG_LEVEL`, then `Info`.
 *
 * Every log line goes to stderr (through the `Console` service's `error`),
 * so stdout stays free for data such as JSONL output. Log lines never share
 * a terminal line with a `Progress` display.
 *
 * | source | example | wins over |
 * |---|---|---|
 * | `--log-level` flag (read by {@link layer}) | `--log-level debug`, `--log-level=warn` | everything |
 * | `LOG_LEVEL` | `LOG_LEVEL=error` | the default |
 * | default | `Info` | |
 * | `LOG_FORMAT` | `auto` (default), `pretty`, `json` | |
 *
 * Levels are read case-insensitively: `trace`, `debug`, `info`, `warning`
 * (or `warn`), `error`, `fatal`, `none` (or `off`), `all`.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Logging } from "@fiberkit/core"
 *
 * const main = Effect.logInfo("starting").pipe(Effect.zipRight(Effect.logDebug("details")))
 *
 * // `node app.js --log-level debug` shows both lines; `LOG_FORMAT=json` prints JSON lines
 * main.pipe(Effect.provide(Logging.layer), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Progress from "./Progress.js"

/**
 * How log lines look: `pretty` (Effect's pretty logger, colored on a
 * terminal) or `json` (one JSON object per line, Effect's `jsonLogger`).
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "pretty" | "json"

/**
 * Logging settings; anything left out takes its default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `auto`: `pretty` when stderr is a terminal, `json` otherwise. */
  readonly format?: Format | "auto" | undefined
  /** The minimum level logged. Default `Info`. */
  readonly level?: LogLevel.LogLevel | undefined
  /** Whether stderr is a terminal (picks the `auto` format and colors). Default `process.stderr.isTTY`. */
  readonly isTTY?: boolean | undefined
}

/**
 * An invalid `--log-level` flag: the message names the value and the
 * accepted ones.
 *
 * @since 0.1.0
 * @category errors
 */
export class LoggingError extends Data.TaggedError("LoggingError")<{
  /** Where the value came from, e.g. `--log-level`. */
  readonly source: string
  readonly value: string
}> {
  override get message(): string {
    return this.value === ""
      ? `${this.source} needs a value: use one of ${LEVEL_NAMES}, e.g. ${this.source} debug`
      : `Invalid log level "${this.value}" in ${this.source}: use one of ${LEVEL_NAMES}`
  }
}

const LEVEL_NAMES = "trace, debug, info, warning, error, fatal, none, all"

const LEVELS: ReadonlyMap<string, LogLevel.LogLevel> = new Map([
  ["all", LogLevel.All],
  ["trace", LogLevel.Trace],
  ["debug", LogLevel.Debug],
  ["info", LogLevel.Info],
  ["warning", LogLevel.Warning],
  ["warn", LogLevel.Warning],
  ["error", LogLevel.Error],
  ["fatal", LogLevel.Fatal],
  ["none", LogLevel.None],
  ["off", LogLevel.None]
])

/**
 * Reads a level name (case-insensitive; `warn` and `off` are accepted too).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLevel = (value: string): Option.Option<LogLevel.LogLevel> =>
  Option.fromNullable(LEVELS.get(value.trim().toLowerCase()))

const FLAG = "--log-level"

/**
 * Finds `--log-level <level>` or `--log-level=<level>` in command-line
 * arguments (the last one wins; nothing after `--` is read). `None` when the
 * flag is absent; fails when its value is missing or not a level.
 *
 * @example
 * ```ts
 * import { Logging } from "@fiberkit/core"
 *
 * Logging.levelFromArgv(["crawl", "--log-level", "debug"]) // Right(Some(LogLevel.Debug))
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const levelFromArgv = (
  argv: ReadonlyArray<string>
): Either.Either<Option.Option<LogLevel.LogLevel>, LoggingError> => {
  let found: string | undefined = undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === "--") break
    if (arg === FLAG) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith("-")) return Either.left(new LoggingError({ source: FLAG, value: "" }))
      found = next
      i++
    } else if (arg !== undefined && arg.startsWith(FLAG + "=")) {
      found = arg.slice(FLAG.length + 1)
    }
  }
  if (found === undefined) return Either.right(Option.none())
  const value = found
  return Option.match(parseLevel(value), {
    onNone: () => Either.left(new LoggingError({ source: FLAG, value })),
    onSome: (level) => Either.right(Option.some(level))
  })
}

/**
 * The settings read from the environment, both optional: `LOG_LEVEL` (a
 * level name) and `LOG_FORMAT` (`auto`, `pretty` or `json`). An invalid
 * value fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  level: Config.option(
    Config.string().pipe(
      Config.mapOrFail((value) =>
        Option.match(parseLevel(value), {
          onNone: () =>
            Either.left(ConfigError.InvalidData([], `Expected a log level (${LEVEL_NAMES}) but received "${value}"`)),
          onSome: Either.right
        })
      ),
      Config.nested("LOG_LEVEL")
    )
  ),
  format: Config.option(
    Config.string().pipe(
      Config.mapOrFail((value) => {
        const format = value.trim().toLowerCase()
        return format === "auto" || format === "pretty" || format === "json"
          ? Either.right<Format | "auto">(format)
          : Either.left(ConfigError.InvalidData([], `Expected auto, pretty or json but received "${value}"`))
      }),
      Config.nested("LOG_FORMAT")
    )
  )
}).pipe(
  Config.map((c): Options => ({ level: Option.getOrUndefined(c.level), format: Option.getOrUndefined(c.format) }))
)

/**
 * The logger for `options`: pretty or JSON lines, written to stderr, and
 * clearing any `Progress` line first. It does not filter by level (the
 * layers set the minimum level).
 *
 * @since 0.1.0
 * @category constructors
 */
export const logger = (options: Options = {}): Logger.Logger<unknown, void> => {
  const isTTY = options.isTTY ?? process.stderr.isTTY === true
  const format = options.format === undefined || options.format === "auto" ? (isTTY ? "pretty" : "json") : options.format
  return Progress.logger(
    format === "json"
      ? Logger.withConsoleError(Logger.jsonLogger)
      : Logger.prettyLogger({ stderr: true, colors: isTTY, mode: "tty" })
  )
}

/**
 * Replaces Effect's default logger with {@link logger} and sets the minimum
 * level, from `options` only (no environment, no flag).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options = {}): Layer.Layer<never> => {
  const chosen = logger(options)
  // one sequential layer: fiber refs set by layers merged with `Layer.merge` (built in parallel
  // fibers) outlive the effect they are provided to
  return Layer.scopedDiscard(
    Effect.zipRight(
      Effect.locallyScopedWith(
        FiberRef.currentLoggers,
        (loggers) => HashSet.add(HashSet.remove(loggers, Logger.defaultLogger), chosen)
      ),
      Effect.locallyScoped(FiberRef.currentMinimumLogLevel, options.level ?? LogLevel.Info)
    )
  )
}

/**
 * Logging from the environment ({@link config}), with `overrides` winning
 * over it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (overrides: Options = {}): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(config, (env) =>
      layerWith({
        level: overrides.level ?? env.level,
        format: overrides.format ?? env.format,
        isTTY: overrides.isTTY
      }))
  )

/**
 * Logging for an app: level from `--log-level` in `process.argv`, else
 * `LOG_LEVEL`, else `Info`; format from `LOG_FORMAT`, else by whether stderr
 * is a terminal.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never, ConfigError.ConfigError | LoggingError> = Layer.unwrapEffect(
  Effect.map(
    Effect.suspend(() => levelFromArgv(process.argv.slice(2))),
    (flag) => layerConfig({ level: Option.getOrUndefined(flag) })
  )
)
