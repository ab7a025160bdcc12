/**
 * Retries, Retry-After, timeouts, limits, the overall deadline and
 * interruption, against a real server on loopback. Backoff and rate timing
 * are asserted exactly on the TestClock; socket-level timeouts on real time
 * with server-side timestamps.
 */
import { describe, expect, it } from "@effect/vitest"
import { Http, KeyedRateLimiter } from "@fiberkit/core"
import { Faults, TestServer } from "@fiberkit/testkit"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

/** Real-time pause, for polling under the TestClock (where `Effect.sleep` would wait for `adjust`). */
const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Waits (in real time) until `n` fibers sleep on the TestClock; returns their wake-up times. */
const untilSleeping = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.length >= n) return sleeps.map((d) => Duration.toMillis(d))
      yield* realPause(1)
    }
    return yield* Effect.dieMessage(`expected ${n} sleeping fibers on the TestClock`)
  })

const quietRetry = { baseDelay: 1000, maxDelay: 60_000, factor: 2, jitter: 0 } as const

describe("Http retries (TestClock)", () => {
  it.scoped("backs off exponentially between attempts: 1 s, then 2 s", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/flaky", Faults.sequence(503, 503, Faults.ok("fine")))] })
      const http = yield* Http.make({ retry: { ...quietRetry, maxAttempts: 4 } })
      const fiber = yield* Effect.fork(http.get(server.urlFor("/flaky")))

      yield* server.awaitRequests(1)
      expect(yield* untilSleeping(1)).toEqual([1000])
      yield* TestClock.adjust(999)
      expect((yield* server.requests).length).toBe(1)
      yield* TestClock.adjust(1)
      yield* server.awaitRequests(2)

      expect(yield* untilSleeping(1)).toEqual([1000 + 2000])
      yield* TestClock.adjust(2000)
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(200)
      expect(response.text).toBe("fine")
      expect(response.attempts).toBe(3)
      expect((yield* server.requests).length).toBe(3)
    }))

  it.scoped("honours Retry-After in delta-seconds instead of the backoff", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/limited", Faults.sequence(Faults.tooManyRequests({ seconds: 7 }), Faults.ok("ok")))]
      })
      const http = yield* Http.make({ retry: quietRetry })
      const fiber = yield* Effect.fork(http.get(server.urlFor("/limited")))
      yield* server.awaitRequests(1)
      expect(yield* untilSleeping(1)).toEqual([7000])
      yield* TestClock.adjust(6999)
      expect((yield* server.requests).length).toBe(1)
      yield* TestClock.adjust(1)
      expect((yield* Fiber.join(fiber)).attempts).toBe(2)
    }))

  it.scoped("honours Retry-After as an HTTP-date", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
      const server = yield* TestServer.make({
        routes: [
          Faults.get(
            "/limited",
            Faults.sequence(Faults.unavailable({ date: new Date(Date.parse("2026-01-01T00:00:12Z")) }), Faults.ok("ok"))
          )
        ]
      })
      const http = yield* Http.make({ retry: quietRetry })
      const fiber = yield* Effect.fork(http.get(server.urlFor("/limited")))
      yield* server.awaitRequests(1)
      const [wake] = yield* untilSleeping(1)
      expect(wake).toBe(Date.parse("2026-01-01T00:00:12Z"))
      yield* TestClock.adjust(12_000)
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }))

  it.scoped("refuses a Retry-After longer than maxRetryAfter, and says so", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/later", Faults.tooManyRequests({ seconds: 3600 }))]
      })
      const http = yield* Http.make({ retry: { ...quietRetry, maxRetryAfter: "1 minute" } })
      const error = yield* Effect.flip(http.get(server.urlFor("/later")))
      expect(error._tag).toBe("StatusError")
      if (error._tag !== "StatusError") return
      expect(error.status).toBe(429)
      expect(error.notRetried).toMatch(/Retry-After asks for 3600000 ms/)
      expect((yield* server.requests).length).toBe(1)
    }))

  it.scoped("does not retry POST unless it carries an Idempotency-Key", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.post("/orders", Faults.sequence(503, Faults.ok("created")))] })
      const http = yield* Http.make({ retry: quietRetry })
      const error = yield* Effect.flip(http.request({ method: "POST", url: server.urlFor("/orders"), json: { n: 1 } }))
      expect(error._tag).toBe("StatusError")
      expect(error.message).toMatch(/not idempotent/)
      expect((yield* server.requests).length).toBe(1)

      yield* server.reset
      const fiber = yield* Effect.fork(http.request({
        method: "POST",
        url: server.urlFor("/orders"),
        json: { n: 1 },
        headers: { "Idempotency-Key": "order-1" }
      }))
      yield* server.awaitRequests(1)
      yield* untilSleeping(1)
      yield* TestClock.adjust(1000)
      expect((yield* Fiber.join(fiber)).text).toBe("created")
    }))

  it.scoped("stops after maxAttempts with the last error", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/down", Faults.status(502, "bad gateway"))] })
      const http = yield* Http.make({ retry: { ...quietRetry, maxAttempts: 3 } })
      const fiber = yield* Effect.fork(Effect.flip(http.get(server.urlFor("/down"))))
      for (const delay of [1000, 2000]) {
        yield* untilSleeping(1)
        yield* TestClock.adjust(delay)
      }
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("StatusError")
      expect(error.attempt).toBe(3)
      expect(error.message).toContain("(attempt 3)")
      expect((yield* server.requests).length).toBe(3)
    }))
})

