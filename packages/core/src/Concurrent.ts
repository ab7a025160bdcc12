/**
 * Small combinators for groups of effects and for time, for the asyncio
 * patterns Effect has no one-liner for:
 *
 * - `settle`: every outcome, typed (`gather(..., return_exceptions=True)`)
 * - `firstOf`: the first success, the others interrupted
 * - `withDeadline`: an absolute deadline (`asyncio.timeout_at`), shared by
 *   sequential steps, where `Effect.timeout` gives each step its own budget
 * - `inChunks`: batches of `size` with a pause between them
 *
 * For the rest Effect already has the one-liner: `Effect.timeout` (relative
 * time limit), `Effect.race` / `Effect.raceAll` (first to finish, success or
 * failure), `Effect.forEach(..., { concurrency })` (bounded gather),
 * `Stream.groupedWithin` (batches by size or time).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import { dual } from "effect/Function"

/**
 * The outcome of one effect run by {@link settle}.
 *
 * @since 0.1.0
 * @category models
 */
export type Settled<A, E> = Either.Either<A, E>

/**
 * Runs every effect (at most `concurrency` at once, default all) and returns
 * each outcome in input order as `Either.right(value)` or `Either.left(error)`
 * — `asyncio.gather(..., return_exceptions=True)`, typed. Defects and
 * interruptions are not captured: they still end the whole call.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { Concurrent } from "@fiberkit/core"
 *
 * const outcomes = Concurrent.settle([Effect.succeed(1), Effect.fail("boom")], { concurrency: 4 })
 * // Effect<Array<Either<number, string>>>: [Either.right(1), Either.left("boom")]
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const settle = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options?: { readonly concurrency?: number | "unbounded" | undefined }
): Effect.Effect<Array<Settled<A, E>>, never, R> =>
  Effect.forEach(effects, Effect.either, { concurrency: options?.concurrency ?? "unbounded" })

/**
 * Runs the effects concurrently and succeeds with the first success; the
 * others are interrupted at once (their finalizers run, an HTTP request is
 * aborted). Fails only when all fail, with every error in input order.
 * Unlike `Effect.raceAll`, an early failure does not win.
 *
 * @example
 * ```ts
 * import { Concurrent, Http } from "@fiberkit/core"
 *
 * // ask three mirrors, take the fastest good answer
 * const body = Concurrent.firstOf(["https://a.example", "https://b.example"].map(Http.text))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const firstOf = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>
): Effect.Effect<A, Array<E>, R> => Effect.validateFirst(effects, (effect) => effect, { concurrency: "unbounded" })

const describeTime = (epochMillis: number): string =>
  Math.abs(epochMillis) <= 8.64e15 ? new Date(epochMillis).toISOString() : `${epochMillis} ms since the epoch`

/**
 * The failure of {@link withDeadline}: the deadline passed before the effect
 * completed (it was interrupted, its finalizers ran) or before it started (it
 * never ran).
 *
 * @since 0.1.0
 * @category errors
 */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{
  /** The deadline, epoch milliseconds on the `Clock`. */
  readonly deadline: number
  /** Whether the effect had started: `false` when the deadline had passed already. */
  readonly started: boolean
}> {
  override get message(): string {
    return `Deadline ${describeTime(this.deadline)} passed ` +
      (this.started
        ? "before the effect completed; it was interrupted. "
        : "before the effect started; it was not run. ") +
      "Set a later deadline or give the earlier steps less of the budget."
  }
}

