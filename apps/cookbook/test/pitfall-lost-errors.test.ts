import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { fireAndForget, joined, reported, routes } from "../src/patterns/pitfall-lost-errors.js"
import * as Sandbox from "../src/Sandbox.js"

/** Captures the runtime's report of a fiber ending with an unhandled error: its level and the error. */
const captureUnhandled = Effect.gen(function*() {
  const report = yield* Deferred.make<{ readonly level: string; readonly error: unknown }>()
  const logger = Logger.make(({ cause, logLevel, message }) => {
    if (String(message).includes("unhandled error")) {
      Deferred.unsafeDone(report, Exit.succeed({ level: logLevel.label, error: Cause.squash(cause) }))
    }
  })
  return { report, layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All)) }
})

describe("pitfall-lost-errors", () => {
  it.scopedLive("fire-and-forget: the caller succeeds, and the failure is reported only at DEBUG", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const { layer, report } = yield* captureUnhandled
      const caller = yield* Effect.either(fireAndForget).pipe(Effect.provideService(Http.Http, http), Effect.provide(layer))
      expect(caller).toEqual(Either.right("order placed"))
      expect(yield* Deferred.await(report)).toMatchObject({ level: "DEBUG", error: { _tag: "StatusError", status: 500 } })
      expect((yield* server.requestsTo("/email")).map((r) => r.status)).toEqual([500])
    }))

  it.scopedLive("fork + join: the child's failure is the caller's typed failure", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const caller = yield* Effect.either(joined).pipe(Effect.provideService(Http.Http, http))
      expect(Either.isLeft(caller) && caller.left).toMatchObject({ _tag: "StatusError", status: 500 })
    }))

  it.scopedLive("withUnhandledErrorLogLevel(Error): the detached failure is reported at ERROR when the fiber ends", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      const { layer, report } = yield* captureUnhandled
      yield* Effect.either(reported).pipe(Effect.provideService(Http.Http, http), Effect.provide(layer))
      expect(yield* Deferred.await(report)).toMatchObject({ level: "ERROR", error: { _tag: "StatusError", status: 500 } })
    }))
})
