/**
 * A growable ring buffer: O(1) push at the back, take and drop at the
 * front, and putting a taken run back at the front — what the buffered
 * writer needs for up to ~100 000 items without `Array.shift` costs.
 *
 * @internal
 */

/** @internal */
export class Deque<A> {
  private items: Array<A | undefined>
  private head = 0
  private length = 0

  constructor(capacity = 16) {
    let c = 1
    while (c < capacity) c *= 2
    this.items = new Array<A | undefined>(c)
  }

  get size(): number {
    return this.length
  }

  /** The front (oldest) item. */
  peek(): A | undefined {
    return this.length === 0 ? undefined : this.items[this.head]
  }

  push(a: A): void {
    this.ensure(this.length + 1)
    this.items[(this.head + this.length) & (this.items.length - 1)] = a
    this.length++
  }

  /** Removes and returns up to `n` items from the front, oldest first. */
  take(n: number): Array<A> {
    const k = Math.min(n, this.length)
    const out = new Array<A>(k)
    const mask = this.items.length - 1
    for (let i = 0; i < k; i++) {
      const at = (this.head + i) & mask
      out[i] = this.items[at] as A
      this.items[at] = undefined
    }
    this.head = (this.head + k) & mask
    this.length -= k
    return out
  }

  /** Drops up to `n` items from the front; returns how many. */
  drop(n: number): number {
    return this.take(n).length
  }

  /** Puts `as` back at the front, in their order (`as[0]` becomes the front). */
  unshiftAll(as: ReadonlyArray<A>): void {
    if (as.length === 0) return
    this.ensure(this.length + as.length)
    const mask = this.items.length - 1
    for (let i = as.length - 1; i >= 0; i--) {
      this.head = (this.head - 1) & mask
      this.items[this.head] = as[i]
    }
    this.length += as.length
  }

  private ensure(needed: number): void {
    if (needed <= this.items.length) return
    let c = this.items.length
    while (c < needed) c *= 2
    const next = new Array<A | undefined>(c)
    const mask = this.items.length - 1
    for (let i = 0; i < this.length; i++) next[i] = this.items[(this.head + i) & mask]
    this.items = next
    this.head = 0
  }
}
