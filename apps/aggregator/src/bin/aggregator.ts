#!/usr/bin/env -S node --import tsx
/**
 * `npm run aggregator -- <demo|serve|once> [options]` / `fiberkit-aggregator`:
 * the aggregator's command line (see `cli.ts`). Ctrl-C (SIGINT) or SIGTERM
 * interrupts the program: the server stops, the writer drains what it holds,
 * the database closes.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { main } from "../cli.js"

NodeRuntime.runMain(Effect.scoped(main(process.argv)), { disablePrettyLogger: true })
