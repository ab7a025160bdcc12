/**
 * Mapping platform errors to the `FilesError` family, and the decode / encode
 * failures shared by the file modules.
 *
 * @internal
 */
import type * as PlatformError from "@effect/platform/Error"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as FilesError from "../FilesError.js"

// ---------------------------------------------------------------------------

const errnoCode = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined

/**
 * Maps a platform error to the file error family by reason, refining
 * `BadResource` and `Unknown` with the system error code the platform keeps
 * in `cause`.
 *
 * @internal
 */
export const fromPlatform = (operation: string, path: string) => (error: PlatformError.PlatformError): FilesError.SystemFailure => {
  if (error._tag === "BadArgument") {
    const cause: unknown = error.cause
    return new FilesError.IoError({
      operation,
      path,
      reason: "BadArgument",
      code: errnoCode(cause),
      detail: cause instanceof Error ? cause.message : error.description ?? "invalid argument",
      cause: error
    })
  }
  const code = errnoCode(error.cause)
  switch (error.reason) {
    case "NotFound":
      return new FilesError.FileNotFound({ operation, path, cause: error })
    case "PermissionDenied":
      return new FilesError.PermissionDenied({ operation, path, cause: error })
    case "AlreadyExists":
      return new FilesError.AlreadyExists({ operation, path, cause: error })
  }
  if (code === "ENOTDIR") return new FilesError.NotADirectory({ operation, path, cause: error })
  if (code === "EISDIR") return new FilesError.IsADirectory({ operation, path, cause: error })
  if (code === "EPERM") return new FilesError.PermissionDenied({ operation, path, cause: error })
  return new FilesError.IoError({
    operation,
    path,
    reason: error.reason,
    code,
    detail: error.description ?? error.message,
    cause: error
  })
}

const errorDetail = (error: unknown): string => error instanceof Error ? error.message : String(error)

const truncate = (text: string, max: number): string => text.length > max ? `${text.slice(0, max)}…` : text

/** @internal */
export const schemaDecodeFailed = (
  operation: string,
  path: string,
  line: number | undefined,
  error: ParseResult.ParseError
): FilesError.DecodeFailed => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return new FilesError.DecodeFailed({
    operation,
    path,
    line,
    reason: "Schema",
    at: first?.path ?? [],
    detail: truncate(first?.message ?? ParseResult.TreeFormatter.formatErrorSync(error), 1000)
  })
}

/** @internal */
export const jsonDecodeFailed = (
  operation: string,
  path: string,
  line: number | undefined,
  error: unknown
): FilesError.DecodeFailed =>
  new FilesError.DecodeFailed({ operation, path, line, reason: "Json", at: [], detail: truncate(errorDetail(error), 1000) })

/** @internal */
export const schemaEncodeFailed = (operation: string, path: string, error: ParseResult.ParseError): FilesError.EncodeFailed => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return new FilesError.EncodeFailed({
    operation,
    path,
    at: first?.path ?? [],
    detail: truncate(first?.message ?? ParseResult.TreeFormatter.formatErrorSync(error), 1000)
  })
}

/** @internal */
export const stringify = (operation: string, path: string, value: unknown, space?: number): Either.Either<string, FilesError.EncodeFailed> => {
  try {
    const text = JSON.stringify(value, null, space)
    // `JSON.stringify` returns undefined (despite its type) for undefined, functions and symbols.
    return typeof text === "string"
      ? Either.right(text)
      : Either.left(new FilesError.EncodeFailed({ operation, path, at: [], detail: `${typeof value} is not JSON` }))
  } catch (error) {
    return Either.left(new FilesError.EncodeFailed({ operation, path, at: [], detail: errorDetail(error) }))
  }
}
