import * as Effect from "effect/Effect"
import * as KeyedSemaphore from "../packages/core/src/KeyedSemaphore.js"
const N = 500_000
const seq = (op: (i: number) => Effect.Effect<void>) => Effect.gen(function*() { for (let i = 0; i < N; i++) yield* op(i) })
const sem = Effect.runSync(KeyedSemaphore.make<string>({ permits: 4 }))
const held = Effect.runSync(KeyedSemaphore.make<string>({ permits: 4 }))
Effect.runSync(held.take("example.com"))
const esem = Effect.runSync(Effect.makeSemaphore(1))
const cases: Array<[string, () => Effect.Effect<void>]> = [
  ["mask+match floor", () => seq(() => Effect.uninterruptibleMask((r) => Effect.matchCauseEffect(r(Effect.void), { onFailure: Effect.failCause, onSuccess: Effect.succeed })))],
  ["keyed withPermit (entry churn)", () => seq(() => sem.withPermit("example.com")(Effect.void))],
  ["keyed withPermit (entry kept)", () => seq(() => held.withPermit("example.com")(Effect.void))],
  ["effect withPermits", () => seq(() => esem.withPermits(1)(Effect.void))],
]
const best = new Map<string, number>()
for (let r = 0; r < 5; r++) for (const [name, p] of cases) { const s = performance.now(); await Effect.runPromise(p()); const t = (performance.now() - s) * 1e6 / N; best.set(name, Math.min(best.get(name) ?? Infinity, t)) }
for (const [k, v] of best) console.log(k.padEnd(40), v.toFixed(0), "ns/op")
