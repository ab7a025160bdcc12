/**
 * Percent-encoding normalization (RFC 3986 §6.2.2.1 and §6.2.2.2), shared by
 * URL normalization and robots.txt matching so both compare the same form.
 *
 * @internal
 */

const hexDigits = "0123456789ABCDEF"

/** Value of an ASCII hex digit, or -1 (also for `NaN`, past the end of a string). */
const hexValue = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3). */
const isUnreserved = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
  c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e

/**
 * Decodes escapes of unreserved characters (`%7E` → `~`, `%31` → `1`),
 * upper-cases the hex digits of every other escape (`%c3%a9` → `%C3%A9`) and
 * encodes a `%` that starts no escape as `%25`. The last step is what makes
 * the function idempotent: without it `%%616` would become `%a6`, which a
 * second pass would turn into `%A6`.
 */
export const normalize = (s: string): string => {
  let i = s.indexOf("%")
  if (i < 0) return s
  let out = ""
  let last = 0
  while (i >= 0) {
    const high = hexValue(s.charCodeAt(i + 1))
    const low = high < 0 ? -1 : hexValue(s.charCodeAt(i + 2))
    out += s.slice(last, i)
    if (low < 0) {
      out += "%25"
      last = i + 1
    } else {
      const byte = high * 16 + low
      out += isUnreserved(byte) ? String.fromCharCode(byte) : "%" + hexDigits.charAt(high) + hexDigits.charAt(low)
      last = i + 3
    }
    i = s.indexOf("%", last)
  }
  return out + s.slice(last)
}

/** Whether `c` must be percent-encoded before comparison: controls, space, DEL and non-ASCII. */
const mustEncode = (c: number): boolean => c <= 0x20 || c >= 0x7f

const encodeBytes = (text: string): string => {
  // Buffer replaces lone surrogates with U+FFFD instead of throwing as encodeURIComponent does.
  const bytes = Buffer.from(text, "utf8")
  let out = ""
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    out += "%" + hexDigits.charAt(b >> 4) + hexDigits.charAt(b & 15)
  }
  return out
}

/**
 * {@link normalize}, then controls, spaces and non-ASCII characters encoded as
 * UTF-8 escapes: the form in which RFC 9309 §2.2.2 compares robots.txt paths
 * with URI paths. A string that is already in this form is returned as is.
 */
export const normalizeForMatch = (s: string): string => {
  let i = 0
  while (i < s.length && !mustEncode(s.charCodeAt(i))) i++
  if (i === s.length) return normalize(s)
  let out = s.slice(0, i)
  while (i < s.length) {
    const start = i
    if (mustEncode(s.charCodeAt(i))) {
      while (i < s.length && mustEncode(s.charCodeAt(i))) i++
      out += encodeBytes(s.slice(start, i))
    } else {
      while (i < s.length && !mustEncode(s.charCodeAt(i))) i++
      out += s.slice(start, i)
    }
  }
  return normalize(out)
}
