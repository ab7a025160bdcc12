import { Http } from "@fiberkit/core"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { items, PAGES, PAGE_SIZE, routes } from "../src/patterns/async-generator.js"
import * as Sandbox from "../src/Sandbox.js"

describe("async-generator", () => {
  it.scopedLive("stopping after five items fetches only the two pages they are on", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const firstFive = yield* Stream.runCollect(Stream.take(items, 5)).pipe(Effect.provideService(Http.Http, http))
      expect(Chunk.toReadonlyArray(firstFive)).toEqual(["item-1", "item-2", "item-3", "item-4", "item-5"])
      expect((yield* server.requests).map((r) => r.path)).toEqual(["/items/1", "/items/2"])
    }))

  it.scopedLive("read to the end, it follows every page once", () =>
    Effect.gen(function*() {
      const { http, server } = yield* Sandbox.make(routes)
      const all = yield* Stream.runCollect(items).pipe(Effect.provideService(Http.Http, http))
      expect(Chunk.size(all)).toBe(PAGES * PAGE_SIZE)
      expect(Chunk.unsafeLast(all)).toBe(`item-${PAGES * PAGE_SIZE}`)
      expect((yield* server.requests).map((r) => r.path)).toEqual(["/items/1", "/items/2", "/items/3", "/items/4"])
    }))
})
