/**
 * Small value helpers shared by the exchange adapters and the generic
 * sources: decimal strings, timestamps in any of the usual units, and
 * Schema errors turned into one line that names the failing path.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * A decimal number sent as a string (`"4.00000200"`), decoded with
 * `NumberFromString` and required to be finite.
 *
 * @internal
 */
export const Decimal = Schema.NumberFromString.pipe(Schema.finite())

/**
 * A price sent as a string: finite and greater than zero.
 *
 * @internal
 */
export const Price = Schema.NumberFromString.pipe(Schema.finite(), Schema.positive({
  message: () => "a price must be greater than zero"
}))

/**
 * A decimal string that venues leave empty (`""`) or `null` when there is no
 * value (OKX sends `"bidPx": ""` for an empty book side).
 *
 * @internal
 */
export const OptionalDecimal = Schema.Union(Decimal, Schema.transformLiteral("", null), Schema.Null)

/**
 * A number sent either as a JSON number or as a decimal string (generic
 * sources and files do both).
 *
 * @internal
 */
export const NumberLike = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.finite())

/**
 * `value` when it is a finite number above zero, else `null`: venues send
 * `"0.00000000"` for an empty bid or ask.
 *
 * @internal
 */
export const positiveOrNull = (value: number | null | undefined): number | null =>
  value !== null && value !== undefined && Number.isFinite(value) && value > 0 ? value : null

/**
 * `value` when it is finite and not negative (volumes), else `null`.
 *
 * @internal
 */
export const nonNegativeOrNull = (value: number | null | undefined): number | null =>
  value !== null && value !== undefined && Number.isFinite(value) && value >= 0 ? value : null

const numericPattern = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/**
 * Epoch milliseconds from a timestamp in whatever unit a source uses. Numbers
 * (or numeric strings) are told apart by magnitude: below `1e11` they are
 * seconds (1e11 s is the year 5138), below `1e14` milliseconds, below `1e17`
 * microseconds, above that nanoseconds. Other strings are parsed as ISO 8601
 * (`Date.parse`). `undefined` for anything else, zero or negative.
 *
 * @internal
 */
export const toEpochMillis = (value: unknown): number | undefined => {
  if (typeof value === "number") return fromNumber(value)
  if (typeof value === "string") {
    const text = value.trim()
    if (text.length === 0) return undefined
    if (numericPattern.test(text)) return fromNumber(Number(text))
    const parsed = Date.parse(text)
    return Number.isFinite(parsed) && parsed > 0 ? parsed : undefined
  }
  return undefined
}

const fromNumber = (n: number): number | undefined => {
  if (!Number.isFinite(n) || n <= 0) return undefined
  if (n < 1e11) return Math.round(n * 1000)
  if (n < 1e14) return Math.round(n)
  if (n < 1e17) return Math.round(n / 1000)
  return Math.round(n / 1e6)
}

/**
 * One line for a Schema failure: the path of the first issue and its
 * message, e.g. `at lastPrice: a price must be greater than zero`.
 *
 * @internal
 */
export const formatParseError = (error: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey> = []): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return error.message
  const path = formatPath([...prefix, ...first.path])
  return path.length > 0 ? `at ${path}: ${first.message}` : first.message
}

/**
 * `data[0].last` style rendering of a path.
 *
 * @internal
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else {
      const key = String(segment)
      out += /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? (out.length === 0 ? key : `.${key}`) : `[${JSON.stringify(key)}]`
    }
  }
  return out
}

/**
 * Decodes `value` with `schema`; a failure is a one-line message naming the
 * path (prefixed with `prefix`, where the value sits in the whole payload).
 *
 * @internal
 */
export const decodeWith = <A, I>(
  schema: Schema.Schema<A, I, never>,
  value: unknown,
  prefix: ReadonlyArray<PropertyKey> = []
): Either.Either<A, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(schema, { errors: "first" })(value),
    (error) => formatParseError(error, prefix)
  )
