/**
 * The shape of one cookbook entry: an asyncio idiom, the Effect program that
 * replaces it, and a one-line note on what changes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"

/**
 * One pattern. `run` is self-contained: it starts whatever local test server
 * it needs (loopback only), prints what happened through `Console`, and
 * stops everything before it returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pattern<E = unknown> {
  /** Kebab-case, used on the command line: `npm run cookbook -- gather-fail-fast`. */
  readonly name: string
  readonly title: string
  /** The Python it replaces, kept short. */
  readonly asyncio: string
  /** The Effect primitive(s) the pattern uses, as they appear in the README table. */
  readonly primitive: string
  /** One line: what the Effect form does differently or better. */
  readonly summary: string
  readonly run: Effect.Effect<void, E>
}

/**
 * Declares a pattern. The identity function, there so each pattern file
 * reads as one typed value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(pattern: Pattern<E>): Pattern<E> => pattern

/**
 * Milliseconds as `123 ms`, for printed timings.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatMs = (ms: number): string => `${Math.round(ms)} ms`

/**
 * A `Duration` as `123 ms`, for printed timings.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDuration = (duration: Duration.Duration): string => formatMs(Duration.toMillis(duration))
