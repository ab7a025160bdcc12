/**
 * Seeded randomness for the demo exchanges: a stateless hash so that a price
 * at (seed, symbol, step) is the same whenever and however often it is asked
 * for, and a small stateful generator for per-request draws (faults,
 * latency) whose sequence depends only on the seed and the request order.
 *
 * @internal
 */

/** Finalizer of MurmurHash3: spreads every input bit over the output. */
const fmix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

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

/** A 32-bit hash of a string (FNV-1a), to key hashes by symbol or exchange id. */
export const hashString = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix(h >>> 0)
}

/** A uniform number in `[0, 1)` from a 32-bit hash. */
export const unit = (h: number): number => h / 0x100000000

/** A standard normal number (Box–Muller) from two hashes. */
export const gaussian = (h1: number, h2: number): number => {
  // 1 - u keeps the logarithm finite when the hash is 0.
  const u1 = 1 - unit(h1)
  const u2 = unit(h2)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/** mulberry32: a tiny, fast generator; good enough for simulated faults. */
export class Prng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in `[0, 1)`. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000
  }
}
