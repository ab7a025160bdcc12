import { describe, expect, it } from "@effect/vitest"
import * as HttpError from "../src/HttpError.js"

const at = (attempt: number) => ({ method: "GET", url: "http://127.0.0.1:8080/p", attempt })

describe("HttpError", () => {
  it("isHttpError recognises every error of the union and nothing else", () => {
    const errors: ReadonlyArray<HttpError.HttpError> = [
      new HttpError.InvalidUrl({ ...at(0), reason: "r" }),
      new HttpError.InvalidRequest({ ...at(0), reason: "r" }),
      new HttpError.TransportError({ ...at(1), phase: "connect", code: "ECONNREFUSED", cause: new Error("x") }),
      new HttpError.TimeoutError({ ...at(1), phase: "headers", timeoutMs: 5 }),
      new HttpError.StatusError({ ...at(1), status: 500, headers: {}, bodyExcerpt: "" }),
      new HttpError.BodyTooLarge({ ...at(1), limit: 1, received: 2, stage: "declared" }),
      new HttpError.DecodeError({ ...at(1), reason: "Json", path: [], detail: "d" }),
      new HttpError.RedirectError({ ...at(1), reason: "Loop", chain: ["a", "b", "a"] })
    ]
    for (const error of errors) expect(HttpError.isHttpError(error), error._tag).toBe(true)
    for (const other of [new Error("x"), { _tag: "StatusError" }, null, "StatusError", 1]) {
      expect(HttpError.isHttpError(other)).toBe(false)
    }
  })

  it("messages name the method and URL, and the attempt only after the first", () => {
    const first = new HttpError.StatusError({ ...at(1), status: 503, headers: {}, bodyExcerpt: "" })
    const third = new HttpError.StatusError({ ...at(3), status: 503, headers: {}, bodyExcerpt: "busy", notRetried: "3 attempts made" })
    expect(first.message).toBe("GET http://127.0.0.1:8080/p: HTTP 503")
    expect(third.message).toBe("GET http://127.0.0.1:8080/p (attempt 3): HTTP 503: \"busy\" (not retried: 3 attempts made)")
  })

  it("the StatusError message quotes at most 200 characters of the excerpt", () => {
    const error = new HttpError.StatusError({ ...at(1), status: 500, headers: {}, bodyExcerpt: "x".repeat(1024) })
    expect(error.message).toBe(`GET http://127.0.0.1:8080/p: HTTP 500: "${"x".repeat(200)}"`)
  })

  it("InvalidUrl quotes the URL and says how to fix it", () => {
    const error = new HttpError.InvalidUrl({ method: "GET", url: "not a url", attempt: 0, reason: "not an absolute URL" })
    expect(error.message).toBe(
      "GET \"not a url\": invalid URL: not an absolute URL. Pass an absolute http(s) URL, or configure a baseUrl for relative ones."
    )
  })

  it("TransportError gives the phase, the code, the cause and a hint", () => {
    const connect = new HttpError.TransportError({ ...at(2), phase: "connect", code: "ECONNREFUSED", cause: new Error("refused") })
    expect(connect.message).toBe(
      "GET http://127.0.0.1:8080/p (attempt 2): connect failed (ECONNREFUSED): refused. Check that the server is up and reachable."
    )
    const dns = new HttpError.TransportError({ ...at(1), phase: "dns", code: undefined, cause: "no answer" })
    expect(dns.message).toBe("GET http://127.0.0.1:8080/p: dns failed: no answer. Check the host name.")
    const receive = new HttpError.TransportError({ ...at(1), phase: "receive", code: "UND_ERR_SOCKET", cause: new Error("other side closed") })
    expect(receive.message).toContain("receive failed (UND_ERR_SOCKET): other side closed. The server or network dropped the connection")
  })

  it("TimeoutError names the phase and the setting to raise", () => {
    const headers = new HttpError.TimeoutError({ ...at(1), phase: "headers", timeoutMs: 250 })
    expect(headers.message).toBe(
      "GET http://127.0.0.1:8080/p: timed out after 250 ms waiting for response headers. Raise timeouts.headers if the server is known to be slow."
    )
    for (const phase of ["connect", "body", "attempt"] as const) {
      expect(new HttpError.TimeoutError({ ...at(1), phase, timeoutMs: 1 }).message).toContain(`Raise timeouts.${phase} `)
    }
  })

  // The overall deadline is the `timeouts.total` setting; there is no `timeouts.deadline`.
  it("TimeoutError for the deadline points at timeouts.total", () => {
    const deadline = new HttpError.TimeoutError({ ...at(2), phase: "deadline", timeoutMs: 1_000 })
    expect(deadline.message).toContain("for the overall deadline across retries")
    expect(deadline.message).toContain("Raise timeouts.total ")
  })

  it("BodyTooLarge gives the limit, the stage and the size", () => {
    const error = new HttpError.BodyTooLarge({ ...at(1), limit: 1_000, received: 5_000, stage: "declared" })
    expect(error.message).toBe(
      "GET http://127.0.0.1:8080/p: response body is larger than the 1000-byte limit (declared: 5000 bytes). Raise maxBodyBytes or stream the body."
    )
  })

  it("DecodeError renders the path of a schema failure", () => {
    const error = new HttpError.DecodeError({ ...at(1), reason: "Schema", path: ["items", 1, "price"], detail: "Expected number" })
    expect(error.message).toBe(
      "GET http://127.0.0.1:8080/p: could not decode the response (Schema) at [\"items\"][\"1\"][\"price\"]: Expected number"
    )
    const json = new HttpError.DecodeError({ ...at(1), reason: "Json", path: [], detail: "Unexpected end" })
    expect(json.message).toBe("GET http://127.0.0.1:8080/p: could not decode the response (Json): Unexpected end")
  })

  it("RedirectError explains each reason with the chain", () => {
    expect(new HttpError.RedirectError({ ...at(1), reason: "Loop", chain: ["a", "b", "a"] }).message).toBe(
      "GET http://127.0.0.1:8080/p: redirect loop: a -> b -> a"
    )
    expect(new HttpError.RedirectError({ ...at(1), reason: "InvalidLocation", chain: ["a", "(no Location header)"] }).message)
      .toBe("GET http://127.0.0.1:8080/p: redirect with a missing or invalid Location header: a -> (no Location header)")
  })
})
