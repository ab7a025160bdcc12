import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { fromEnvLike, load, routes, whoami } from "../src/patterns/config.js"
import * as Sandbox from "../src/Sandbox.js"

describe("config", () => {
  it.effect("parses the values given and takes defaults for the rest; the key is redacted when printed", () =>
    Effect.gen(function*() {
      const config = yield* load(fromEnvLike({
        APP_BASE_URL: "http://127.0.0.1:8080",
        APP_API_KEY: "s3cret",
        APP_REQUEST_TIMEOUT: "2 seconds"
      }))
      expect(config.baseUrl.href).toBe("http://127.0.0.1:8080/")
      expect(config.concurrency).toBe(8)
      expect(Duration.toMillis(config.requestTimeout)).toBe(2_000)
      expect(Redacted.value(config.apiKey)).toBe("s3cret")
      expect(String(config.apiKey)).toBe("<redacted>")
      expect(JSON.stringify(config)).not.toContain("s3cret")
    }))

  it.effect("bad and missing values fail with one ConfigError naming each variable", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(load(fromEnvLike({ APP_BASE_URL: "not a url", APP_CONCURRENCY: "lots" })))
      expect(Either.isLeft(result)).toBe(true)
      const message = Either.isLeft(result) ? result.left.toString() : ""
      expect(message).toContain("BASE_URL")
      expect(message).toContain("CONCURRENCY")
      expect(message).toContain("API_KEY")
    }))

  it.effect("validation: a concurrency of 0 is refused with the rule", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(load(fromEnvLike({
        APP_BASE_URL: "http://127.0.0.1:8080",
        APP_API_KEY: "k",
        APP_CONCURRENCY: "0"
      })))
      expect(Either.isLeft(result) && result.left.toString()).toContain("must be an integer from 1 to 256")
    }))

  it.scopedLive("a client built from the config sends the secret where it belongs", () =>
    Effect.gen(function*() {
      const { server } = yield* Sandbox.make(routes)
      const config = yield* load(fromEnvLike({ APP_BASE_URL: server.url, APP_API_KEY: "s3cret" }))
      expect(yield* whoami(config)).toBe("s3cret")
    }))
})
