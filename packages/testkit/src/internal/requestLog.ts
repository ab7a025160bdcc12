/**
 * What the test server saw: the request log (optionally bounded or off),
 * the counters behind `stats`, and the waiters of `awaitRequests` /
 * `awaitSettled`, which are checked when a request arrives or settles rather
 * than polled.
 *
 * @internal
 */
import type { IncomingHttpHeaders } from "node:http"
import type { RequestRecord, Stats } from "../TestServer.js"

/** @internal */
export type Outcome = RequestRecord["outcome"]

const EMPTY = new Uint8Array(0)

const now = (): number => performance.timeOrigin + performance.now()

/**
 * One request/response exchange. It is both the server's per-request state
 * and, when the log is on, the log entry, so a request costs one object.
 *
 * @internal
 */
export class Exchange {
  body: Uint8Array = EMPTY
  status: number | undefined = undefined
  completedAt: number | undefined = undefined
  outcome: Outcome = "pending"
  /** Set when the server cuts the connection on purpose (reset, truncation). */
  injected = false
  /** Pending latency or drip timer, cleared when the exchange settles. */
  timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    readonly id: number,
    readonly epoch: number,
    readonly method: string,
    readonly path: string,
    readonly pathname: string,
    readonly route: string | undefined,
    readonly headers: IncomingHttpHeaders,
    readonly socketId: number,
    readonly arrivedAt: number,
    readonly inFlightAtArrival: number
  ) {}

  toRecord(): RequestRecord {
    return {
      id: this.id,
      method: this.method,
      path: this.path,
      route: this.route,
      headers: this.headers,
      body: this.body,
      socketId: this.socketId,
      arrivedAt: this.arrivedAt,
      completedAt: this.completedAt,
      outcome: this.outcome,
      status: this.status,
      inFlightAtArrival: this.inFlightAtArrival
    }
  }
}

interface Waiter {
  readonly settled: boolean
  readonly count: number
  readonly path: string | undefined
  readonly done: () => void
}

const increment = (counts: Map<string, number>, route: string | undefined, pathname: string): void => {
  if (route !== undefined) counts.set(route, (counts.get(route) ?? 0) + 1)
  if (pathname !== route) counts.set(pathname, (counts.get(pathname) ?? 0) + 1)
}

/** @internal */
export class RequestLog {
  /** Maximum number of records kept: `Infinity`, `0` (log off) or a bound. */
  private readonly capacity: number
  private records: Array<Exchange> = []
  /** With a bounded log, the index of the oldest record once the ring is full. */
  private head = 0
  /** Bumped by `reset`, so exchanges from before a reset do not count after it. */
  private epoch = 0
  private total = 0
  private settledTotal = 0
  private inFlight = 0
  private maxInFlight = 0
  private readonly inFlightByRoute = new Map<string, number>()
  private maxInFlightByRoute = new Map<string, number>()
  private connections = 0
  private openConnections = 0
  private aborted = 0
  /** Arrivals and settlements by route path and by pathname, for the waiters. */
  private arrivedByPath = new Map<string, number>()
  private settledByPath = new Map<string, number>()
  private waiters: Array<Waiter> = []

  constructor(log: boolean | number) {
    this.capacity = log === true ? Infinity : log === false ? 0 : Math.max(0, Math.floor(log))
  }

  arrive(
    method: string,
    path: string,
    pathname: string,
    route: string | undefined,
    headers: IncomingHttpHeaders,
    socketId: number
  ): Exchange {
    const inFlight = ++this.inFlight
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight
    if (route !== undefined) {
      const routeInFlight = (this.inFlightByRoute.get(route) ?? 0) + 1
      this.inFlightByRoute.set(route, routeInFlight)
      if (routeInFlight > (this.maxInFlightByRoute.get(route) ?? 0)) this.maxInFlightByRoute.set(route, routeInFlight)
    }
    const exchange = new Exchange(
      ++this.total,
      this.epoch,
      method,
      path,
      pathname,
      route,
      headers,
      socketId,
      now(),
      inFlight
    )
    if (this.capacity > 0) this.append(exchange)
    increment(this.arrivedByPath, route, pathname)
    if (this.waiters.length > 0) this.wake()
    return exchange
  }

  settle(exchange: Exchange, outcome: Outcome): void {
    if (exchange.outcome !== "pending") return
    exchange.outcome = outcome
    exchange.completedAt = now()
    this.inFlight--
    if (exchange.route !== undefined) {
      this.inFlightByRoute.set(exchange.route, (this.inFlightByRoute.get(exchange.route) ?? 1) - 1)
    }
    if (exchange.epoch !== this.epoch) return
    if (outcome === "aborted") this.aborted++
    this.settledTotal++
    increment(this.settledByPath, exchange.route, exchange.pathname)
    if (this.waiters.length > 0) this.wake()
  }

  connectionOpened(): void {
    this.connections++
    this.openConnections++
  }

  connectionClosed(): void {
    this.openConnections--
  }

  snapshot(path?: string): ReadonlyArray<RequestRecord> {
    const out: Array<RequestRecord> = []
    for (const exchange of this.ordered()) {
      if (path === undefined || exchange.route === path || exchange.pathname === path) out.push(exchange.toRecord())
    }
    return out
  }

  stats(): Stats {
    return {
      total: this.total,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      maxInFlightByRoute: Object.fromEntries(this.maxInFlightByRoute),
      connections: this.connections,
      openConnections: this.openConnections,
      aborted: this.aborted
    }
  }

  /**
   * Calls `done` once `count` requests (to `path`) have arrived, or settled
   * when `settled`; at once if they already have. Returns a canceller.
   */
  await(settled: boolean, count: number, path: string | undefined, done: () => void): () => void {
    const waiter: Waiter = { settled, count, path, done }
    if (this.reached(waiter)) {
      done()
      return () => {}
    }
    this.waiters.push(waiter)
    return () => {
      this.waiters = this.waiters.filter((w) => w !== waiter)
    }
  }

  /** Clears the log and the counters; requests still in flight stay in the gauges. */
  reset(): void {
    this.epoch++
    this.records = []
    this.head = 0
    this.total = 0
    this.settledTotal = 0
    this.maxInFlight = this.inFlight
    this.maxInFlightByRoute = new Map()
    for (const [route, inFlight] of this.inFlightByRoute) {
      if (inFlight > 0) this.maxInFlightByRoute.set(route, inFlight)
    }
    this.connections = 0
    this.aborted = 0
    this.arrivedByPath = new Map()
    this.settledByPath = new Map()
  }

  private append(exchange: Exchange): void {
    if (this.records.length < this.capacity) {
      this.records.push(exchange)
    } else {
      this.records[this.head] = exchange
      this.head = (this.head + 1) % this.capacity
    }
  }

  /** The kept records, oldest first. */
  private ordered(): ReadonlyArray<Exchange> {
    return this.head === 0 ? this.records : this.records.slice(this.head).concat(this.records.slice(0, this.head))
  }

  private reached(waiter: Waiter): boolean {
    const reached = waiter.path === undefined
      ? (waiter.settled ? this.settledTotal : this.total)
      : ((waiter.settled ? this.settledByPath : this.arrivedByPath).get(waiter.path) ?? 0)
    return reached >= waiter.count
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.reached(w))
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => !ready.includes(w))
    for (const waiter of ready) waiter.done()
  }
}
