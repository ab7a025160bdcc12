import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Http from "node:http"
import { pipeline } from "node:stream/promises"
import * as Zlib from "node:zlib"
import * as Faults from "../src/Faults.js"
import * as TestServer from "../src/TestServer.js"

// A raw node:http client (no decompression, no redirects) that reports what
// happened on the wire and when each body chunk arrived. Interrupting it
// destroys the request.

class ClientError extends Data.TaggedError("ClientError")<{
  readonly stage: "headers" | "body"
  readonly code: string | undefined
  readonly status: number | undefined
  readonly received: number
}> {}

interface Head {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly message: Http.IncomingMessage
}

interface Response extends Head {
  readonly body: Buffer
  /** Arrival time (ms) of each body chunk. */
  readonly chunkTimes: ReadonlyArray<number>
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined

/** Sends a request and resolves at the response headers. */
const open = (url: string, options: { readonly method?: string; readonly body?: string } = {}) =>
  Effect.async<Head, ClientError>((resume) => {
    const req = Http.request(url, { method: options.method ?? "GET", agent: false }, (message) =>
      resume(Effect.succeed({ status: message.statusCode ?? 0, headers: message.headers, message })))
    req.on("error", (error) =>
      resume(Effect.fail(new ClientError({ stage: "headers", code: codeOf(error), status: undefined, received: 0 }))))
    req.end(options.body)
    return Effect.sync(() => req.destroy())
  })

const readBody = (head: Head) =>
  Effect.async<Response, ClientError>((resume) => {
    const chunks: Array<Buffer> = []
    const chunkTimes: Array<number> = []
    let received = 0
    head.message.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      chunkTimes.push(performance.now())
      received += chunk.length
    })
    head.message.on("error", (error) =>
      resume(Effect.fail(new ClientError({ stage: "body", code: codeOf(error), status: head.status, received }))))
    head.message.on("end", () => resume(Effect.succeed({ ...head, body: Buffer.concat(chunks), chunkTimes })))
    return Effect.sync(() => head.message.destroy())
  })

const request = (url: string, options?: Parameters<typeof open>[1]) => Effect.flatMap(open(url, options), readBody)

const serve = (...routes: ReadonlyArray<Parameters<typeof Faults.get>[1]>) =>
  TestServer.make({ routes: routes.map((handler) => Faults.get("/", handler)) })

const zeros = Buffer.alloc(1 << 20)

/** Decompresses a stream and counts its bytes (and chunks that are not all zeros), without holding them. */
const decompressedSize = (encoding: Faults.Encoding, compressed: Uint8Array) =>
  Effect.promise(async () => {
    const decoder = encoding === "gzip"
      ? Zlib.createGunzip()
      : encoding === "br"
      ? Zlib.createBrotliDecompress()
      : Zlib.createInflate()
    let size = 0
    let nonZero = 0
    await pipeline([Buffer.from(compressed)], decoder, async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) {
        size += chunk.length
        if (chunk.length > zeros.length || !chunk.equals(zeros.subarray(0, chunk.length))) nonZero++
      }
    })
    return { size, nonZero }
  })

