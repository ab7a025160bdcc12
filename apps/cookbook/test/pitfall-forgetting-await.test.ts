import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import { forgetThenRemember } from "../src/patterns/pitfall-forgetting-await.js"

describe("pitfall-forgetting-await", () => {
  it.effect("an Effect that is not yielded does nothing: the counter stays 0 until yield*", () =>
    Effect.map(forgetThenRemember, (outcome) => expect(outcome).toEqual({ withoutYield: 0, withYield: 1 })))

  it("using an Effect as its result does not type-check (tsc checks these expectations)", () => {
    const saves = Ref.unsafeMake(0)
    // @ts-expect-error Type 'Effect<number, never, never>' is not assignable to type 'number'.
    const n: number = Ref.get(saves)
    // @ts-expect-error Operator '+' cannot be applied to types 'Effect<number, never, never>' and 'number'.
    const next = Ref.get(saves) + 1
    // At run time they are descriptions, not numbers.
    expect(Effect.isEffect(n)).toBe(true)
    expect(typeof next).not.toBe("number")
  })
})
