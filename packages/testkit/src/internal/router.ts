/**
 * The route table of the test server: exact and `/*` prefix routes, where
 * the most recently added match wins, with a hit counter per route.
 *
 * @internal
 */
import type * as Route from "../Route.js"

/** @internal */
export interface Entry {
  readonly route: Route.Route
  /** Upper-case method, `undefined` for any. */
  readonly method: string | undefined
  /** For `/*` routes, the pathname prefix (ending with `/`). */
  readonly prefix: string | undefined
  /** Insertion order; a higher `seq` is newer and wins. */
  readonly seq: number
  hits: number
}

const sameRoute = (entry: Entry, method: string | undefined, path: string): boolean =>
  entry.method === method && entry.route.path === path

const accepts = (entry: Entry, method: string): boolean => entry.method === undefined || entry.method === method

/** @internal */
export class Router {
  private seq = 0
  /** Exact routes by path, oldest first. */
  private readonly exact = new Map<string, Array<Entry>>()
  /** Prefix routes, oldest first. */
  private prefixes: Array<Entry> = []

  add(route: Route.Route): void {
    const method = route.method === undefined ? undefined : route.method.toUpperCase()
    const prefix = route.path.endsWith("/*") ? route.path.slice(0, -1) : undefined
    const entry: Entry = { route, method, prefix, seq: ++this.seq, hits: 0 }
    if (prefix === undefined) {
      const list = (this.exact.get(route.path) ?? []).filter((e) => !sameRoute(e, method, route.path))
      list.push(entry)
      this.exact.set(route.path, list)
    } else {
      this.prefixes = this.prefixes.filter((e) => !sameRoute(e, method, route.path))
      this.prefixes.push(entry)
    }
  }

  /** The newest route matching `method` (upper-case) and `pathname`. */
  match(method: string, pathname: string): Entry | undefined {
    let best: Entry | undefined
    const list = this.exact.get(pathname)
    if (list !== undefined) {
      for (let i = list.length - 1; i >= 0; i--) {
        const entry = list[i]
        if (entry !== undefined && accepts(entry, method)) {
          best = entry
          break
        }
      }
    }
    for (let i = this.prefixes.length - 1; i >= 0; i--) {
      const entry = this.prefixes[i]
      if (entry === undefined || (best !== undefined && entry.seq < best.seq)) break
      if (entry.prefix !== undefined && accepts(entry, method) && pathname.startsWith(entry.prefix)) {
        best = entry
        break
      }
    }
    return best
  }

  resetHits(): void {
    for (const list of this.exact.values()) for (const entry of list) entry.hits = 0
    for (const entry of this.prefixes) entry.hits = 0
  }
}