describe("Http retries (real time, server timestamps)", () => {
  it.scopedLive("the server sees the retry no earlier than Retry-After asked", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/limited", Faults.sequence(Faults.tooManyRequests({ seconds: 1 }), Faults.ok("ok")))]
      })
      const http = yield* Http.make({ retry: { baseDelay: 1, jitter: 0 } })
      yield* http.get(server.urlFor("/limited"))
      const [first, second] = yield* server.requests
      expect(first?.completedAt).toBeDefined()
      // 1 s asked; timers may fire up to ~1 ms early on a cached loop clock.
      expect(second!.arrivedAt - first!.completedAt!).toBeGreaterThanOrEqual(995)
      expect(second!.arrivedAt - first!.completedAt!).toBeLessThan(1500)
    }))

  it.scopedLive("retries a reset connection and a truncated body (body read is inside the retried unit)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/reset", Faults.sequence(Faults.resetBeforeHeaders, Faults.ok("after reset"))),
          Faults.get("/midbody", Faults.sequence(Faults.resetMidBody(10, "x".repeat(1000)), Faults.ok("after mid-body reset"))),
          Faults.get("/truncated", Faults.sequence(Faults.truncated("short", 100), Faults.ok("whole")))
        ]
      })
      const http = yield* Http.make({ retry: { baseDelay: 1, maxDelay: 2 } })
      expect((yield* http.get(server.urlFor("/reset"))).text).toBe("after reset")
      expect((yield* http.get(server.urlFor("/midbody"))).text).toBe("after mid-body reset")
      const whole = yield* http.get(server.urlFor("/truncated"))
      expect(whole.text).toBe("whole")
      expect(whole.attempts).toBe(2)
    }))
})

