/**
 * One span per request, observed with a recording tracer (Effect's default
 * tracer exports nothing, so there is nothing to observe without one).
 */
import { describe, expect, it } from "@effect/vitest"
import { Http } from "@fiberkit/core"
import { Faults, TestServer, TestTracer } from "@fiberkit/testkit"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

const recorder = () => {
  const recorded = TestTracer.make()
  return { spans: recorded.spans, tracer: recorded.tracer }
}

describe("Http tracing", () => {
  it.scopedLive("makes one client span per call, retries and redirects included", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({
        routes: [
          Faults.get("/flaky", Faults.sequence(503, Faults.ok("ok"))),
          Faults.get("/moved", Faults.redirect("/flaky", 302))
        ]
      })
      const http = yield* Http.make({ retry: { baseDelay: 1, maxDelay: 2 } })
      const { spans, tracer } = recorder()
      yield* http.get(server.urlFor("/moved")).pipe(Effect.withSpan("parent"), Effect.withTracer(tracer))
      const client = spans.filter((s) => s.name.startsWith("http.client"))
      expect(client.length).toBe(1)
      const [span] = client
      expect(span?.name).toBe("http.client GET")
      expect(span?.kind).toBe("client")
      expect(span?.attributes.get("http.request.method")).toBe("GET")
      expect(span?.attributes.get("url.full")).toBe(server.urlFor("/moved"))
      expect(span?.attributes.get("server.address")).toBe(server.host)
      expect(span?.exit !== undefined && Exit.isSuccess(span.exit)).toBe(true)
      // Its parent is the caller's span.
      expect(Option.map(span!.parent, (p) => p._tag === "Span" ? p.name : p._tag)).toEqual(Option.some("parent"))
      expect((yield* server.requests).length).toBe(3)
    }))

  it.scopedLive("a failed call ends its span with the failure and records the error type", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/missing", Faults.status(404, "no"))] })
      const http = yield* Http.make({})
      const { spans, tracer } = recorder()
      yield* Effect.flip(http.get(server.urlFor("/missing")).pipe(Effect.withTracer(tracer)))
      expect(spans.length).toBe(1)
      expect(spans[0]?.attributes.get("error.type")).toBe("StatusError")
      expect(spans[0]?.exit !== undefined && Exit.isFailure(spans[0].exit)).toBe(true)
    }))

  it.scopedLive("no span when tracing is disabled", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ routes: [Faults.get("/x", Faults.ok("x"))] })
      const http = yield* Http.make({})
      const { spans, tracer } = recorder()
      yield* http.get(server.urlFor("/x")).pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))
      expect(spans.length).toBe(0)
    }))
})
