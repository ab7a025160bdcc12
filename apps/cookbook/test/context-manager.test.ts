import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { routes, session, threeEndings } from "../src/patterns/context-manager.js"
import * as Sandbox from "../src/Sandbox.js"

describe("context-manager", () => {
  it.scopedLive("the resource is released after success, failure and interruption, and the release knows which", () =>
    Effect.gen(function*() {
      const { http } = yield* Sandbox.make(routes)
      expect(yield* threeEndings.pipe(Effect.provideService(Http.Http, http))).toEqual([
        "open a",
        "close a after success",
        "open b",
        "close b after failure",
        "open c",
        "close c after interruption"
      ])
    }))

  it.effect("resources in one scope are released in reverse order, also when the block is interrupted", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        yield* session("outer", log)
        yield* session("inner", log)
        yield* Effect.never
      })))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(log)).toEqual([
        "open outer",
        "open inner",
        "close inner after interruption",
        "close outer after interruption"
      ])
    }))
})
