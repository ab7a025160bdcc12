import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Faults from "../src/Faults.js"
import * as TestServer from "../src/TestServer.js"

// A raw node:http client: it reports exactly what happened on the wire, and
// interrupting it destroys the request, like a real client aborting.

class ClientError extends Data.TaggedError("ClientError")<{
  readonly stage: "headers" | "body"
  readonly code: string | undefined
}> {}

interface Response {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

const request = (
  url: string,
  options: { readonly method?: string; readonly body?: string; readonly agent?: Http.Agent | false; readonly headers?: Http.OutgoingHttpHeaders } = {}
): Effect.Effect<Response, ClientError> =>
  Effect.async<Response, ClientError>((resume) => {
    let done = false
    const finish = (effect: Effect.Effect<Response, ClientError>) => {
      if (done) return
      done = true
      resume(effect)
    }
    const req = Http.request(url, {
      method: options.method ?? "GET",
      agent: options.agent ?? false,
      headers: options.headers ?? {}
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", (error) => finish(Effect.fail(new ClientError({ stage: "body", code: codeOf(error) }))))
      res.on("end", () =>
        finish(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })))
    })
    req.on("error", (error) => finish(Effect.fail(new ClientError({ stage: "headers", code: codeOf(error) }))))
    req.end(options.body)
    return Effect.sync(() => req.destroy())
  })

const text = (url: string, options?: Parameters<typeof request>[1]) =>
  Effect.map(request(url, options), (response) => `${response.status} ${response.body.toString("utf8")}`)

