/**
 * One CSV record per line, RFC 4180 quoting (`"a,b"`, `"say ""hi"""`).
 * Quoted fields spanning lines are not supported: a price file has none.
 *
 * @internal
 */
import * as Either from "effect/Either"

/**
 * Splits one line into fields; the error says what is malformed.
 *
 * @internal
 */
export const parseLine = (line: string): Either.Either<Array<string>, string> => {
  const fields: Array<string> = []
  let i = 0
  for (;;) {
    if (line[i] === "\"") {
      let value = ""
      i++
      for (;;) {
        const quote = line.indexOf("\"", i)
        if (quote < 0) return Either.left("unterminated quoted field")
        value += line.slice(i, quote)
        if (line[quote + 1] === "\"") {
          value += "\""
          i = quote + 2
        } else {
          i = quote + 1
          break
        }
      }
      fields.push(value)
      if (i === line.length) return Either.right(fields)
      if (line[i] !== ",") return Either.left(`unexpected ${JSON.stringify(line[i])} after a quoted field`)
      i++
    } else {
      const comma = line.indexOf(",", i)
      const end = comma < 0 ? line.length : comma
      const value = line.slice(i, end)
      if (value.includes("\"")) return Either.left("a quote inside an unquoted field")
      fields.push(value.trim())
      if (comma < 0) return Either.right(fields)
      i = comma + 1
    }
  }
}
