import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { deposits, type Guard } from "../src/patterns/lock.js"

const run = (guard: Guard) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(deposits(10, guard))
    yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

describe("lock", () => {
  it.effect("without a lock, every deposit reads the same old balance: nine of ten are lost", () =>
    Effect.map(run("none"), (balance) => expect(balance).toBe(10)))

  it.effect("with a lock, the read-wait-write sections run one at a time", () =>
    Effect.map(run("lock"), (balance) => expect(balance).toBe(100)))

  it.effect("a SynchronizedRef serialises its effectful updates itself", () =>
    Effect.map(run("synchronized-ref"), (balance) => expect(balance).toBe(100)))
})
