/**
 * The cookbook as a command line: `--list` prints every pattern, `<name>`
 * runs one, `all` runs them in order. The entry point (`cli.ts`) only runs
 * {@link main}.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { patterns } from "./index.js"
import type { Pattern } from "./Pattern.js"

/**
 * No pattern has the name given on the command line.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownPattern extends Data.TaggedError("UnknownPattern")<{ readonly name: string }> {
  override get message(): string {
    return `Unknown pattern "${this.name}". Run \`npm run cookbook -- --list\` to see the names.`
  }
}

/**
 * A pattern's program failed. Patterns handle the failures they demonstrate,
 * so this means the pattern itself is broken (or its local server is).
 *
 * @since 0.1.0
 * @category errors
 */
export class PatternFailed extends Data.TaggedError("PatternFailed")<{
  readonly name: string
  readonly error: unknown
}> {
  override get message(): string {
    const reason = this.error instanceof Error ? this.error.message : String(this.error)
    return `Pattern "${this.name}" failed: ${reason}. This is a bug in the cookbook; please report it with the output above.`
  }
}

/**
 * The list printed by `--list`: one line per pattern, `name  title`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const listing = (all: ReadonlyArray<Pattern> = patterns): string => {
  const width = Math.max(...all.map((p) => p.name.length))
  return all.map((p) => `${p.name.padEnd(width)}  ${p.title}`).join("\n")
}

/**
 * Finds a pattern by name.
 *
 * @since 0.1.0
 * @category registry
 */
export const find = (name: string): Effect.Effect<Pattern, UnknownPattern> => {
  const found = patterns.find((p) => p.name === name)
  return found === undefined ? Effect.fail(new UnknownPattern({ name })) : Effect.succeed(found)
}

const runOne = (pattern: Pattern): Effect.Effect<void, PatternFailed> =>
  Effect.gen(function*() {
    yield* Console.log(`== ${pattern.name}: ${pattern.title}`)
    yield* Console.log(`asyncio: ${pattern.asyncio}`)
    yield* Console.log(`fiberkit: ${pattern.primitive} — ${pattern.summary}`)
    yield* Console.log("")
    yield* Effect.mapError(pattern.run, (error) => new PatternFailed({ name: pattern.name, error }))
    yield* Console.log("")
  })

/**
 * What the command does with its parsed arguments.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handle = (input: { readonly list: boolean; readonly name: Option.Option<string> }) => {
  if (input.list) return Console.log(listing())
  if (Option.isNone(input.name)) {
    return Console.log(`Usage: npm run cookbook -- <name> | all | --list\n\n${listing()}`)
  }
  if (input.name.value === "all") return Effect.forEach(patterns, runOne, { discard: true })
  return Effect.flatMap(find(input.name.value), runOne)
}

/**
 * The `cookbook` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "cookbook",
  {
    list: Options.boolean("list").pipe(Options.withDescription("List the patterns (name and title).")),
    name: Args.text({ name: "name" }).pipe(
      Args.withDescription("The pattern to run, or `all` to run every one in order."),
      Args.optional
    )
  },
  handle
).pipe(Command.withDescription("Every asyncio pattern side by side with its fiberkit/Effect form, run on a local server."))

/**
 * Parses `argv` (as `process.argv`) and runs the command. An unknown pattern
 * name is reported on stderr and sets the process exit code to 2.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "cookbook", version: "0.1.0" })(argv).pipe(
    Effect.catchTag("UnknownPattern", (error) =>
      Console.error(error.message).pipe(
        Effect.andThen(Effect.sync(() => {
          process.exitCode = 2
        }))
      ))
  )
