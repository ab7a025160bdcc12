/**
 * An async generator that follows pagination, consumed with `async for` —
 * and stopped early with `break`.
 *
 * `Stream.paginateEffect(first, fetchPage)` is that generator: each page
 * says where the next one is, and the stream is pulled lazily, so taking
 * five items fetches only the pages those five need. Unlike an abandoned
 * async generator (whose `finally` runs whenever it is garbage-collected),
 * a stream that stops early releases its resources at once. Streams also
 * compose — `mapEffect` with concurrency, `grouped`, `throttle` — where
 * async generators need hand-written plumbing. (To hand a stream to code
 * that wants `for await`, `Stream.toAsyncIterable`.)
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Pages the server has. */
export const PAGES = 4
/** Items per page. */
export const PAGE_SIZE = 3

/** `/items/N` returns three items and the number of the next page (`null` after the last). */
export const routes = [
  Faults.get("/items/*", (req) => {
    const page = Number(req.pathname.slice("/items/".length))
    return Faults.latency(20, Faults.json({
      items: Array.from({ length: PAGE_SIZE }, (_, i) => `item-${(page - 1) * PAGE_SIZE + i + 1}`),
      next: page < PAGES ? page + 1 : null
    }))
  })
]

const Page = Schema.Struct({ items: Schema.Array(Schema.String), next: Schema.NullOr(Schema.Number) })

/** Every item of every page, fetched page by page as the consumer pulls. */
export const items: Stream.Stream<string, HttpError.HttpError, Http.Http> = Stream.paginateEffect(
  1,
  (page: number) =>
    Effect.map(Http.json(Page, `/items/${page}`), (p) => [p.items, Option.fromNullable(p.next)] as const)
).pipe(Stream.flattenIterables)

/** The cookbook entry (`npm run cookbook -- async-generator`). */
export const pattern = Pattern.make({
  name: "async-generator",
  title: "Async iterator / async generator",
  asyncio: "async def items():\n    while url: page = await fetch(url); yield from page.items ...\nasync for item in items(): ...",
  primitive: "Stream (paginateEffect, take, runForEach)",
  summary: "A lazy, typed stream: stopping early fetches no more pages and releases everything at once.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const provide = Effect.provideService(Http.Http, http)
    const firstFive = yield* provide(Stream.runCollect(Stream.take(items, 5)))
    const early = yield* server.requests
    yield* Console.log(`take(5): ${Chunk.toReadonlyArray(firstFive).join(", ")}`)
    yield* Console.log(`  pages fetched: ${early.map((r) => r.path).join(", ")} (of ${PAGES})`)
    yield* server.reset
    const count = yield* provide(Stream.runCount(items))
    const all = yield* server.requests
    yield* Console.log(`everything: ${count} items from ${all.length} pages`)
  }))
})
