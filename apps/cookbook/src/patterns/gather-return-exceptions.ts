/**
 * `asyncio.gather(*coros, return_exceptions=True)` — run everything, collect
 * results and exceptions side by side.
 *
 * In Python the list mixes values and exception objects, so every caller
 * writes `isinstance(r, Exception)` and the type checker cannot help.
 * `Http.settle` (a thin `Effect.forEach(effects, Effect.either)`) returns an
 * `Either` per effect, in input order, with the error typed: the compiler
 * makes you handle both sides. Defects and interruptions are not turned into
 * values — they still stop the whole call, as they should.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** A good endpoint, a missing one, a failing one; the good one is the slowest, so order cannot come from timing. */
export const routes = [
  Faults.get("/price/*", (req) => Faults.latency(120, Faults.json({ symbol: req.pathname.slice(7), price: 42 }))),
  Faults.get("/missing", Faults.latency(10, Faults.status(404, "no such symbol"))),
  Faults.get("/down", Faults.latency(40, Faults.status(503, "maintenance")))
]

/** One line per input path: `ok <status>` or the tag and status of the error. */
export const describe = (result: Either.Either<Http.HttpResponse, HttpError.HttpError>): string =>
  Either.match(result, {
    onRight: (response) => `ok ${response.status} ${response.text}`,
    onLeft: (error) => (error._tag === "StatusError" ? `${error._tag} ${error.status}` : error._tag)
  })

/** Fetches every path concurrently and returns every outcome, in input order. */
export const gatherAll = (
  paths: ReadonlyArray<string>
): Effect.Effect<Array<Either.Either<Http.HttpResponse, HttpError.HttpError>>, never, Http.Http> =>
  Http.settle(paths.map((path) => Http.get(path)))

/** The cookbook entry (`npm run cookbook -- gather-return-exceptions`). */
export const pattern = Pattern.make({
  name: "gather-return-exceptions",
  title: "gather with return_exceptions",
  asyncio: "results = await asyncio.gather(*coros, return_exceptions=True)",
  primitive: "Http.settle / Effect.forEach(effects, Effect.either)",
  summary: "Each outcome is a typed Either in input order; nothing is cancelled, and the compiler makes you handle errors.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const paths = ["/price/BTC", "/missing", "/down", "/price/ETH"]
    const results = yield* gatherAll(paths).pipe(Effect.provideService(Http.Http, http))
    for (const [i, path] of paths.entries()) {
      const result = results[i]
      if (result !== undefined) yield* Console.log(`${path.padEnd(12)} → ${describe(result)}`)
    }
    const ok = results.filter(Either.isRight).length
    yield* Console.log(`${ok} succeeded, ${results.length - ok} failed, none cancelled`)
  }))
})