/**
 * Fails with {@link DeadlineExceeded} if `self` has not completed by
 * `deadline` (a `Date` or epoch milliseconds, read on the `Clock`, so
 * `TestClock` drives it), interrupting it; if the deadline has already
 * passed, `self` is not run at all. Unlike `Effect.timeout`, the limit is a
 * point in time, so one deadline bounds several sequential steps together.
 *
 * @example
 * ```ts
 * import { Clock, Effect } from "effect"
 * import { Concurrent } from "@fiberkit/core"
 *
 * declare const login: Effect.Effect<string>
 * declare const fetchAll: (token: string) => Effect.Effect<ReadonlyArray<string>>
 *
 * const program = Effect.gen(function*() {
 *   // the whole job, however its time splits between steps, ends within 30 s
 *   const deadline = (yield* Clock.currentTimeMillis) + 30_000
 *   const token = yield* Concurrent.withDeadline(login, deadline)
 *   return yield* fetchAll(token).pipe(Concurrent.withDeadline(deadline))
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withDeadline: {
  (deadline: Date | number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceeded, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, deadline: Date | number): Effect.Effect<A, E | DeadlineExceeded, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, deadline: Date | number): Effect.Effect<A, E | DeadlineExceeded, R> => {
    const at = typeof deadline === "number" ? deadline : deadline.getTime()
    if (Number.isNaN(at)) {
      return Effect.die(
        new Cause.IllegalArgumentException(
          "withDeadline was given an invalid deadline (NaN or an invalid Date); pass a Date or epoch milliseconds."
        )
      )
    }
    if (at === Infinity) return self
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      at <= now
        ? Effect.fail(new DeadlineExceeded({ deadline: at, started: false }))
        : Effect.timeoutFail(self, {
          duration: Duration.millis(at - now),
          onTimeout: () => new DeadlineExceeded({ deadline: at, started: true })
        }))
  }
)

/**
 * Options of {@link inChunks}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChunkOptions {
  /** Items per batch: a positive integer. */
  readonly size: number
  /** The pause between the end of one batch and the start of the next; none after the last. Default none. */
  readonly pause?: Duration.DurationInput | undefined
  /** How many items of a batch run at once. Default: the whole batch. */
  readonly concurrency?: number | "unbounded" | undefined
}

/**
 * Processes `items` in batches of `options.size`, the items of a batch
 * concurrently, waiting for a whole batch to finish and then `options.pause`
 * before starting the next: "10 at a time, then rest a second". Returns the
 * results in input order; `f` also gets each item's index. The first failure
 * interrupts the rest of its batch and fails the whole call (wrap `f` with
 * `Effect.either` to keep going).
 *
 * For a steady rate rather than bursts, use a rate limiter
 * (`KeyedRateLimiter`); for batches of a stream by size or time,
 * `Stream.groupedWithin`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Concurrent } from "@fiberkit/core"
 *
 * declare const notify: (userId: string) => Effect.Effect<void, Error>
 * declare const userIds: ReadonlyArray<string>
 *
 * // 50 notifications at a time, one second apart
 * const program = Concurrent.inChunks(userIds, { size: 50, pause: "1 second" }, notify)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const inChunks = <A, B, E, R>(
  items: Iterable<A>,
  options: ChunkOptions,
  f: (item: A, index: number) => Effect.Effect<B, E, R>
): Effect.Effect<Array<B>, E, R> =>
  Effect.suspend(() => {
    const size = options.size
    if (!(Number.isInteger(size) && size >= 1)) {
      return Effect.die(
        new Cause.IllegalArgumentException(`inChunks was given size ${size}; pass a positive integer (items per batch).`)
      )
    }
    const all = Array.from(items)
    const pause = options.pause === undefined ? Duration.zero : Duration.decode(options.pause)
    const concurrency = options.concurrency ?? size
    const results: Array<B> = new Array(all.length)
    const batch = (start: number): Effect.Effect<void, E, R> =>
      Effect.forEach(
        all.slice(start, start + size),
        (item, i) => Effect.map(f(item, start + i), (b) => {
          results[start + i] = b
        }),
        { concurrency, discard: true }
      )
    let program: Effect.Effect<void, E, R> = Effect.void
    for (let start = 0; start < all.length; start += size) {
      const from = start
      program = from === 0
        ? batch(0)
        : Effect.zipRight(program, Duration.isZero(pause) ? batch(from) : Effect.zipRight(Effect.sleep(pause), batch(from)))
    }
    return Effect.as(program, results)
  })