describe("Http timeouts", () => {
  it.scopedLive("response headers timeout", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/silent", Faults.stallBeforeHeaders)] })
      const http = yield* Http.make({ retry: false, timeouts: { headers: 200 } })
      const started = Date.now()
      const error = yield* Effect.flip(http.get(server.urlFor("/silent")))
      const elapsed = Date.now() - started
      expect(error._tag).toBe("TimeoutError")
      if (error._tag !== "TimeoutError") return
      expect(error.phase).toBe("headers")
      expect(error.timeoutMs).toBe(200)
      expect(elapsed).toBeGreaterThanOrEqual(150)
      expect(elapsed).toBeLessThan(2000)
      yield* server.awaitSettled(1)
      expect((yield* server.requests)[0]?.outcome).toBe("aborted")
    }))

  it.scopedLive("body idle timeout: headers, then nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/stall", Faults.stall())] })
      const http = yield* Http.make({ retry: false, timeouts: { body: 200 } })
      const error = yield* Effect.flip(http.get(server.urlFor("/stall")))
      expect(error._tag === "TimeoutError" && error.phase).toBe("body")
    }))

  it.scopedLive("a slow drip within the idle timeout is cut by the attempt timeout", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/drip", Faults.drip("y".repeat(100), 1, 50))] })
      const http = yield* Http.make({ retry: false, timeouts: { body: 500, attempt: 300 } })
      const started = Date.now()
      const error = yield* Effect.flip(http.get(server.urlFor("/drip")))
      expect(error._tag === "TimeoutError" && error.phase).toBe("attempt")
      expect(Date.now() - started).toBeLessThan(2000)
    }))

  it.scopedLive("timeouts are retried, within the overall deadline", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/silent", Faults.stallBeforeHeaders)] })
      const http = yield* Http.make({
        retry: { baseDelay: 1, maxDelay: 1, maxAttempts: 10 },
        timeouts: { headers: 100, total: 450 }
      })
      const started = Date.now()
      const error = yield* Effect.flip(http.get(server.urlFor("/silent")))
      const elapsed = Date.now() - started
      expect(error._tag).toBe("TimeoutError")
      if (error._tag !== "TimeoutError") return
      // About four 100 ms attempts fit in 450 ms; the last one is cut short by
      // the deadline, so the call ends close to 450 ms, not at a multiple of 100.
      expect(error.phase).toBe("deadline")
      expect(error.attempt).toBeGreaterThanOrEqual(4)
      expect(error.attempt).toBeLessThanOrEqual(5)
      expect(elapsed).toBeGreaterThanOrEqual(440)
      expect(elapsed).toBeLessThan(1000)
      expect((yield* server.requests).length).toBe(error.attempt)
    }))

  it.scopedLive("connect timeout, against a listener whose accept queue is full", () =>
    Effect.gen(function*() {
      // A listener that never accepts (backlog 0): once one connection sits in
      // its queue, the kernel drops further SYNs and connect() hangs.
      const listener = yield* Effect.acquireRelease(
        Effect.sync(() =>
          ChildProcess.spawn("python3", [
            "-c",
            "import socket,sys,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"
          ], { stdio: ["ignore", "pipe", "inherit"] })
        ),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      const port = yield* Effect.async<number>((resume) => {
        listener.stdout?.once("data", (data: Buffer) => resume(Effect.succeed(Number(data.toString().trim()))))
      })
      const filler = yield* Effect.acquireRelease(
        Effect.async<Net.Socket>((resume) => {
          const socket = Net.connect(port, "127.0.0.1", () => resume(Effect.succeed(socket)))
        }),
        (socket) => Effect.sync(() => socket.destroy())
      )
      expect(filler.readyState).toBe("open")
      const http = yield* Http.make({ retry: false, timeouts: { connect: 300 } })
      const started = Date.now()
      const error = yield* Effect.flip(http.get(`http://127.0.0.1:${port}/`))
      expect(error._tag === "TimeoutError" && error.phase).toBe("connect")
      expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      expect(Date.now() - started).toBeLessThan(700)
    }))
})

describe("Http limits", () => {
  it.scopedLive("never exceeds the per-host in-flight limit, as observed by the server", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(30, Faults.ok("x")))] })
      const http = yield* Http.make({ limits: { perHostMaxInFlight: 4 } })
      yield* Effect.forEach(Array.from({ length: 40 }), () => http.get(server.urlFor("/slow")), { concurrency: 40 })
      const stats = yield* server.stats
      expect(stats.total).toBe(40)
      expect(stats.maxInFlight).toBe(4)
    }))

  it.scopedLive("the global limit holds across hosts, and one host cannot starve another", () =>
    Effect.gen(function*() {
      const a = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(30, Faults.ok("a")))] })
      const b = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(30, Faults.ok("b")))] })
      const http = yield* Http.make({ limits: { maxInFlight: 6, perHostMaxInFlight: 4 } })
      const urls = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).urlFor("/slow"))
      yield* Effect.forEach(urls, (url) => http.get(url), { concurrency: "unbounded" })
      const events = [...(yield* a.requests), ...(yield* b.requests)].flatMap((r) => [
        { at: r.arrivedAt, delta: 1 },
        { at: r.completedAt ?? Number.POSITIVE_INFINITY, delta: -1 }
      ]).sort((x, y) => x.at - y.at || x.delta - y.delta)
      let inFlight = 0
      let max = 0
      for (const e of events) {
        inFlight += e.delta
        max = Math.max(max, inFlight)
      }
      expect(max).toBeLessThanOrEqual(6)
      expect((yield* a.stats).maxInFlight).toBeLessThanOrEqual(4)
      expect((yield* b.stats).maxInFlight).toBeLessThanOrEqual(4)
      expect((yield* a.stats).maxInFlight).toBeGreaterThanOrEqual(2)
      expect((yield* b.stats).maxInFlight).toBeGreaterThanOrEqual(2)
    }))

  it.scoped("per-host request rate: starts at 0, 500, 1000, 1500 ms at 2/s (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/r", Faults.ok("r"))] })
      const http = yield* Http.make({ limits: { perHostPerSecond: 2 } })
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 4 }), () => http.get(server.urlFor("/r")), { concurrency: 4 })
      )
      yield* server.awaitRequests(1)
      for (let n = 2; n <= 4; n++) {
        const wakeups = yield* untilSleeping(1)
        expect(Math.min(...wakeups)).toBe((n - 1) * 500)
        expect((yield* server.requests).length).toBe(n - 1)
        yield* TestClock.adjust(500)
        yield* server.awaitRequests(n)
      }
      yield* Fiber.join(fiber)
      expect((yield* server.requests).length).toBe(4)
    }))

  it.scopedLive("per-host rate as seen by the server: 10 starts at 20/s span at least 450 ms", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/r", Faults.ok("r"))] })
      const http = yield* Http.make({ limits: { perHostPerSecond: 20 } })
      yield* Effect.forEach(Array.from({ length: 10 }), () => http.get(server.urlFor("/r")), { concurrency: 10 })
      const arrivals = (yield* server.requests).map((r) => r.arrivedAt).sort((x, y) => x - y)
      for (let i = 1; i < arrivals.length; i++) {
        // 50 ms apart, minus timer and loopback jitter.
        expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(40)
      }
      expect(arrivals[9]! - arrivals[0]!).toBeGreaterThanOrEqual(440)
    }))

  it.scopedLive("waiting for a slot or a token never counts against the timeouts", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(150, Faults.ok("x")))] })
      const http = yield* Http.make({
        retry: false,
        limits: { perHostMaxInFlight: 1, perHostPerSecond: 10 },
        timeouts: { attempt: 400, total: 450 }
      })
      // Five requests through one slot: the last waits ~600 ms for it, longer
      // than both the attempt timeout and the overall deadline.
      const started = Date.now()
      const responses = yield* Effect.forEach(Array.from({ length: 5 }), () => http.get(server.urlFor("/slow")), {
        concurrency: 5
      })
      expect(responses.every((r) => r.status === 200)).toBe(true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(700)
    }))
})

