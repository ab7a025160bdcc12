/**
 * The node:http server behind {@link TestServer}: routing, reading request
 * bodies, latency and fault injection at the socket level. Effect-free; the
 * public module owns the lifecycle.
 *
 * @internal
 */
import * as Http from "node:http"
import type { Socket } from "node:net"
import type * as Route from "../Route.js"
import * as Prng from "./prng.js"
import { prepare, type PreparedReply } from "./preparedReply.js"
import { type Exchange, RequestLog } from "./requestLog.js"
import { Router } from "./router.js"

/** @internal */
export interface ServerConfig {
  readonly routes: ReadonlyArray<Route.Route>
  readonly seed: number
  readonly fallback: Route.Handler
  readonly log: boolean | number
}

class Incoming implements Route.IncomingRequest {
  private parsedQuery: URLSearchParams | undefined = undefined
  constructor(
    readonly method: string,
    readonly path: string,
    readonly pathname: string,
    readonly headers: Http.IncomingHttpHeaders,
    readonly body: Uint8Array,
    readonly hit: number
  ) {}
  /** Parsed on first use: most handlers never look at the query. */
  get query(): URLSearchParams {
    if (this.parsedQuery === undefined) {
      const q = this.path.indexOf("?")
      this.parsedQuery = new URLSearchParams(q === -1 ? "" : this.path.slice(q + 1))
    }
    return this.parsedQuery
  }
}

const isSequence = (handler: Route.Handler): handler is ReadonlyArray<Route.Reply> => Array.isArray(handler)

const EMPTY_REPLY: Route.Reply = {}

const writeHead = (exchange: Exchange, prepared: PreparedReply, res: Http.ServerResponse): void => {
  exchange.status = prepared.status
  res.writeHead(prepared.status, prepared.headers)
}

/** Writes `bytes` (headers first if not sent), then cuts the connection with `cut`. */
const writeThenCut = (
  exchange: Exchange,
  res: Http.ServerResponse,
  bytes: Buffer,
  cut: () => void
): void => {
  res.write(bytes, () => {
    // The client may have gone already; cutting a closed socket would misreport the outcome.
    if (exchange.outcome !== "pending") return
    exchange.injected = true
    cut()
  })
}

const drip = (
  exchange: Exchange,
  prepared: PreparedReply,
  res: Http.ServerResponse,
  chunkBytes: number,
  intervalMs: number
): void => {
  writeHead(exchange, prepared, res)
  res.flushHeaders()
  const body = prepared.body
  if (body.length === 0) {
    res.end()
    return
  }
  const step = Math.max(1, Math.floor(chunkBytes))
  let offset = 0
  const timer = setInterval(() => {
    const end = Math.min(offset + step, body.length)
    const chunk = body.subarray(offset, end)
    offset = end
    if (end < body.length) {
      res.write(chunk)
    } else {
      clearInterval(timer)
      exchange.timer = undefined
      res.end(chunk)
    }
  }, intervalMs)
  exchange.timer = timer
}

const send = (
  exchange: Exchange,
  prepared: PreparedReply,
  req: Http.IncomingMessage,
  res: Http.ServerResponse
): void => {
  exchange.timer = undefined
  const fault = prepared.fault
  if (fault === undefined) {
    writeHead(exchange, prepared, res)
    res.end(prepared.body)
    return
  }
  switch (fault._tag) {
    case "ResetBeforeHeaders": {
      exchange.injected = true
      req.socket.resetAndDestroy()
      return
    }
    case "StallBeforeHeaders": {
      return
    }
    case "Stall": {
      writeHead(exchange, prepared, res)
      res.flushHeaders()
      return
    }
    case "ResetMidBody": {
      writeHead(exchange, prepared, res)
      const sent = prepared.body.subarray(0, Math.max(0, fault.afterBytes))
      writeThenCut(exchange, res, sent, () => req.socket.resetAndDestroy())
      return
    }
    case "Truncated": {
      writeHead(exchange, prepared, res)
      const sent = prepared.body.subarray(0, Math.max(0, fault.declaredLength))
      writeThenCut(exchange, res, sent, () => req.socket.destroy())
      return
    }
    case "Drip": {
      drip(exchange, prepared, res, fault.chunkBytes, fault.intervalMs)
      return
    }
  }
}

/** A reply that could not be built or sent is a bug in the test: say so to the client. */
const failed = (path: string, cause: unknown): Route.Reply => ({
  status: 500,
  body: `@fiberkit/testkit: the reply for ${path} could not be built or sent (${
    cause instanceof Error ? cause.message : String(cause)
  }); fix the route's handler or reply.`
})

