/**
 * A settings object read from the environment — a `@dataclass` filled from
 * `os.environ`, or pydantic's `BaseSettings` with `env_prefix="APP_"`.
 *
 * `Config` describes the settings as a typed value: parsing (integers,
 * durations, URLs), defaults, validation, and secrets as `Redacted` (which
 * print as `<redacted>`, so a logged config cannot leak the key). Reading
 * it is an effect that fails with a `ConfigError` naming every bad or
 * missing variable. Where the values come from is a service,
 * `ConfigProvider`: the environment in production, a map in tests — no
 * monkey-patching `os.environ`. (`Http.layerConfig` reads the client's own
 * `HTTP_*` settings the same way.)
 */
import { Http } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [Faults.get("/whoami", Faults.echo)]

/** The application's settings, read from `APP_*` variables. */
export const AppConfig = Config.all({
  baseUrl: Config.url("BASE_URL"),
  concurrency: Config.integer("CONCURRENCY").pipe(
    Config.withDefault(8),
    Config.validate({ message: "must be an integer from 1 to 256", validation: (n) => n >= 1 && n <= 256 })
  ),
  requestTimeout: Config.duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  apiKey: Config.redacted("API_KEY")
}).pipe(Config.nested("APP"))

/** The loaded settings. */
export type AppConfig = Config.Config.Success<typeof AppConfig>

/** A provider reading a map the way `ConfigProvider.fromEnv` reads `process.env` (`APP_BASE_URL`). */
export const fromEnvLike = (variables: Readonly<Record<string, string>>): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(new Map(Object.entries(variables)), { pathDelim: "_" })

/** Reads the settings from `provider`. */
export const load = (provider: ConfigProvider.ConfigProvider): Effect.Effect<AppConfig, ConfigError.ConfigError> =>
  Effect.withConfigProvider(AppConfig, provider)

/** What the echo route returns, the part we read. */
const Echo = Schema.Struct({ headers: Schema.Record({ key: Schema.String, value: Schema.Unknown }) })

/** Calls `/whoami` with a client built from the settings; returns the API key header the server received. */
export const whoami = (config: AppConfig) =>
  Effect.scoped(Effect.gen(function*() {
    const http = yield* Http.make({
      baseUrl: config.baseUrl.href,
      limits: { perHostMaxInFlight: config.concurrency },
      timeouts: { total: config.requestTimeout },
      headers: { "x-api-key": Redacted.value(config.apiKey) }
    })
    const echo = yield* http.json(Echo, "/whoami")
    return echo.headers["x-api-key"]
  }))

/** The cookbook entry (`npm run cookbook -- config`). */
export const pattern = Pattern.make({
  name: "config",
  title: "Configuration object",
  asyncio: "class Settings(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix=\"APP_\")\n    concurrency: int = 8",
  primitive: "Config + ConfigProvider, Redacted",
  summary: "Typed parsing, defaults and validation; secrets never print; the source is a provider tests swap.",
  run: Effect.scoped(Effect.gen(function*() {
    const { server } = yield* Sandbox.make(routes)
    const good = { APP_BASE_URL: server.url, APP_API_KEY: "s3cret", APP_REQUEST_TIMEOUT: "2 seconds" }
    const config = yield* load(fromEnvLike(good))
    yield* Console.log(`loaded: ${JSON.stringify({ ...config, baseUrl: config.baseUrl.href, apiKey: String(config.apiKey) })}`)
    yield* Console.log(`  (concurrency took its default; the key prints as ${String(config.apiKey)})`)
    const received = yield* whoami(config)
    yield* Console.log(`  the server received x-api-key: ${String(received)}`)
    const bad = yield* Effect.either(load(fromEnvLike({ APP_BASE_URL: "not a url", APP_CONCURRENCY: "lots" })))
    yield* Console.log(`with bad values: ${Either.isLeft(bad) ? bad.left.toString() : "loaded (unexpected)"}`)
  }))
})
