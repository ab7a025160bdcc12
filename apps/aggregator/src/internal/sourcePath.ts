/**
 * Field paths and templates of the generic JSON source.
 *
 * A path is dotted keys and indices, with an optional JSONPath-style `$`
 * root and brackets: `data.0.last`, `$.data[0].last`, `result["XXBTZUSD"].c[0]`.
 * Templates substitute `{symbol}`, `{base}`, `{quote}` and `{venue}`, each
 * optionally `:lower` or `:upper` (`{base:lower}`).
 *
 * @internal
 */
import * as Either from "effect/Either"

/** @internal */
export type Path = ReadonlyArray<string | number>

const identifier = /^[^.[\]]+/

/**
 * Parses a path; the error says where it stopped.
 *
 * @internal
 */
export const parsePath = (text: string): Either.Either<Path, string> => {
  let rest = text.trim()
  if (rest.startsWith("$")) rest = rest.slice(1)
  if (rest.startsWith(".")) rest = rest.slice(1)
  const out: Array<string | number> = []
  while (rest.length > 0) {
    if (rest.startsWith("[")) {
      const close = rest.indexOf("]")
      if (close < 0) return Either.left(`unclosed "[" in path ${JSON.stringify(text)}`)
      const inner = rest.slice(1, close).trim()
      if (/^\d+$/.test(inner)) out.push(Number(inner))
      else if (/^"[^"]*"$/.test(inner) || /^'[^']*'$/.test(inner)) out.push(inner.slice(1, -1))
      else return Either.left(`"[${inner}]" in path ${JSON.stringify(text)} is neither an index nor a quoted key`)
      rest = rest.slice(close + 1)
    } else {
      const match = identifier.exec(rest)
      if (match === null) return Either.left(`empty segment in path ${JSON.stringify(text)}`)
      const key = match[0]
      out.push(/^\d+$/.test(key) ? Number(key) : key)
      rest = rest.slice(key.length)
    }
    if (rest.startsWith(".")) {
      rest = rest.slice(1)
      if (rest.length === 0 || rest.startsWith(".")) return Either.left(`empty segment in path ${JSON.stringify(text)}`)
    } else if (rest.length > 0 && !rest.startsWith("[")) {
      return Either.left(`unexpected ${JSON.stringify(rest)} in path ${JSON.stringify(text)}`)
    }
  }
  if (out.length === 0) return Either.left(`path ${JSON.stringify(text)} is empty`)
  return Either.right(out)
}

/**
 * The value at `path` (a numeric segment also reads an object key such as
 * `"0"`), or `undefined` when a segment is missing.
 *
 * @internal
 */
export const getPath = (value: unknown, path: Path): unknown => {
  let current: unknown = value
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment]
    else if (typeof current === "object" && current !== null && !Array.isArray(current)) {
      current = (current as Record<string, unknown>)[String(segment)]
    } else return undefined
    if (current === undefined) return undefined
  }
  return current
}

/**
 * Where the path stops matching, for messages: the longest prefix present.
 *
 * @internal
 */
export const presentPrefix = (value: unknown, path: Path): Path => {
  for (let n = path.length; n > 0; n--) {
    if (getPath(value, path.slice(0, n)) !== undefined) return path.slice(0, n)
  }
  return []
}

/** @internal */
export const placeholderNames = ["symbol", "base", "quote", "venue"] as const

/** @internal */
export type Placeholders = Readonly<Record<(typeof placeholderNames)[number], string>>

const placeholderPattern = /\{([a-z]+)(?::(lower|upper))?\}/g

/**
 * The placeholders a template uses that are not known, for validation.
 *
 * @internal
 */
export const unknownPlaceholders = (template: string): Array<string> => {
  const unknown: Array<string> = []
  for (const match of template.matchAll(placeholderPattern)) {
    const name = match[1] ?? ""
    if (!(placeholderNames as ReadonlyArray<string>).includes(name)) unknown.push(match[0])
  }
  return unknown
}

/**
 * Whether a template uses any placeholder.
 *
 * @internal
 */
export const hasPlaceholder = (template: string): boolean => {
  for (const _ of template.matchAll(placeholderPattern)) return true
  return false
}

/**
 * Fills a template; `encode` is applied to each substituted value (URL
 * components are percent-encoded, paths are not).
 *
 * @internal
 */
export const fill = (template: string, values: Placeholders, encode: (s: string) => string = (s) => s): string =>
  template.replace(placeholderPattern, (whole, name: string, mode: string | undefined) => {
    if (!(placeholderNames as ReadonlyArray<string>).includes(name)) return whole
    const raw = values[name as keyof Placeholders]
    return encode(mode === "lower" ? raw.toLowerCase() : mode === "upper" ? raw.toUpperCase() : raw)
  })