/** @internal */
export class TestHttpServer {
  readonly router = new Router()
  readonly log: RequestLog
  private readonly server: Http.Server
  /** Open sockets and their ids. */
  private readonly sockets = new Map<Socket, number>()
  private nextSocketId = 0
  private fallbackHits = 0
  private readonly random: Prng.Prng
  private readonly fallback: Route.Handler

  constructor(config: ServerConfig) {
    this.log = new RequestLog(config.log)
    this.random = Prng.make(config.seed)
    this.fallback = config.fallback
    for (const route of config.routes) this.router.add(route)
    this.server = Http.createServer({ noDelay: true, requestTimeout: 0, headersTimeout: 0 }, this.onRequest)
    // Generous, so that keep-alive reuse in a slow test is never broken by the server.
    this.server.keepAliveTimeout = 60_000
    this.server.on("connection", this.onConnection)
  }

  /** Starts listening; exactly one of the callbacks is called. */
  listen(port: number, hostname: string, onListening: (port: number) => void, onError: (cause: Error) => void): void {
    this.server.once("error", onError)
    this.server.listen(port, hostname, () => {
      this.server.off("error", onError)
      const address = this.server.address()
      onListening(typeof address === "object" && address !== null ? address.port : port)
    })
  }

  /** Stops accepting, destroys every socket (stalled ones included) and calls `done` once closed. */
  close(done: (cause: Error | undefined) => void): void {
    this.server.close(done)
    this.server.closeAllConnections()
    for (const socket of this.sockets.keys()) socket.destroy()
  }

  /** Zeroes the hit counters that drive sequences. */
  resetHits(): void {
    this.router.resetHits()
    this.fallbackHits = 0
  }

  private readonly onConnection = (socket: Socket): void => {
    this.sockets.set(socket, ++this.nextSocketId)
    this.log.connectionOpened()
    socket.once("close", () => {
      this.sockets.delete(socket)
      this.log.connectionClosed()
    })
  }

  private readonly onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse): void => {
    const method = req.method ?? "GET"
    const path = req.url ?? "/"
    const q = path.indexOf("?")
    const pathname = q === -1 ? path : path.slice(0, q)
    const entry = this.router.match(method, pathname)
    const hit = entry === undefined ? ++this.fallbackHits : ++entry.hits
    const exchange = this.log.arrive(
      method,
      path,
      pathname,
      entry?.route.path,
      req.headers,
      this.sockets.get(req.socket) ?? 0
    )
    res.once("close", () => {
      if (exchange.timer !== undefined) clearTimeout(exchange.timer)
      exchange.timer = undefined
      this.log.settle(
        exchange,
        exchange.injected ? "reset" : res.writableFinished ? "completed" : "aborted"
      )
    })
    const handler = entry === undefined ? this.fallback : entry.route.handler
    const headers = req.headers
    if (headers["transfer-encoding"] === undefined && (headers["content-length"] ?? "0") === "0") {
      this.respond(exchange, handler, hit, req, res)
      return
    }
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      if (exchange.outcome !== "pending") return
      exchange.body = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks)
      this.respond(exchange, handler, hit, req, res)
    })
  }

  private respond(
    exchange: Exchange,
    handler: Route.Handler,
    hit: number,
    req: Http.IncomingMessage,
    res: Http.ServerResponse
  ): void {
    let prepared: PreparedReply
    let delay = 0
    try {
      let reply: Route.Reply
      if (typeof handler === "function") {
        reply = handler(
          new Incoming(exchange.method, exchange.path, exchange.pathname, exchange.headers, exchange.body, hit)
        )
      } else if (isSequence(handler)) {
        reply = handler[Math.min(hit, handler.length) - 1] ?? EMPTY_REPLY
      } else {
        reply = handler
      }
      prepared = prepare(reply, typeof handler !== "function")
      delay = this.delayOf(reply.latency)
    } catch (cause) {
      prepared = prepare(failed(exchange.path, cause), false)
    }
    if (delay > 0) {
      exchange.timer = setTimeout(this.sendSafely, delay, exchange, prepared, req, res)
    } else {
      this.sendSafely(exchange, prepared, req, res)
    }
  }

  private readonly sendSafely = (
    exchange: Exchange,
    prepared: PreparedReply,
    req: Http.IncomingMessage,
    res: Http.ServerResponse
  ): void => {
    try {
      send(exchange, prepared, req, res)
    } catch (cause) {
      if (res.headersSent) {
        req.socket.destroy(cause instanceof Error ? cause : undefined)
      } else {
        send(exchange, prepare(failed(exchange.path, cause), false), req, res)
      }
    }
  }

  private delayOf(latency: Route.Latency | undefined): number {
    if (latency === undefined) return 0
    if (typeof latency === "number") return latency
    return latency.min + this.random.next() * (latency.max - latency.min)
  }
}
