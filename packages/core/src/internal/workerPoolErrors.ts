/**
 * The typed errors of `WorkerPool` (re-exported there with their docs).
 *
 * @internal
 */
import * as Data from "effect/Data"

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** @internal */
export class WorkerCrashed extends Data.TaggedError("WorkerCrashed")<{
  readonly workerId: number
  readonly threadId: number | undefined
  readonly request: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Worker #${this.workerId} (thread ${this.threadId ?? "?"}) crashed while running request ` +
      `"${this.request}": ${describe(this.cause)}. The pool replaced the thread; the request was not retried ` +
      `(retry it if it is idempotent, or fix what kills the thread: an uncaught exception outside an Effect, ` +
      `process.exit, or running out of memory).`
  }
}

/** @internal */
export class WorkerSpawnError extends Data.TaggedError("WorkerSpawnError")<{
  readonly worker: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Worker thread for ${this.worker} failed to start: ${describe(this.cause)}. Check that the module ` +
      `exists, loads without throwing, and calls WorkerPool.serve(...).`
  }
}

/** @internal */
export class WorkerProtocolError extends Data.TaggedError("WorkerProtocolError")<{
  readonly request: string
  readonly reason: "encode" | "decode"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Worker request "${this.request}" could not be ${this.reason}d: ${describe(this.cause)}. Check that ` +
      `the pool and the worker use the same protocol schema and that the request is part of it.`
  }
}
