/**
 * A real aggregator server for tests: `Server.layer` on a free loopback
 * port over the real `Live`, `SourceHealth` and `Store` (SQLite in a temp
 * directory, removed afterwards), plus helpers to make aggregates with the
 * real `Aggregate.aggregate` and to read Server-Sent Events over node:http.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { Db } from "@fiberkit/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Aggregate from "../src/Aggregate.js"
import * as Live from "../src/Live.js"
import type { Aggregate as AggregateModel, Observation } from "../src/Model.js"
import * as Server from "../src/Server.js"
import * as SourceHealth from "../src/SourceHealth.js"
import * as Store from "../src/Store.js"

/** What a test gets: the server's base URL and the services behind it. */
export interface Running {
  readonly url: string
  readonly live: Live.Service
  readonly store: Store.Service
  readonly health: SourceHealth.Service
}

export class Env extends Context.Tag("test/aggregator/ServerEnv")<Env, Running>() {}

const tempDb = Layer.unwrapScoped(
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberkit-aggregator-server-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) =>
    Db.layerWith({ app: "aggregator", filename: Path.join(dir, "aggregator.db"), poolMetricsInterval: 0 })
  ))
)

/**
 * The server on `127.0.0.1:0` with fresh services; `seed` runs before the
 * layer is handed to the tests.
 */
export const layer = <E>(
  options: Omit<Server.Options, "port" | "host"> = {},
  seed: (env: Running) => Effect.Effect<void, E> = () => Effect.void
): Layer.Layer<Env, unknown> => {
  const services = Layer.mergeAll(
    Live.layerWith({ capacity: 256 }),
    SourceHealth.layer(),
    Store.layer.pipe(Layer.provide(tempDb))
  )
  const running = Server.layer({ ...options, port: 0, host: "127.0.0.1" }).pipe(Layer.provideMerge(services))
  return Layer.effect(
    Env,
    Effect.gen(function*() {
      const env: Running = {
        url: Server.url(yield* HttpServer.HttpServer),
        live: yield* Live.Live,
        store: yield* Store.Store,
        health: yield* SourceHealth.SourceHealth
      }
      yield* seed(env)
      return env
    })
  ).pipe(Layer.provide(running))
}

/** A quote observation as a source would make it at `tick`. */
export const quote = (source: string, symbol: string, tick: number, price: number, volume: number | null = 10): Observation => ({
  _tag: "Quote",
  quote: { source, symbol, price, bid: null, ask: null, volume, quotedAt: tick, receivedAt: tick + 20, latencyMs: 20 }
})

/** A failure observation. */
export const failure = (source: string, symbol: string, kind: "timeout" | "error", message: string): Observation => ({
  _tag: "Failure",
  failure: { source, symbol, kind, message, latencyMs: 2000 }
})

/** An `ok` aggregate of three agreeing sources around `price`. */
export const simple = (symbol: string, tick: number, price: number): AggregateModel =>
  Aggregate.aggregate(symbol, tick, [
    quote("binance", symbol, tick, price),
    quote("coinbase", symbol, tick, price * 1.0001),
    quote("kraken", symbol, tick, price * 0.9999)
  ])

/** One parsed Server-Sent Event (`event` is `"comment"` for `:` lines). */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/** A live SSE connection: everything received so far, a way to wait for more, and a way to hang up. */
export interface SseClient {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly events: ReadonlyArray<SseEvent>
  readonly ended: boolean
  readonly waitFor: (predicate: (events: ReadonlyArray<SseEvent>) => boolean, timeoutMs?: number) => Promise<void>
  readonly close: () => void
}

/** Opens `url` and parses the event stream as it arrives. */
export const openSse = (url: string): Promise<SseClient> =>
  new Promise((resolve, reject) => {
    const events: Array<SseEvent> = []
    const waiters = new Set<() => void>()
    let ended = false
    const notify = () => {
      for (const waiter of waiters) waiter()
    }
    const request = Http.get(url, { headers: { accept: "text/event-stream" } }, (response) => {
      let buffer = ""
      response.setEncoding("utf8")
      response.on("data", (text: string) => {
        buffer += text
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = "message"
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) events.push({ event: "comment", data: line.slice(1).trim() })
            else if (line.startsWith("event:")) event = line.slice(6).trim()
            else if (line.startsWith("data:")) data.push(line.slice(5).trimStart())
          }
          if (data.length > 0) events.push({ event, data: data.join("\n") })
        }
        notify()
      })
      const finish = () => {
        ended = true
        notify()
      }
      response.on("end", finish)
      response.on("close", finish)
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        get ended() {
          return ended
        },
        waitFor: (predicate, timeoutMs = 5000) =>
          new Promise<void>((ok, fail) => {
            const check = () => {
              if (predicate(events)) {
                done()
                ok()
              } else if (ended) {
                done()
                fail(new Error(`the event stream ended before the condition held; received: ${JSON.stringify(events)}`))
              }
            }
            const timer = setTimeout(() => {
              done()
              fail(new Error(`no matching event within ${timeoutMs} ms; received: ${JSON.stringify(events)}`))
            }, timeoutMs)
            const done = () => {
              clearTimeout(timer)
              waiters.delete(check)
            }
            waiters.add(check)
            check()
          }),
        close: () => {
          request.destroy()
        }
      })
    })
    request.on("error", (error) => {
      if (!ended) reject(error)
    })
  })

/** Polls `condition` until it holds or `timeoutMs` passes (for effects that happen on another connection). */
export const eventually = <E, R>(
  condition: Effect.Effect<boolean, E, R>,
  what: string,
  timeoutMs = 5000
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* condition)) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`))
      yield* Effect.sleep("20 millis")
    }
  })
