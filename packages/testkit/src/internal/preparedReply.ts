/**
 * Turns a {@link Route.Reply} into what goes on the wire: status, lower-case
 * headers and body bytes, compressed when the reply asks for an encoding.
 * Replies of static handlers are prepared once and reused, which keeps the
 * per-request cost of benchmark routes down to a `writeHead` and an `end`.
 *
 * @internal
 */
import * as Zlib from "node:zlib"
import type { OutgoingHttpHeaders } from "node:http"
import type * as Route from "../Route.js"

/** @internal */
export interface PreparedReply {
  readonly status: number
  readonly headers: OutgoingHttpHeaders
  readonly body: Buffer
  readonly fault: Route.Fault | undefined
}

const EMPTY = Buffer.alloc(0)

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** The bytes of a body and the content type it implies. */
const encodeBody = (body: Route.Body | undefined): readonly [Buffer, string | undefined] => {
  if (body === undefined) return [EMPTY, undefined]
  if (typeof body === "string") return [Buffer.from(body, "utf8"), "text/plain; charset=utf-8"]
  if (body instanceof Uint8Array) return [toBuffer(body), "application/octet-stream"]
  return [Buffer.from(JSON.stringify(body.json) ?? "null", "utf8"), "application/json"]
}

const compress = (encoding: "gzip" | "br" | "deflate", body: Buffer): Buffer => {
  switch (encoding) {
    case "gzip":
      return Zlib.gzipSync(body)
    case "deflate":
      return Zlib.deflateSync(body)
    case "br":
      // Quality 11 (the default) takes seconds on large bodies; clients only care that it decodes.
      return Zlib.brotliCompressSync(body, {
        params: {
          [Zlib.constants.BROTLI_PARAM_QUALITY]: 5,
          [Zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length
        }
      })
  }
}

/** Statuses that never carry a body nor a `content-length`. */
const bodiless = (status: number): boolean => status === 204 || status === 304 || (status >= 100 && status < 200)

const prepareUncached = (reply: Route.Reply): PreparedReply => {
  const status = reply.status ?? 200
  const headers: OutgoingHttpHeaders = {}
  if (reply.headers !== undefined) {
    for (const name of Object.keys(reply.headers)) {
      const value = reply.headers[name]
      if (value !== undefined) headers[name.toLowerCase()] = typeof value === "string" ? value : Array.from(value)
    }
  }
  let [body, contentType] = encodeBody(reply.body)
  if (bodiless(status)) {
    return { status, headers, body: EMPTY, fault: reply.fault }
  }
  if (contentType !== undefined && headers["content-type"] === undefined) headers["content-type"] = contentType
  if (reply.encoding !== undefined) {
    body = compress(reply.encoding, body)
    if (headers["content-encoding"] === undefined) headers["content-encoding"] = reply.encoding
  }
  if (reply.fault?._tag === "Truncated") {
    headers["content-length"] = String(reply.fault.declaredLength)
  } else if (reply.fault?._tag === "Stall" && body.length === 0) {
    // `content-length: 0` would complete the response; without it the body is chunked and never ends.
  } else if (headers["content-length"] === undefined) {
    headers["content-length"] = String(body.length)
  }
  return { status, headers, body, fault: reply.fault }
}

const cache = new WeakMap<Route.Reply, PreparedReply>()

/**
 * Prepares `reply`; with `reuse`, the result is cached by reply identity
 * (for replies that are part of a route's static handler).
 *
 * @internal
 */
export const prepare = (reply: Route.Reply, reuse: boolean): PreparedReply => {
  if (!reuse) return prepareUncached(reply)
  let prepared = cache.get(reply)
  if (prepared === undefined) {
    prepared = prepareUncached(reply)
    cache.set(reply, prepared)
  }
  return prepared
}
