#!/usr/bin/env -S node --max-old-space-size=512 --import tsx
/**
 * `npm run crawl -- <url...> [options]` / `fiberkit-crawl`: the crawler's
 * command line (see `cli.ts`).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { main } from "../cli.js"

// Signals are handled by the crawl command itself (graceful stop, then exit 130).
NodeRuntime.runMain(main(process.argv), { disableErrorReporting: false, disablePrettyLogger: true })
