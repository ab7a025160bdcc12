/**
 * Seeded randomness for the demo exchanges: a stateless hash so that a price
 * at (seed, symbol, step) is the same whenever and however often it is asked
 * for, and a small stateful generator for per-request draws (faults,
 * latency) whose sequence depends only on the seed and the request order.
 *
 * @internal
 */

import * as SeededRandom from "@fiberkit/testkit/SeededRandom"

const fmix = SeededRandom.mix32

/** A 32-bit hash of any number of integers (safe integers are folded to 32 bits first). */
export const hash = (...values: ReadonlyArray<number>): number => {
  let h = 0x9e3779b9
  for (const value of values) {
    const low = value | 0
    const high = Math.floor(value / 0x100000000) | 0
    h = fmix(Math.imul(h ^ fmix(low ^ fmix(high)), 0x165667b1) ^ 0x27d4eb2f)
  }
  return h
}

/** A 32-bit hash of a string (FNV-1a, mixed), to key hashes by symbol or exchange id. */
export const hashString = SeededRandom.hashString

/** A uniform number in `[0, 1)` from a 32-bit hash. */
export const unit = SeededRandom.unit

/** A standard normal number (Box–Muller) from two hashes. */
export const gaussian = (h1: number, h2: number): number => {
  // 1 - u keeps the logarithm finite when the hash is 0.
  const u1 = 1 - unit(h1)
  const u2 = unit(h2)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/** mulberry32: a tiny, fast generator; good enough for simulated faults. */
export const Prng = SeededRandom.Prng

/** @internal */
export type Prng = SeededRandom.Prng
