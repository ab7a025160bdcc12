/**
 * The protocol between the process-pool pattern and its worker threads,
 * imported by both sides, and the CPU-bound work it carries.
 */
import { createHash } from "node:crypto"
import * as Schema from "effect/Schema"

/** `data` hashed with SHA-256 `rounds` times over; answered with the digest and the thread that did it. */
export class Hash extends Schema.TaggedRequest<Hash>()("Hash", {
  failure: Schema.Never,
  success: Schema.Struct({ digest: Schema.String, threadId: Schema.Number }),
  payload: { data: Schema.String, rounds: Schema.Number }
}) {}

/** Every request the worker serves. */
export const Protocol = Schema.Union(Hash)

/** The CPU-bound work: synchronous, it holds whichever thread runs it. */
export const hashRounds = (data: string, rounds: number): string => {
  let digest = data
  for (let i = 0; i < rounds; i++) digest = createHash("sha256").update(digest).digest("hex")
  return digest
}