describe("TestServer", () => {
  describe("routing", () => {
    it.scopedLive("serves exact routes, falls back to 404 and reports its address", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.get("/hello", Faults.ok("hi"))] })
        expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
        expect(server.host).toBe(`127.0.0.1:${server.port}`)
        expect(server.urlFor("hello")).toBe(`${server.url}/hello`)
        expect(yield* text(server.urlFor("/hello"))).toBe("200 hi")
        expect(yield* text(server.urlFor("/hello?x=1"))).toBe("200 hi")
        expect(yield* text(server.urlFor("/hello/more"))).toBe("404 not found")
        const records = yield* server.requests
        expect(records.map((r) => [r.path, r.route, r.status])).toEqual([
          ["/hello", "/hello", 200],
          ["/hello?x=1", "/hello", 200],
          ["/hello/more", undefined, 404]
        ])
      }))

    it.scopedLive("matches `/*` routes as prefixes", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.route("/api/*", Faults.ok("api"))] })
        expect(yield* text(server.urlFor("/api/a/b?q=1"))).toBe("200 api")
        expect(yield* text(server.urlFor("/api/"))).toBe("200 api")
        expect(yield* text(server.urlFor("/api"))).toBe("404 not found")
        expect(yield* text(server.urlFor("/apix"))).toBe("404 not found")
        expect((yield* server.requestsTo("/api/*")).map((r) => r.path)).toEqual(["/api/a/b?q=1", "/api/"])
        expect((yield* server.requestsTo("/api/a/b")).map((r) => r.path)).toEqual(["/api/a/b?q=1"])
      }))

    it.scopedLive("matches methods case-insensitively", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [Faults.route("/thing", Faults.ok("read"), "get"), Faults.route("/thing", Faults.status(201, "made"), "post")]
        })
        expect(yield* text(server.urlFor("/thing"))).toBe("200 read")
        expect(yield* text(server.urlFor("/thing"), { method: "POST", body: "x" })).toBe("201 made")
        expect(yield* text(server.urlFor("/thing"), { method: "DELETE" })).toBe("404 not found")
      }))

    it.scopedLive("prefers the newest matching route and replaces same method and path", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.get("/a/b", Faults.ok("exact"))] })
        expect(yield* text(server.urlFor("/a/b"))).toBe("200 exact")
        yield* server.route(Faults.get("/a/*", Faults.ok("prefix")))
        expect(yield* text(server.urlFor("/a/b"))).toBe("200 prefix")
        yield* server.route(Faults.get("/a/b", Faults.sequence(Faults.ok("first"), Faults.ok("again"))))
        expect(yield* text(server.urlFor("/a/b"))).toBe("200 first")
        expect(yield* text(server.urlFor("/a/b"))).toBe("200 again")
        // Replacing starts the sequence over.
        yield* server.route(Faults.get("/a/b", Faults.sequence(Faults.ok("new"), Faults.ok("newer"))))
        expect(yield* text(server.urlFor("/a/b"))).toBe("200 new")
      }))

    it.scopedLive("uses a custom fallback", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ fallback: Faults.status(410, "gone") })
        expect(yield* text(server.urlFor("/anything"))).toBe("410 gone")
      }))
  })

  describe("handlers", () => {
    it.scopedLive("plays sequences by hit, repeating the last reply", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [Faults.get("/flaky", Faults.sequence(503, 503, Faults.json({ ok: true })))]
        })
        const statuses: Array<number> = []
        for (let i = 0; i < 4; i++) statuses.push((yield* request(server.urlFor("/flaky"))).status)
        expect(statuses).toEqual([503, 503, 200, 200])
      }))

    it.scopedLive("gives function handlers the full request, with the body read", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            Faults.route("/see/*", (request) =>
              Faults.json({
                method: request.method,
                path: request.path,
                pathname: request.pathname,
                q: request.query.get("q"),
                header: request.headers["x-test"],
                body: Buffer.from(request.body).toString("utf8"),
                hit: request.hit
              }))
          ]
        })
        const response = yield* request(server.urlFor("/see/it?q=42"), {
          method: "PUT",
          body: "payload",
          headers: { "X-Test": "yes" }
        })
        expect(response.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(response.body.toString("utf8"))).toEqual({
          method: "PUT",
          path: "/see/it?q=42",
          pathname: "/see/it",
          q: "42",
          header: "yes",
          body: "payload",
          hit: 1
        })
        const second = yield* request(server.urlFor("/see/x"))
        expect(JSON.parse(second.body.toString("utf8")).hit).toBe(2)
      }))

    it.scopedLive("answers 500 with the cause when a handler throws", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/boom", () => {
              throw new Error("kaput")
            })
          ]
        })
        const response = yield* request(server.urlFor("/boom"))
        expect(response.status).toBe(500)
        expect(response.body.toString("utf8")).toContain("kaput")
      }))
  })

  describe("request log", () => {
    it.scopedLive("records method, path, headers, body, status and timestamps", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [Faults.post("/submit", Faults.latency(50, Faults.status(202, "accepted")))]
        })
        const before = performance.timeOrigin + performance.now()
        yield* request(server.urlFor("/submit?id=7"), {
          method: "POST",
          body: "{\"a\":1}",
          headers: { "Content-Type": "application/json" }
        })
        const [record] = yield* server.requests
        expect(record).toMatchObject({
          id: 1,
          method: "POST",
          path: "/submit?id=7",
          route: "/submit",
          outcome: "completed",
          status: 202,
          inFlightAtArrival: 1
        })
        expect(record?.headers["content-type"]).toBe("application/json")
        expect(Buffer.from(record?.body ?? []).toString("utf8")).toBe("{\"a\":1}")
        const arrivedAt = record?.arrivedAt ?? 0
        const completedAt = record?.completedAt ?? 0
        expect(arrivedAt).toBeGreaterThanOrEqual(before)
        // The 50 ms latency sits between arrival and completion (less a few ms: Node starts
        // timers from the event loop's cached clock, which can lag the arrival stamp).
        expect(completedAt - arrivedAt).toBeGreaterThanOrEqual(45)
      }))

    it.scopedLive("gives one socket id per connection, reused under keep-alive", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.get("/k", Faults.ok("k"))] })
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new Http.Agent({ keepAlive: true, maxSockets: 1 })),
          (agent) => Effect.sync(() => agent.destroy())
        )
        for (let i = 0; i < 3; i++) yield* request(server.urlFor("/k"), { agent })
        yield* request(server.urlFor("/k"))
        yield* request(server.urlFor("/k"))
        const ids = (yield* server.requests).map((r) => r.socketId)
        expect(ids[0]).toBe(ids[1])
        expect(ids[1]).toBe(ids[2])
        expect(new Set(ids).size).toBe(3)
        const stats = yield* server.stats
        expect(stats.connections).toBe(3)
        expect(stats.total).toBe(5)
      }))

    it.scopedLive("tracks in-flight requests overall and per route", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [Faults.get("/slow", Faults.latency(60_000, Faults.ok()))]
        })
        const clients = yield* Effect.forEach(
          Array.from({ length: 8 }, () => request(server.urlFor("/slow"))),
          (client) => Effect.fork(client)
        )
        yield* server.awaitRequests(8, "/slow")
        const during = yield* server.stats
        expect(during).toMatchObject({ total: 8, inFlight: 8, maxInFlight: 8, maxInFlightByRoute: { "/slow": 8 } })
        expect((yield* server.requests).map((r) => r.inFlightAtArrival).sort((a, b) => a - b))
          .toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        yield* Fiber.interruptAll(clients)
        yield* server.awaitSettled(8, "/slow")
        const after = yield* server.stats
        expect(after).toMatchObject({ inFlight: 0, maxInFlight: 8, aborted: 8 })
      }))

    it.scopedLive("records `aborted` when the client goes away during latency", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [Faults.get("/slow", Faults.latency(60_000, Faults.ok("never")))]
        })
        const client = yield* Effect.fork(request(server.urlFor("/slow")))
        yield* server.awaitRequests(1)
        expect((yield* server.requests)[0]?.outcome).toBe("pending")
        yield* Fiber.interrupt(client)
        yield* server.awaitSettled(1)
        const [record] = yield* server.requests
        expect(record?.outcome).toBe("aborted")
        expect(record?.status).toBeUndefined()
        expect((record?.completedAt ?? Infinity) - (record?.arrivedAt ?? 0)).toBeLessThan(60_000)
        expect((yield* server.stats).aborted).toBe(1)
        // The server still answers after an abort.
        yield* server.route(Faults.get("/fast", Faults.ok("fast")))
        expect(yield* text(server.urlFor("/fast"))).toBe("200 fast")
      }))

    it.scopedLive("keeps only the newest records with a numeric log, none with `false`", () =>
      Effect.gen(function*() {
        const bounded = yield* TestServer.make({ log: 2 })
        const off = yield* TestServer.make({ log: false })
        for (let i = 1; i <= 3; i++) {
          yield* request(bounded.urlFor(`/${i}`))
          yield* request(off.urlFor(`/${i}`))
        }
        expect((yield* bounded.requests).map((r) => [r.id, r.path])).toEqual([[2, "/2"], [3, "/3"]])
        expect(yield* off.requests).toEqual([])
        expect((yield* off.stats).total).toBe(3)
        // Counting does not depend on the log.
        yield* off.awaitSettled(1, "/1")
        yield* off.awaitRequests(3)
      }))
  })

  describe("waiting", () => {
    it.scopedLive("awaitRequests completes on the arrival of the n-th request, not before", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.route("/api/*", Faults.ok())] })
        const waiting = yield* Effect.fork(server.awaitRequests(3, "/api/*"))
        const waitingForPath = yield* Effect.fork(server.awaitRequests(2, "/api/b"))
        yield* request(server.urlFor("/api/a"))
        yield* request(server.urlFor("/api/b"))
        yield* server.awaitSettled(2)
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        expect(Option.isNone(yield* Fiber.poll(waitingForPath))).toBe(true)
        yield* request(server.urlFor("/api/b"))
        yield* Fiber.join(waiting)
        yield* Fiber.join(waitingForPath)
        // Already reached: completes at once.
        yield* server.awaitRequests(3)
      }))

    it.scopedLive("awaitSettled waits for pending requests to finish", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(60_000, Faults.ok()))] })
        const client = yield* Effect.fork(request(server.urlFor("/slow")))
        yield* server.awaitRequests(1, "/slow")
        const settled = yield* Effect.fork(server.awaitSettled(1, "/slow"))
        expect(Option.isNone(yield* Fiber.poll(settled))).toBe(true)
        yield* Fiber.interrupt(client)
        yield* Fiber.join(settled)
        expect((yield* server.requests)[0]?.outcome).toBe("aborted")
      }))
  })

  it.scopedLive("reset clears the log, the stats and the sequences", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/s", Faults.sequence(500, 200))] })
      expect((yield* request(server.urlFor("/s"))).status).toBe(500)
      expect((yield* request(server.urlFor("/s"))).status).toBe(200)
      yield* server.reset
      expect(yield* server.requests).toEqual([])
      expect(yield* server.stats).toMatchObject({ total: 0, maxInFlight: 0, connections: 0, aborted: 0, inFlight: 0 })
      expect((yield* request(server.urlFor("/s"))).status).toBe(500)
      expect((yield* server.requests).map((r) => r.id)).toEqual([1])
      // Counts restart too: one request since the reset, not three.
      const waiting = yield* Effect.fork(server.awaitRequests(2, "/s"))
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      yield* Fiber.interrupt(waiting)
    }))

  it.scopedLive("closing the scope closes the server, stalled requests included", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* TestServer.make({ routes: [Faults.get("/stall", Faults.stallBeforeHeaders)] }).pipe(
        Scope.extend(scope)
      )
      const stalled = yield* Effect.fork(Effect.either(request(server.urlFor("/stall"))))
      yield* server.awaitRequests(1)
      expect((yield* server.stats).openConnections).toBe(1)
      yield* Scope.close(scope, Exit.void)
      const result = yield* Fiber.join(stalled)
      expect(result._tag).toBe("Left")
      const refused = yield* Effect.flip(request(server.urlFor("/stall")))
      expect(refused.code).toBe("ECONNREFUSED")
    }))

  it.scopedLive("is provided as a layer", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      expect(yield* text(server.urlFor("/x"))).toBe("200 layer")
    }).pipe(Effect.provide(TestServer.layer({ routes: [Faults.get("/x", Faults.ok("layer"))] }))))

  it.scopedLive("dies with an actionable error when the port is taken", () =>
    Effect.gen(function*() {
      const first = yield* TestServer.make()
      const exit = yield* Effect.exit(Effect.scoped(TestServer.make({ port: first.port })))
      expect(Exit.isFailure(exit)).toBe(true)
      const defect = Exit.isFailure(exit) ? exit.cause : undefined
      expect(String(defect)).toContain(`127.0.0.1:${first.port}`)
      expect(String(defect)).toContain("EADDRINUSE")
    }))
})
