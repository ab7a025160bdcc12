/**
 * `npm run cookbook -- --list | <name> | all`: runs cookbook patterns against
 * local test servers (loopback only).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { main } from "./Cookbook.js"

main(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
