/**
 * Pitfall: forgetting `await`. `save(order)` without `await` creates a
 * coroutine and drops it (a `RuntimeWarning`, maybe); `if is_valid(x):`
 * without `await` tests a coroutine object, which is always true.
 *
 * An Effect is a description of work, run only when yielded, so a
 * forgotten `yield*` never half-runs anything: the work simply does not
 * happen (the counter below stays 0). And the value has type `Effect<A>`,
 * not `A`, so using it as its result does not compile:
 *
 *     const n: number = Ref.get(saves)
 *     // error TS2322: Type 'Effect<number, never, never>' is not assignable to type 'number'.
 *     const next = Ref.get(saves) + 1
 *     // error TS2365: Operator '+' cannot be applied to types 'Effect<number, never, never>' and 'number'.
 *
 * (`test/pitfall-forgetting-await.test.ts` keeps these as `@ts-expect-error`,
 * so the type checker proves them.) Two places the compiler alone does not
 * catch: a bare statement `save(saves)` and an Effect used as a condition —
 * the Effect language service flags the first ("floating Effect") and
 * typescript-eslint's `strict-boolean-expressions` the second.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Pattern from "../Pattern.js"

/** The work that must happen. */
export const save = (saves: Ref.Ref<number>): Effect.Effect<void> => Ref.update(saves, (n) => n + 1)

/** The counter, before and after yielding. */
export interface Outcome {
  /** Saves counted after calling `save` without `yield*`. */
  readonly withoutYield: number
  /** … and after `yield* save(...)`. */
  readonly withYield: number
}

/** Calls `save` once without `yield*` and once with it, reading the counter after each. */
export const forgetThenRemember: Effect.Effect<Outcome> = Effect.gen(function*() {
  const saves = yield* Ref.make(0)
  // The mistake: this builds the description of a save and throws it away.
  save(saves)
  const withoutYield = yield* Ref.get(saves)
  yield* save(saves)
  const withYield = yield* Ref.get(saves)
  return { withoutYield, withYield }
})

/** The cookbook entry (`npm run cookbook -- pitfall-forgetting-await`). */
export const pattern = Pattern.make({
  name: "pitfall-forgetting-await",
  title: "Pitfall: forgetting await",
  asyncio: "save(order)            # never awaited: nothing is saved\nif is_valid(x): ...    # a coroutine is always truthy",
  primitive: "Effect values + the type checker",
  summary: "A forgotten yield* runs nothing, never half; using an Effect as its result is a compile error.",
  run: Effect.gen(function*() {
    const outcome = yield* forgetThenRemember
    yield* Console.log(`save(saves) without yield*: counter = ${outcome.withoutYield} (nothing ran)`)
    yield* Console.log(`yield* save(saves):        counter = ${outcome.withYield}`)
    yield* Console.log("using the Effect as its value does not compile:")
    yield* Console.log("  const n: number = Ref.get(saves)")
    yield* Console.log("  → TS2322: Type 'Effect<number, never, never>' is not assignable to type 'number'.")
  })
})
