/**
 * Whether a response is HTML, from its `Content-Type` and, when that is
 * missing or generic, from the first bytes of the body: a loose take on the
 * WHATWG MIME Sniffing Standard's "rules for identifying an unknown MIME
 * type" (its HTML patterns only).
 *
 * @internal
 */

/** Content types that say nothing about the body, so the body decides. */
const generic: ReadonlySet<string> = new Set([
  "",
  "text/plain",
  "application/octet-stream",
  "binary/octet-stream",
  "application/unknown",
  "unknown/unknown",
  "*/*"
])

/** The WHATWG HTML signatures, lower-case, each to be followed by a space or `>`. */
const signatures: ReadonlyArray<string> = [
  "<!doctype html",
  "<html",
  "<head",
  "<script",
  "<iframe",
  "<h1",
  "<div",
  "<font",
  "<table",
  "<a",
  "<style",
  "<title",
  "<b",
  "<body",
  "<br",
  "<p",
  "<!--"
]

/** The WHATWG "resource header" length: sniffing never looks further. */
const headerLength = 1445

/** The MIME type essence (`type/subtype`, lower-case), or `""` when absent or unparseable. */
export const essence = (contentType: string | null | undefined): string => {
  if (typeof contentType !== "string") return ""
  const semicolon = contentType.indexOf(";")
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
  return type.indexOf("/") > 0 ? type : ""
}

const codeAt = (body: Uint8Array | string, i: number): number =>
  typeof body === "string" ? body.charCodeAt(i) : body[i] ?? -1

const isWhitespace = (c: number): boolean => c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20

/** Whether a tag name ends at `c`: space-like, `>`, or `/` (`<br/>`). */
const ends = (c: number): boolean => isWhitespace(c) || c === 0x3e || c === 0x2f

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)

export const sniff = (body: Uint8Array | string | null | undefined): boolean => {
  if (body === null || body === undefined) return false
  const length = Math.min(body.length, headerLength)
  let i = 0
  if (typeof body === "string") {
    if (body.charCodeAt(0) === 0xfeff) i = 1
  } else if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    i = 3
  }
  while (i < length && isWhitespace(codeAt(body, i))) i++
  if (codeAt(body, i) !== 0x3c /* < */) return false
  for (const signature of signatures) {
    if (i + signature.length > body.length) continue
    let j = 0
    while (j < signature.length && lower(codeAt(body, i + j)) === signature.charCodeAt(j)) j++
    if (j < signature.length) continue
    // "<!--" needs no terminator; the others must end the tag name here (or the body ends).
    const next = codeAt(body, i + j)
    if (signature === "<!--" || next === -1 || Number.isNaN(next) || ends(next)) return true
  }
  return false
}

export const isHtml = (contentType: string | null | undefined, body: Uint8Array | string | null | undefined): boolean => {
  const type = essence(contentType)
  if (type === "text/html" || type === "application/xhtml+xml") return true
  return generic.has(type) && sniff(body)
}
