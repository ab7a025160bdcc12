/**
 * Pitfall: errors lost in background tasks. `asyncio.create_task(send())`
 * with nobody awaiting the task: its exception surfaces, if ever, as "Task
 * exception was never retrieved" when the task is garbage-collected.
 *
 * Effect's fibers make the choice explicit. `Effect.fork` + `Fiber.join`
 * delivers the child's typed failure to the parent (as do `FiberSet.join`
 * and `Effect.all`, see task-group). A detached `Effect.forkDaemon` that
 * nobody joins still loses its failure to the caller — but the runtime
 * reports every fiber that ends with an unhandled error, at DEBUG by
 * default; `Effect.withUnhandledErrorLogLevel(Option.some(LogLevel.Error))`
 * set once at the top makes those reports visible, deterministically when
 * the fiber ends rather than whenever the GC runs.
 */
import { Http, type HttpError } from "@fiberkit/core"
import { Faults } from "@fiberkit/testkit"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Pattern from "../Pattern.js"
import * as Sandbox from "../Sandbox.js"

/** The routes of the local server this pattern runs against. */
export const routes = [
  Faults.post("/email", Faults.latency(30, Faults.status(500, "mail server down"))),
  Faults.post("/order", Faults.ok("order placed"))
]

const sendEmail = Http.request({ method: "POST", url: "/email" })
const placeOrder = Effect.map(Http.request({ method: "POST", url: "/order" }), (r) => r.text)

/** Fire-and-forget: the caller succeeds, the email's failure goes nowhere the caller can see. */
export const fireAndForget: Effect.Effect<string, HttpError.HttpError, Http.Http> = Effect.gen(function*() {
  yield* Effect.forkDaemon(sendEmail)
  return yield* placeOrder
})

/** Forked and joined: the email's failure is the caller's failure, typed. */
export const joined: Effect.Effect<string, HttpError.HttpError, Http.Http> = Effect.gen(function*() {
  const email = yield* Effect.fork(sendEmail)
  const order = yield* placeOrder
  yield* Fiber.join(email)
  return order
})

/** Detached, but with unhandled fiber failures reported at ERROR (set once, at the top of a program). */
export const reported: Effect.Effect<string, HttpError.HttpError, Http.Http> = fireAndForget.pipe(
  Effect.withUnhandledErrorLogLevel(Option.some(LogLevel.Error))
)

/** Replaces whichever console logger is installed (the CLI runtime installs the pretty one) with `logger`. */
const onlyLogger = <A>(logger: Logger.Logger<unknown, A>) =>
  Layer.mergeAll(Logger.remove(Logger.defaultLogger), Logger.remove(Logger.prettyLoggerDefault), Logger.add(logger))

/** The cookbook entry (`npm run cookbook -- pitfall-lost-errors`). */
export const pattern = Pattern.make({
  name: "pitfall-lost-errors",
  title: "Pitfall: errors lost in background tasks",
  asyncio: "asyncio.create_task(send_email())  # exception: 'Task exception was never retrieved', at GC",
  primitive: "Effect.fork + Fiber.join, FiberSet, withUnhandledErrorLogLevel",
  summary: "A joined fiber's failure is the parent's typed failure; detached failures are reported when the fiber ends.",
  run: Effect.scoped(Effect.gen(function*() {
    const { http, server } = yield* Sandbox.make(routes)
    const provide = Effect.provideService(Http.Http, http)
    const show = (result: Either.Either<string, HttpError.HttpError>) =>
      Either.match(result, { onRight: (text) => `succeeded ("${text}")`, onLeft: (e) => `failed: ${e.message}` })
    yield* Console.log(`fire-and-forget: the caller ${show(yield* provide(Effect.either(fireAndForget)))}`)
    yield* server.awaitSettled(1, "/email")
    yield* Console.log("  …yet the server answered the email with 500: nobody found out (reported only at DEBUG)")
    yield* Console.log(`fork + join:     the caller ${show(yield* provide(Effect.either(joined)))}`)
    // A short logger for the demo (the default one prints the whole cause with its stack), and a
    // signal so the sandbox is not closed before the detached fiber has ended.
    const reports = yield* Deferred.make<string>()
    const logger = Logger.make(({ cause, logLevel, message }) => {
      if (LogLevel.greaterThanEqual(logLevel, LogLevel.Error)) {
        Deferred.unsafeDone(reports, Exit.succeed(`${logLevel.label}: ${String(message)}: ${Cause.squash(cause)}`))
      }
    })
    const caller = yield* provide(Effect.either(reported)).pipe(Effect.provide(onlyLogger(logger)))
    yield* Console.log(`reported at ERROR: the caller ${show(caller)}; the runtime logged`)
    yield* Console.log(`  ${yield* Deferred.await(reports)}`)
  }))
})
