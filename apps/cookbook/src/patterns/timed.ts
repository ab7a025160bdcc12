/**
 * A `@timed` decorator: wrap a coroutine, measure `time.perf_counter()`
 * around the `await`, log how long it took in a `finally`.
 *
 * `Timed.timed(name)` is that decorator as a function on effects
 * (`effect.pipe(Timed.timed("fetch-page"))`), and it does the parts the
 * hand-written one usually skips: the log line says how the effect ended
 * (`succeeded in` / `failed after` / `interrupted after`, with the cause on
 * failure) and carries `durationMs` as an annotation; the duration also goes
 * into the `timed_duration_ms` histogram by name and outcome; and a span
 * wraps the effect for tracing. Time is read from the `Clock`, so under
 * `TestClock` a test sees exact durations.
 */
import { Http, Metrics, Timed } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.get("/page", Faults.latency(40, Faults.ok("page"))),
  Faults.get("/broken", Faults.latency(10, Faults.status(500, "boom"))),
  Faults.get("/slow", Faults.latency(5_000, Faults.ok("late")))
]

/** The decorated function: every call is timed under one name. */
export const fetchPage = (path: string) => Http.text(path).pipe(Timed.timed("fetch-page"))

/** One line `Timed` logged. */
export interface Line {
  readonly message: string
  readonly outcome: string
  readonly durationMs: number
}

/**
 * Runs `effect` with a logger that keeps `Timed`'s lines (and prints
 * nothing), and returns them next to the effect's own result.
 */
export const capturingTimedLines = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const lines: Array<Line> = []
    const logger = Logger.make(({ annotations, message }) => {
      const outcome = HashMap.get(annotations, "outcome")
      const durationMs = HashMap.get(annotations, "durationMs")
      if (Option.isSome(outcome) && Option.isSome(durationMs)) {
        lines.push({
          message: Array.isArray(message) ? message.join(" ") : String(message),
          outcome: String(outcome.value),
          durationMs: Number(durationMs.value)
        })
      }
    })
    const only = Layer.mergeAll(
      Logger.remove(Logger.defaultLogger),
      Logger.remove(Logger.prettyLoggerDefault),
      Logger.add(logger)
    )
    return Effect.map(Effect.provide(effect, only), (result) => ({ result, lines }))
  })

/** The cookbook entry (`npm run cookbook -- timed`). */
export const pattern = Pattern.make({
  name: "timed",
  title: "Timing decorator",
  asyncio: "@timed\nasync def fetch_page(url): ...  # perf_counter() around the await, log in finally",
  primitive: "Timed.timed(name)",
  summary: "Logs how it ended (success, failure with cause, interruption), records a histogram and a span, on the Clock.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http } = yield* Sandbox.make(routes)
    const calls = Effect.all([
      Effect.either(fetchPage("/page")),
      Effect.either(fetchPage("/broken")),
      Effect.either(Effect.timeout(fetchPage("/slow"), "100 millis"))
    ]).pipe(Effect.provideService(Http.Http, http))
    const { lines } = yield* capturingTimedLines(calls)
    yield* Console.log("GET /page, GET /broken (500), GET /slow cut by a 100 ms timeout; Timed logged:")
    for (const line of lines) yield* Console.log(`  ${line.message.split("\n")[0]}  (outcome=${line.outcome})`)
    yield* Console.log("and recorded the histogram:")
    const summary = yield* Metrics.summary
    for (const row of summary.split("\n").filter((l) => l.includes("timed_duration_ms") || l.startsWith("metric"))) {
      yield* Console.log(`  ${row}`)
    }
  }))
})