describe("Http interruption", () => {
  it.scopedLive("interrupting a request aborts it on the wire and returns its slots", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/forever", Faults.stallBeforeHeaders), Faults.get("/quick", Faults.ok("quick"))]
      })
      const http = yield* Http.make({ limits: { maxInFlight: 1, perHostMaxInFlight: 1 } })
      const fiber = yield* Effect.fork(http.get(server.urlFor("/forever")))
      yield* server.awaitRequests(1, "/forever")
      yield* Fiber.interrupt(fiber)
      yield* server.awaitSettled(1, "/forever")
      const [record] = yield* server.requestsTo("/forever")
      expect(record?.outcome).toBe("aborted")
      // Both the global and the per-host slot came back: with limits of 1 the
      // next request would otherwise wait forever.
      const quick = yield* http.get(server.urlFor("/quick")).pipe(Effect.timeout("2 seconds"))
      expect(quick.text).toBe("quick")
    }))

  it.scopedLive("interrupting a request that waits for a slot never sends it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/forever", Faults.stallBeforeHeaders), Faults.get("/quick", Faults.ok("quick"))]
      })
      const http = yield* Http.make({ limits: { perHostMaxInFlight: 1 } })
      const holder = yield* Effect.fork(http.get(server.urlFor("/forever")))
      yield* server.awaitRequests(1)
      const waiter = yield* Effect.fork(http.get(server.urlFor("/quick")))
      yield* realPause(50)
      yield* Fiber.interrupt(waiter)
      yield* Fiber.interrupt(holder)
      const exit = yield* Fiber.await(waiter)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect((yield* http.get(server.urlFor("/quick"))).text).toBe("quick")
      expect((yield* server.requestsTo("/quick")).length).toBe(1)
    }))

  it.scopedLive("a timeout around a call interrupts it and the server sees the socket close", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/slow", Faults.latency(5000, Faults.ok("late")))] })
      const http = yield* Http.make({})
      const result = yield* http.get(server.urlFor("/slow")).pipe(Effect.timeout("100 millis"), Effect.exit)
      expect(Exit.isFailure(result)).toBe(true)
      yield* server.awaitSettled(1)
      expect((yield* server.requests)[0]?.outcome).toBe("aborted")
    }))
})

