import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { routes, withConcurrency, withSemaphore } from "../src/patterns/semaphore.js"
import * as Sandbox from "../src/Sandbox.js"

const paths = Array.from({ length: 12 }, (_, i) => `/item/${i}`)

describe("semaphore", () => {
  for (const [name, limited] of [["a semaphore", withSemaphore], ["the concurrency option", withConcurrency]] as const) {
    it.scopedLive(`${name} keeps at most 3 requests in flight, as the server counts them`, () =>
      Effect.gen(function*() {
        const { http, server } = yield* Sandbox.make(routes)
        const responses = yield* limited(paths, 3).pipe(Effect.provideService(Http.Http, http))
        expect(responses).toHaveLength(12)
        expect((yield* server.stats).maxInFlight).toBe(3)
      }))
  }

  it.scopedLive("a permit comes back when its holder fails", () =>
    Effect.gen(function*() {
      const semaphore = yield* Effect.makeSemaphore(1)
      yield* Effect.either(semaphore.withPermits(1)(Effect.fail("boom")))
      // would wait forever if the failed holder had kept the permit
      expect(yield* semaphore.withPermits(1)(Effect.succeed("next"))).toBe("next")
    }))
})