describe("Faults", () => {
  describe("plain replies", () => {
    it.scopedLive("ok, json and status set status, content type and length", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/ok", Faults.ok("héllo", { "x-extra": "1" })),
            Faults.get("/empty", Faults.ok()),
            Faults.get("/json", Faults.json({ a: [1, 2] }, 201)),
            Faults.get("/teapot", Faults.status(418, "short and stout")),
            Faults.get("/bytes", Faults.ok(new Uint8Array([1, 2, 3])))
          ]
        })
        const ok = yield* request(server.urlFor("/ok"))
        expect(ok.status).toBe(200)
        expect(ok.headers["content-type"]).toBe("text/plain; charset=utf-8")
        expect(ok.headers["content-length"]).toBe(String(Buffer.byteLength("héllo")))
        expect(ok.headers["x-extra"]).toBe("1")
        expect(ok.body.toString("utf8")).toBe("héllo")
        const empty = yield* request(server.urlFor("/empty"))
        expect([empty.status, empty.headers["content-length"], empty.body.length]).toEqual([200, "0", 0])
        const json = yield* request(server.urlFor("/json"))
        expect(json.status).toBe(201)
        expect(json.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(json.body.toString("utf8"))).toEqual({ a: [1, 2] })
        const teapot = yield* request(server.urlFor("/teapot"))
        expect([teapot.status, teapot.body.toString("utf8")]).toEqual([418, "short and stout"])
        const bytes = yield* request(server.urlFor("/bytes"))
        expect([...bytes.body]).toEqual([1, 2, 3])
        expect(bytes.headers["content-type"]).toBe("application/octet-stream")
      }))

    it("sequence turns numbers into statuses with a short body", () => {
      expect(Faults.sequence(503, Faults.json(1))).toEqual([
        { status: 503, body: "503 Service Unavailable" },
        { status: 200, body: { json: 1 } }
      ])
    })

    it.scopedLive("tooManyRequests and unavailable send Retry-After as delta-seconds or HTTP-date", () =>
      Effect.gen(function*() {
        const date = new Date(Date.UTC(2030, 0, 2, 3, 4, 5))
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/seconds", Faults.tooManyRequests({ seconds: 7 })),
            Faults.get("/date", Faults.tooManyRequests({ date }, "slow down")),
            Faults.get("/503", Faults.unavailable({ seconds: 2 })),
            Faults.get("/503-bare", Faults.unavailable())
          ]
        })
        const seconds = yield* request(server.urlFor("/seconds"))
        expect([seconds.status, seconds.headers["retry-after"]]).toEqual([429, "7"])
        const dated = yield* request(server.urlFor("/date"))
        expect([dated.status, dated.headers["retry-after"], dated.body.toString("utf8")])
          .toEqual([429, "Wed, 02 Jan 2030 03:04:05 GMT", "slow down"])
        expect(new Date(dated.headers["retry-after"] ?? "").getTime()).toBe(date.getTime())
        const unavailable = yield* request(server.urlFor("/503"))
        expect([unavailable.status, unavailable.headers["retry-after"]]).toEqual([503, "2"])
        const bare = yield* request(server.urlFor("/503-bare"))
        expect([bare.status, bare.headers["retry-after"]]).toEqual([503, undefined])
      }))
  })

  describe("redirects", () => {
    it.scopedLive("redirectChain routes prefix/1 → … → prefix/hops → target", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            ...Faults.redirectChain({ prefix: "/hop/", hops: 3, status: 307, target: "/done" }),
            Faults.get("/done", Faults.ok("arrived"))
          ]
        })
        const first = yield* request(server.urlFor("/hop/1"))
        expect([first.status, first.headers.location]).toEqual([307, "/hop/2"])
        const last = yield* request(server.urlFor("/hop/3"))
        expect([last.status, last.headers.location]).toEqual([307, "/done"])
        yield* server.reset
        // A following client takes exactly `hops` redirects.
        const followed = yield* Effect.promise(() => fetch(server.urlFor("/hop/1")))
        expect([followed.status, followed.url, yield* Effect.promise(() => followed.text())])
          .toEqual([200, server.urlFor("/done"), "arrived"])
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/hop/1", "/hop/2", "/hop/3", "/done"])
      }))

    it.scopedLive("redirectLoop bounces between two paths", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: Faults.redirectLoop("/a", "/b", 301) })
        const a = yield* request(server.urlFor("/a"))
        const b = yield* request(server.urlFor("/b"))
        expect([a.status, a.headers.location, b.status, b.headers.location]).toEqual([301, "/b", 301, "/a"])
        yield* server.reset
        const followed = yield* Effect.either(Effect.tryPromise(() => fetch(server.urlFor("/a"))))
        expect(Either.isLeft(followed)).toBe(true)
        const paths = (yield* server.requests).map((r) => r.path)
        expect(paths.length).toBeGreaterThan(2)
        expect(paths.slice(0, 4)).toEqual(["/a", "/b", "/a", "/b"])
      }))
  })

  describe("latency", () => {
    it.scopedLive("delays the headers by a fixed or a seeded random time", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/fixed", Faults.latency(40, Faults.ok("late"))),
            Faults.get("/random", Faults.latency({ min: 20, max: 30 }))
          ]
        })
        expect((yield* request(server.urlFor("/fixed"))).body.toString("utf8")).toBe("late")
        for (let i = 0; i < 3; i++) yield* request(server.urlFor("/random"))
        const took = (yield* server.requests).map((r) => (r.completedAt ?? 0) - r.arrivedAt)
        // Node starts timers from the event loop's cached clock, which can lag the
        // arrival stamp by a few ms: the delays may look that much shorter, never more.
        expect(took[0]).toBeGreaterThanOrEqual(35)
        for (const t of took.slice(1)) expect(t).toBeGreaterThanOrEqual(15)
      }))
  })

  describe("network faults", () => {
    it.scopedLive("resetBeforeHeaders: the client sees ECONNRESET before any response", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.resetBeforeHeaders)
        const error = yield* Effect.flip(request(server.url))
        expect([error.stage, error.code]).toEqual(["headers", "ECONNRESET"])
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "reset", status: undefined })
      }))

    it.scopedLive("resetMidBody: headers and afterBytes arrive, then ECONNRESET", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.resetMidBody(100, "x".repeat(1000)))
        const head = yield* open(server.url)
        expect([head.status, head.headers["content-length"]]).toEqual([200, "1000"])
        const error = yield* Effect.flip(readBody(head))
        expect([error.stage, error.code, error.received]).toEqual(["body", "ECONNRESET", 100])
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "reset", status: 200 })
      }))

    it.scopedLive("stall: headers arrive, the body never does", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.stall({ "x-stalled": "yes" }))
        const head = yield* open(server.url)
        expect([head.status, head.headers["x-stalled"]]).toEqual([200, "yes"])
        const body = yield* readBody(head).pipe(Effect.timeoutOption("150 millis"))
        expect(body._tag).toBe("None")
        // Timing out destroyed the client's socket: the server sees the abort.
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "aborted", status: 200 })
      }))

    it.scopedLive("stallBeforeHeaders: no response at all", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.stallBeforeHeaders)
        const head = yield* open(server.url).pipe(Effect.timeoutOption("150 millis"))
        expect(head._tag).toBe("None")
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "aborted", status: undefined })
      }))

    it.scopedLive("drip: headers at once, then one chunk per interval", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.drip("abcdefghij", 2, 40))
        const response = yield* request(server.url)
        expect(response.body.toString("utf8")).toBe("abcdefghij")
        expect(response.headers["content-length"]).toBe("10")
        const [record] = yield* server.requests
        expect(record?.outcome).toBe("completed")
        // Five chunks, the last about 5 × 40 ms after arrival (less a few ms: Node starts
        // timers from the event loop's cached clock, which can lag the arrival stamp).
        expect((record?.completedAt ?? 0) - (record?.arrivedAt ?? 0)).toBeGreaterThanOrEqual(190)
        const times = response.chunkTimes
        expect(times.length).toBe(5)
        expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(4 * 40 - 10)
      }))

    it.scopedLive("drip: a client leaving mid-body is recorded as aborted", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.drip("x".repeat(1000), 1, 20))
        const head = yield* open(server.url)
        const body = yield* readBody(head).pipe(Effect.timeoutOption("70 millis"))
        expect(body._tag).toBe("None")
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "aborted", status: 200 })
        expect((yield* server.stats).inFlight).toBe(0)
      }))

    it.scopedLive("truncated: Content-Length promises more than is sent, then the connection closes", () =>
      Effect.gen(function*() {
        const server = yield* serve(Faults.truncated("0123456789", 50))
        const head = yield* open(server.url)
        expect(head.headers["content-length"]).toBe("50")
        const error = yield* Effect.flip(readBody(head))
        expect([error.stage, error.received]).toEqual(["body", 10])
        yield* server.awaitSettled(1)
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "reset", status: 200 })
      }))
  })

  describe("bodies", () => {
    it.scopedLive("encoded: each encoding round-trips with the compressed length", () =>
      Effect.gen(function*() {
        const text = "fiberkit ".repeat(500)
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/gzip", Faults.encoded("gzip", text)),
            Faults.get("/br", Faults.encoded("br", text)),
            Faults.get("/deflate", Faults.encoded("deflate", { json: { text } }, { status: 201 }))
          ]
        })
        const gzip = yield* request(server.urlFor("/gzip"))
        expect(gzip.headers["content-encoding"]).toBe("gzip")
        expect(gzip.headers["content-type"]).toBe("text/plain; charset=utf-8")
        expect(gzip.headers["content-length"]).toBe(String(gzip.body.length))
        expect(gzip.body.length).toBeLessThan(text.length / 10)
        expect(Zlib.gunzipSync(gzip.body).toString("utf8")).toBe(text)
        const br = yield* request(server.urlFor("/br"))
        expect(br.headers["content-encoding"]).toBe("br")
        expect(br.headers["content-length"]).toBe(String(br.body.length))
        expect(Zlib.brotliDecompressSync(br.body).toString("utf8")).toBe(text)
        const deflate = yield* request(server.urlFor("/deflate"))
        expect([deflate.status, deflate.headers["content-encoding"], deflate.headers["content-type"]])
          .toEqual([201, "deflate", "application/json"])
        expect(JSON.parse(Zlib.inflateSync(deflate.body).toString("utf8"))).toEqual({ text })
        // A decoding client (undici) agrees.
        for (const path of ["/gzip", "/br"]) {
          const fetched = yield* Effect.promise(() => fetch(server.urlFor(path)).then((r) => r.text()))
          expect(fetched).toBe(text)
        }
      }))

    it.scopedLive("bomb: a small body that decompresses to the declared size", () =>
      Effect.gen(function*() {
        const declared = 40 * 1024 * 1024 + 3
        const encodings: ReadonlyArray<Faults.Encoding> = ["gzip", "br", "deflate"]
        const server = yield* TestServer.make({
          routes: encodings.map((encoding) => Faults.get(`/${encoding}`, Faults.bomb({ decompressedBytes: declared, encoding })))
        })
        for (const encoding of encodings) {
          const response = yield* request(server.urlFor(`/${encoding}`))
          expect(response.headers["content-encoding"]).toBe(encoding)
          expect(response.body.length).toBeLessThan(declared / 500)
          expect(yield* decompressedSize(encoding, response.body)).toEqual({ size: declared, nonZero: 0 })
        }
        // Built once per size and encoding.
        expect(Faults.bomb({ decompressedBytes: declared }).body).toBe(Faults.bomb({ decompressedBytes: declared }).body)
        const empty = Faults.bomb({ decompressedBytes: 0, encoding: "br" }).body
        expect(empty).toBeInstanceOf(Uint8Array)
        if (empty instanceof Uint8Array) expect(yield* decompressedSize("br", empty)).toEqual({ size: 0, nonZero: 0 })
      }))

    it.scopedLive("oversized: exactly `bytes` bytes, with that Content-Length", () =>
      Effect.gen(function*() {
        const bytes = 3 * 1024 * 1024 + 1
        const server = yield* serve(Faults.oversized(bytes, "text/plain"))
        const response = yield* request(server.url)
        expect([response.headers["content-length"], response.headers["content-type"], response.body.length])
          .toEqual([String(bytes), "text/plain", bytes])
      }))

    it.scopedLive("wrongContentType and malformedJson lie about their bodies", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({
          routes: [
            Faults.get("/html", Faults.wrongContentType({ json: { a: 1 } })),
            Faults.get("/bad", Faults.malformedJson())
          ]
        })
        const html = yield* request(server.urlFor("/html"))
        expect(html.headers["content-type"]).toBe("text/html; charset=utf-8")
        expect(JSON.parse(html.body.toString("utf8"))).toEqual({ a: 1 })
        const bad = yield* request(server.urlFor("/bad"))
        expect(bad.headers["content-type"]).toBe("application/json")
        expect(() => JSON.parse(bad.body.toString("utf8"))).toThrow(SyntaxError)
      }))

    it.scopedLive("echo replies with what the client sent", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ routes: [Faults.route("/echo", Faults.echo)] })
        const response = yield* request(server.urlFor("/echo?x=1"), { method: "PATCH", body: "hello" })
        const echoed = JSON.parse(response.body.toString("utf8"))
        expect(echoed).toMatchObject({ method: "PATCH", path: "/echo?x=1", body: "hello" })
        expect(echoed.headers["content-length"]).toBe("5")
      }))
  })
})