describe("Http decode inside the retried unit", () => {
  it.scopedLive("a body that fails to decode is retried when retry.onDecode is on", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/quote", Faults.sequence(Faults.malformedJson(), Faults.json({ price: 42 })))]
      })
      const Quote = Schema.Struct({ price: Schema.Number })
      const strict = yield* Http.make({ retry: { baseDelay: 1, maxDelay: 2 } })
      const error = yield* Effect.flip(strict.json(Quote, server.urlFor("/quote")))
      expect(error._tag).toBe("DecodeError")
      expect((yield* server.requests).length).toBe(1)

      yield* server.reset
      const lenient = yield* Http.make({ retry: { baseDelay: 1, maxDelay: 2, onDecode: true } })
      const quote = yield* lenient.json(Quote, server.urlFor("/quote"))
      expect(quote.price).toBe(42)
      expect((yield* server.requests).length).toBe(2)
    }))
})

describe("Http adaptive per-host rate", () => {
  it.scoped("a 429 with Retry-After pauses the whole host, not only the request that got it (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/busy", Faults.tooManyRequests({ seconds: 5 })),
          Faults.get("/other", Faults.ok("other"))
        ]
      })
      const http = yield* Http.make({ retry: false, limits: { adaptive: true } })
      const error = yield* Effect.flip(http.get(server.urlFor("/busy")))
      expect(error._tag === "StatusError" && error.status).toBe(429)
      // Another path on the same host waits out the host's Retry-After.
      const fiber = yield* Effect.fork(http.get(server.urlFor("/other")))
      const wakeups = yield* untilSleeping(1)
      expect(Math.min(...wakeups)).toBe(5000)
      yield* TestClock.adjust(4999)
      expect((yield* server.requestsTo("/other")).length).toBe(0)
      yield* TestClock.adjust(1)
      expect((yield* Fiber.join(fiber)).text).toBe("other")
    }))

  it.scoped("a retry facing a host pause longer than maxRetryAfter gives up instead of waiting it out (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/busy", Faults.tooManyRequests({ seconds: 120 })),
          Faults.get("/flaky", Faults.sequence(503, Faults.ok("late")))
        ]
      })
      const http = yield* Http.make({
        retry: { maxRetryAfter: "5 seconds", baseDelay: 1, maxDelay: 1, jitter: 0 },
        limits: { adaptive: true }
      })
      // /flaky's first answer is a 503; its retry waits 1 ms of backoff (the test clock stands still).
      const fiber = yield* Effect.fork(Effect.flip(http.get(server.urlFor("/flaky"))))
      yield* server.awaitRequests(1)
      yield* untilSleeping(1)
      // Meanwhile the host asks for 2 minutes of quiet.
      const busy = yield* Effect.flip(http.get(server.urlFor("/busy")))
      expect(busy._tag === "StatusError" && busy.status).toBe(429)
      yield* TestClock.adjust(1)
      const error = yield* Fiber.join(fiber)
      expect(error._tag === "StatusError" && error.status).toBe(503)
      expect(error._tag === "StatusError" ? error.notRetried : "").toContain("paused")
      expect((yield* server.requestsTo("/flaky")).length).toBe(1)
    }))

  it.scoped("without adaptive, other requests to the host are not held back", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [Faults.get("/busy", Faults.tooManyRequests({ seconds: 5 })), Faults.get("/other", Faults.ok("other"))]
      })
      const http = yield* Http.make({ retry: false })
      yield* Effect.flip(http.get(server.urlFor("/busy")))
      expect((yield* http.get(server.urlFor("/other"))).text).toBe("other")
    }))
})

describe("Http with an injected rate limiter", () => {
  it.scoped("every request, retries included, goes through the caller's limiter (a Crawl-delay floor here)", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/r", Faults.sequence(503, Faults.ok("r")))] })
      const limiter = yield* KeyedRateLimiter.make<string>({ perSecond: Number.POSITIVE_INFINITY, burst: 1 })
      yield* limiter.setFloor(server.host, 2000)
      const http = yield* Http.make({ rateLimiter: limiter, retry: { baseDelay: 1, maxDelay: 1, jitter: 0 } })
      const fiber = yield* Effect.fork(http.get(server.urlFor("/r")))
      yield* server.awaitRequests(1)
      // The 503 is retried after 1 ms of backoff, but the floor holds the retry to 2 s after the first start.
      yield* untilSleeping(1)
      yield* TestClock.adjust(1)
      const wakeups = yield* untilSleeping(1)
      expect(Math.max(...wakeups)).toBe(2000)
      expect((yield* server.requests).length).toBe(1)
      yield* TestClock.adjust(1999)
      expect((yield* Fiber.join(fiber)).attempts).toBe(2)
    }))
})
