/**
 * Seeded pseudo-random numbers for reproducible test data and simulations:
 * the same seed gives the same numbers on every platform and run.
 *
 * - `Prng`: a small mutable generator (mulberry32) — `next()` in `[0, 1)`,
 *   `int(n)`, `chance(p)`.
 * - `mix32`, `seed32`, `hash`: stateless 32-bit mixing (MurmurHash3's
 *   finalizer), to derive an independent stream per key, e.g.
 *   `new Prng(hash(seed32(seed), pageId, salt))`.
 * - `hashString`: a 32-bit hash of a string (FNV-1a, then mixed), to key
 *   streams by URL or name.
 * - `unit`: a 32-bit hash as a float in `[0, 1)`.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/prng.js"

/**
 * A mutable stream of numbers (mulberry32: tiny, fast, good enough for test data and simulated faults).
 *
 * @since 0.1.0
 * @category constructors
 */
export const Prng = internal.Prng

/**
 * @since 0.1.0
 * @category models
 */
export type Prng = internal.Prng

/**
 * MurmurHash3's finalizer: spreads every input bit of a 32-bit integer over the output.
 *
 * @since 0.1.0
 * @category hashing
 */
export const mix32: (h: number) => number = internal.fmix

/**
 * Mixes an integer seed (any safe integer, negative included) into 32 bits.
 *
 * @since 0.1.0
 * @category hashing
 */
export const seed32: (seed: number) => number = internal.seed32

/**
 * A 32-bit hash of three integers, e.g. `(seed32(seed), pageId, salt)`.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hash: (a: number, b: number, c: number) => number = internal.hash

/**
 * A uniform float in `[0, 1)` from a 32-bit hash.
 *
 * @since 0.1.0
 * @category hashing
 */
export const unit: (h: number) => number = internal.unit

/**
 * A 32-bit hash of a string: FNV-1a, then {@link mix32} (FNV alone barely
 * moves its high bits when only the last character changes, as in `path|1`,
 * `path|2`).
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashString = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return internal.fmix(h >>> 0)
}

/**
 * A seeded generator as a function returning floats in `[0, 1)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generator = (seed: number): (() => number) => {
  const prng = new internal.Prng(seed)
  return () => prng.next()
}
