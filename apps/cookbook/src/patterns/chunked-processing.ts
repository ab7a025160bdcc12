/**
 * Memory-efficient processing of a large input: instead of
 * `await asyncio.gather(*[process(x) for x in items])` — one coroutine per
 * item, all alive at once, every result held in a list — the guides slice
 * the input into chunks, or feed an async generator.
 *
 * A `Stream` over a lazy source does this without slicing by hand:
 * `Stream.mapEffect(process, { concurrency: 8 })` keeps at most eight items
 * in flight while the source is pulled as needed, and `Stream.runFold`
 * reduces results as they arrive instead of collecting them. Unlike fixed
 * chunks, a slow item does not hold back the whole chunk: the next item
 * starts as soon as any slot frees.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Each item is a small lookup whose answer is its number's length in digits. */
export const routes = [
  Faults.get("/lookup/*", (req) => Faults.latency(2, Faults.ok(String(req.pathname.length - "/lookup/".length))))
]

/** The input, produced lazily: nothing like a million-element list is ever built. */
export function* ids(count: number): Generator<number> {
  for (let id = 1; id <= count; id++) yield id
}

/** What processing the whole input produced. */
export interface Outcome {
  /** Sum of every result, folded as results arrive. */
  readonly total: number
  readonly processed: number
  /** Most items being processed at the same moment. */
  readonly peakInFlight: number
}

/** Processes `count` items, `concurrency` at a time; `concurrency: "unbounded"` is the gather-everything form. */
export const processAll = (
  count: number,
  concurrency: number | "unbounded"
): Effect.Effect<Outcome, HttpError.HttpError, Http.Http> =>
  Effect.suspend(() => {
    let inFlight = 0
    let peakInFlight = 0
    const process = (id: number) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          inFlight++
          peakInFlight = Math.max(peakInFlight, inFlight)
        }),
        () => Effect.map(Http.text(`/lookup/${id}`), Number),
        () =>
          Effect.sync(() => {
            inFlight--
          })
      )
    return Stream.fromIterable(ids(count)).pipe(
      Stream.mapEffect(process, { concurrency }),
      Stream.runFold({ total: 0, processed: 0 }, (acc, n) => ({ total: acc.total + n, processed: acc.processed + 1 })),
      Effect.map((acc) => ({ ...acc, peakInFlight }))
    )
  })

/** The cookbook entry (`npm run cookbook -- chunked-processing`). */
export const pattern = Pattern.make({
  name: "chunked-processing",
  title: "Memory-efficient chunked processing",
  asyncio: "for i in range(0, len(items), 100):\n    await asyncio.gather(*[process(x) for x in items[i:i + 100]])",
  primitive: "Stream.fromIterable + mapEffect({ concurrency }) + runFold",
  summary: "A lazy source, a bounded number in flight, results folded as they come: memory stays flat, no slot idles.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes, { limits: { perHostMaxInFlight: 1_000 } })
    const provide = Effect.provideService(Http.Http, http)
    for (const concurrency of ["unbounded", 8] as const) {
      yield* server.reset
      const [elapsed, outcome] = yield* provide(Effect.timed(processAll(500, concurrency)))
      const stats = yield* server.stats
      yield* Console.log(
        `concurrency ${String(concurrency).padEnd(9)}: ${outcome.processed} items, total ${outcome.total}, ` +
          `peak ${outcome.peakInFlight} in flight (server: ${stats.maxInFlight}), ${Pattern.formatDuration(elapsed)}`
      )
    }
  }))
})
