#!/usr/bin/env -S node --max-old-space-size=512 --import tsx
/**
 * `npm run crawl -- <url...> [options]` / `fiberkit-crawl`: the crawler's
 * command line (see `cli.ts`).
 *
 * Not `NodeRuntime.runMain`: it interrupts the program on the first SIGINT,
 * and the crawl command handles signals itself (first: graceful stop, exit
 * 130; second: stop at once).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { main } from "../cli.js"

const fiber = Effect.runFork(main(process.argv))
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    process.stderr.write(`crawl: unexpected failure, please report it:\n${Cause.pretty(exit.cause)}\n`)
    process.exitCode = 1
  }
})
