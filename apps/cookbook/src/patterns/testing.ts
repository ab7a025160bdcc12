/**
 * Testing async code: `pytest-asyncio`, an `AsyncMock` patched over the
 * client, and some way to avoid really waiting in `asyncio.sleep` (patching
 * it, or a fake event loop clock).
 *
 * In Effect the dependencies are in the type: `watchPrice` needs a
 * `PriceFeed`, so a test provides a scripted layer instead of patching a
 * module, and the compiler checks that it did. Time is a service too:
 * `it.effect` (from `@effect/vitest`) runs on `TestClock`, where
 * `TestClock.adjust("3 hours")` fires every sleep due in those three hours
 * at once, in order. See `test/testing.test.ts` for the test this program
 * mirrors.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** Where prices come from: the dependency a test replaces. */
export class PriceFeed extends Context.Tag("cookbook/PriceFeed")<PriceFeed, {
  readonly latest: (symbol: string) => Effect.Effect<number, HttpError.HttpError>
}>() {}

const Price = Schema.Struct({ price: Schema.Number })

/** The real feed: `GET /price/<symbol>` with the `Http` client. */
export const layerHttp: Layer.Layer<PriceFeed, never, Http.Http> = Layer.effect(
  PriceFeed,
  Effect.map(Http.Http, (http) => ({
    latest: (symbol) => Effect.map(http.json(Price, `/price/${symbol}`), (p) => p.price)
  }))
)

/** A scripted feed: answers `prices` in order (the last one repeats) and counts calls. */
export const layerScripted = (prices: ReadonlyArray<number>): Layer.Layer<PriceFeed> =>
  Layer.effect(
    PriceFeed,
    Effect.map(Ref.make(0), (calls) => ({
      latest: () => Ref.getAndUpdate(calls, (n) => n + 1).pipe(Effect.map((n) => prices[Math.min(n, prices.length - 1)] ?? 0))
    }))
  )

/** The code under test: polls every `every` until the price is above `threshold`. */
export const watchPrice = (symbol: string, threshold: number, every: Duration.DurationInput) =>
  Effect.gen(function*() {
    const feed = yield* PriceFeed
    let polls = 0
    while (true) {
      const price = yield* feed.latest(symbol)
      polls++
      if (price > threshold) return { price, polls }
      yield* Effect.sleep(every)
    }
  })

/**
 * Runs `effect` with the test services (`TestClock` among them), as `it.effect`
 * does. Outside a test runner this needs a fiber of its own: providing
 * `TestContext` installs the test clock in the running fiber's services and
 * it stays there after `Effect.provide` returns, so the rest of the program
 * would sleep on a clock nobody moves. `Fiber.await` (unlike `Fiber.join`)
 * does not carry the child's fiber-local state back to the parent.
 */
export const onTestClock = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.fork(Effect.provide(effect, TestContext.TestContext)).pipe(
    Effect.flatMap(Fiber.await),
    Effect.flatten
  )

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/price/BTC", Faults.sequence(Faults.json({ price: 100 }), Faults.json({ price: 105 }), Faults.json({ price: 120 })))
]

/** The cookbook entry (`npm run cookbook -- testing`). */
export const pattern = Pattern.make({
  name: "testing",
  title: "Testing async code (it.effect, TestClock, test layers)",
  asyncio: "@pytest.mark.asyncio\nasync def test_watch(monkeypatch): monkeypatch.setattr(feed, \"latest\", AsyncMock(...))",
  primitive: "@effect/vitest it.effect, TestClock.adjust, Layer",
  summary: "Dependencies are typed services a test swaps for a layer; sleeps run on a TestClock the test moves.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const live = yield* watchPrice("BTC", 110, "50 millis").pipe(
      Effect.provide(layerHttp),
      Effect.provideService(Http.Http, http),
      Effect.timed
    )
    yield* Console.log(
      `live feed, polling every 50 ms: ${live[1].price} after ${live[1].polls} polls, ${Pattern.formatDuration(live[0])}`
    )
    const scripted = yield* onTestClock(Effect.gen(function*() {
      const watching = yield* Effect.fork(watchPrice("BTC", 110, "1 hour"))
      yield* TestClock.adjust("3 hours")
      return yield* Fiber.join(watching)
    }).pipe(Effect.provide(layerScripted([100, 101, 102, 150])))).pipe(Effect.timed)
    yield* Console.log(
      `scripted feed on TestClock, polling every hour: ${scripted[1].price} after ${scripted[1].polls} polls, ` +
        `3 simulated hours in ${Pattern.formatDuration(scripted[0])} of real time`
    )
  }))
})
