/**
 * Seeded pseudo-random numbers for the test server and the synthetic site: a
 * 32-bit mixing hash to derive an independent stream per (seed, page,
 * purpose), and a small generator (mulberry32) to draw from it. Both are fast and stable across
 * platforms, which is what makes a site reproducible from its seed.
 *
 * @internal
 */

/** Finalizer of MurmurHash3: spreads every input bit over the output. */
export const fmix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Mixes an integer seed (any safe integer, negative included) into 32 bits. */
export const seed32 = (seed: number): number =>
  fmix((seed | 0) ^ fmix(Math.floor(seed / 0x100000000) | 0) ^ 0x9e3779b9)

/** A 32-bit hash of three integers, e.g. `(seed32, pageId, salt)`. */
export const hash = (a: number, b: number, c: number): number =>
  fmix(Math.imul(fmix(Math.imul(fmix(a ^ 0x27d4eb2f) ^ b, 0x165667b1)) ^ c, 0x9e3779b1))

/** A uniform float in `[0, 1)` from a 32-bit hash. */
export const unit = (h: number): number => h / 0x100000000

/**
 * A mutable stream of numbers (mulberry32: tiny, fast, good enough for test
 * data); cheap to create, one per page and purpose.
 */
export class Prng {
  private state: number

  constructor(state: number) {
    this.state = state >>> 0
  }

  /** A float in `[0, 1)`. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000
  }

  /** An integer in `[0, n)`; `n` must be at least 1. */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }
}

export const make = (state: number): Prng => new Prng(state)
