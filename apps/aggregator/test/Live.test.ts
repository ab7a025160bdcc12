/**
 * `Live` on its own (latest per symbol, broadcast, sliding back-pressure,
 * subscriber clean-up) and the SSE endpoint over a real server: published
 * aggregates arrive as `event: aggregate`, `?symbols` filters, heartbeats
 * flow, a disconnecting client is unsubscribed, and stopping the server
 * ends open streams instead of hanging.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Live from "../src/Live.js"
import * as Harness from "./serverHarness.js"

describe("Live", () => {
  it.scoped("keeps the latest aggregate per symbol and the latest tick; an older tick does not replace a newer one", () =>
    Effect.gen(function*() {
      const live = yield* Live.make()
      expect(yield* live.latest("BTCUSDT")).toEqual(Option.none())
      expect(yield* live.lastTick).toEqual(Option.none())
      const btc2 = Harness.simple("BTCUSDT", 2_000, 67_100)
      yield* live.publish([Harness.simple("ETHUSDT", 1_000, 3_500), btc2])
      yield* live.publish([Harness.simple("BTCUSDT", 1_000, 67_000)])
      expect(yield* live.latest("BTCUSDT")).toEqual(Option.some(btc2))
      expect((yield* live.snapshot).map((a) => [a.symbol, a.tick])).toEqual([["BTCUSDT", 2_000], ["ETHUSDT", 1_000]])
      expect(yield* live.lastTick).toEqual(Option.some(2_000))
    }))

  it.scoped("broadcasts to every subscriber and counts them until their scope closes", () =>
    Effect.gen(function*() {
      const live = yield* Live.make()
      const scopeA = yield* Scope.make()
      const a = yield* Scope.extend(live.subscribe, scopeA)
      const b = yield* live.subscribe
      expect(yield* live.subscribers).toBe(2)
      const batch = [Harness.simple("BTCUSDT", 1, 67_000), Harness.simple("ETHUSDT", 1, 3_500)]
      yield* live.publish(batch)
      expect(Array.from(yield* Queue.takeAll(a))).toEqual(batch)
      expect(Array.from(yield* Queue.takeAll(b))).toEqual(batch)
      yield* Scope.close(scopeA, Exit.void)
      expect(yield* live.subscribers).toBe(1)
      expect(yield* Queue.isShutdown(a)).toBe(true)
    }))

  it.scoped("a subscriber that does not read never blocks publishing: it keeps the newest `capacity` aggregates", () =>
    Effect.gen(function*() {
      const live = yield* Live.make({ capacity: 4 })
      const slow = yield* live.subscribe
      for (let tick = 0; tick < 10; tick++) yield* live.publish([Harness.simple("BTCUSDT", tick, 67_000 + tick)])
      expect(Array.from(yield* Queue.takeAll(slow)).map((a) => a.tick)).toEqual([6, 7, 8, 9])
      expect(yield* live.latest("BTCUSDT").pipe(Effect.map(Option.map((a) => a.tick)))).toEqual(Option.some(9))
    }))
})

const streamUrl = (url: string, query = "") => `${url}/api/stream${query}`

const aggregates = (events: ReadonlyArray<Harness.SseEvent>) =>
  events.filter((e) => e.event === "aggregate").map((e) => JSON.parse(e.data) as { symbol: string; tick: number })

layer(Harness.layer({ heartbeat: "100 millis" }), { excludeTestServices: true })("GET /api/stream", (it) => {
  it.effect("sends the latest aggregates, then every published one as event: aggregate; unsubscribes on disconnect", () =>
    Effect.gen(function*() {
      const { live, url } = yield* Harness.Env
      // The server itself subscribes (its cache of encoded price responses): count the streams on top.
      const base = yield* live.subscribers
      const first = Harness.simple("BTCUSDT", 1_000, 67_000)
      yield* live.publish([first])
      const client = yield* Effect.promise(() => Harness.openSse(streamUrl(url)))
      try {
        expect(client.status).toBe(200)
        expect(client.headers["content-type"]).toBe("text/event-stream")
        expect(client.headers["cache-control"]).toBe("no-cache")
        yield* Effect.promise(() => client.waitFor((events) => aggregates(events).length >= 1))
        expect(JSON.parse(client.events.find((e) => e.event === "aggregate")?.data ?? "null")).toEqual(first)
        yield* Harness.eventually(Effect.map(live.subscribers, (n) => n === base + 1), "one subscriber")

        const next = [Harness.simple("ETHUSDT", 2_000, 3_500), Harness.simple("BTCUSDT", 2_000, 67_010)]
        yield* live.publish(next)
        yield* Effect.promise(() => client.waitFor((events) => aggregates(events).length >= 3))
        expect(aggregates(client.events)).toEqual([first, ...next])
        yield* Effect.promise(() => client.waitFor((events) => events.some((e) => e.event === "comment" && e.data === "heartbeat")))
      } finally {
        client.close()
      }
      yield* Harness.eventually(Effect.map(live.subscribers, (n) => n === base), "the subscriber to be removed after disconnect")
    }))

  it.effect("?symbols narrows the stream", () =>
    Effect.gen(function*() {
      const { live, url } = yield* Harness.Env
      const base = yield* live.subscribers
      const client = yield* Effect.promise(() => Harness.openSse(streamUrl(url, "?symbols=SOLUSDT,ETHUSDT")))
      try {
        yield* Harness.eventually(Effect.map(live.subscribers, (n) => n === base + 1), "one subscriber")
        yield* live.publish([
          Harness.simple("BTCUSDT", 3_000, 67_000),
          Harness.simple("SOLUSDT", 3_000, 150),
          Harness.simple("ETHUSDT", 3_000, 3_500)
        ])
        yield* Effect.promise(() =>
          client.waitFor((events) => aggregates(events).some((a) => a.symbol === "SOLUSDT" && a.tick === 3_000))
        )
        yield* Effect.promise(() =>
          client.waitFor((events) => aggregates(events).some((a) => a.symbol === "ETHUSDT" && a.tick === 3_000))
        )
        expect(aggregates(client.events).some((a) => a.symbol === "BTCUSDT")).toBe(false)
      } finally {
        client.close()
      }
      yield* Harness.eventually(Effect.map(live.subscribers, (n) => n === base), "no subscriber")
    }))
})

describe("GET /api/stream when the server stops", () => {
  it.live("open streams end and the server closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const env = yield* Layer.buildWithScope(Harness.layer(), scope).pipe(
        Effect.map((context) => Context.get(context, Harness.Env))
      )
      const client = yield* Effect.promise(() => Harness.openSse(streamUrl(env.url)))
      yield* Effect.promise(() => client.waitFor((events) => events.some((e) => e.data === "connected")))
      // Well under Node's 5 s keep-alive timeout, which a stream left open (or idling in keep-alive) would wait for.
      // Closing is uninterruptible: run it apart so that a hang fails the test here instead of at the test timeout.
      const closing = yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      const closed = yield* Fiber.join(closing).pipe(Effect.timeout("2 seconds"), Effect.either)
      expect(closed._tag).toBe("Right")
      yield* Effect.promise(() => client.waitFor(() => client.ended, 2000))
    }))
})
