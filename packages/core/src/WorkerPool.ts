/**
 * `WorkerPool`: CPU-bound work on a fixed pool of worker threads, spoken to
 * through a `Schema` protocol, so hashing, parsing or compressing never blocks
 * the event loop that serves HTTP.
 *
 * The protocol is a set of `Schema.TaggedRequest` classes, defined once and
 * imported by both sides. The worker module calls {@link serve} with one
 * handler per request; the main thread builds a pool with {@link make} and
 * calls `pool.execute(request)`, which returns the request's success type and
 * fails with its declared failure type or a {@link WorkerPoolError}. Each
 * thread runs one request at a time; requests beyond the pool size wait for a
 * free thread.
 *
 * Built on `@effect/platform`'s workers (`WorkerManager` + `NodeWorker` on
 * the main thread, `WorkerRunner` + `NodeWorkerRunner` in the thread, the
 * same wire protocol and span propagation), with what its
 * `makePoolSerialized` / `layerSerialized` pair lacks:
 * - a thread that dies (uncaught exception, `process.exit`, out of memory)
 *   fails its request with {@link WorkerCrashed} — the platform reports a
 *   `ParseError` from running the crash through the failure schema — and is
 *   replaced at once rather than respawned in place a second later;
 * - a worker module that cannot start fails {@link make} with
 *   {@link WorkerSpawnError} — the platform respawns it every second forever
 *   and never returns;
 * - an interrupted request (timeout, losing a race) terminates its thread,
 *   which stops even a synchronous loop, and the pool starts a replacement;
 *   the platform only asks the thread to interrupt the request, which a busy
 *   thread reads after it has finished (see {@link Options.onInterrupt});
 * - a request the thread cannot decode (the two sides run different protocol
 *   versions) fails with {@link WorkerProtocolError} — the platform's runner
 *   dies on it, taking the thread down;
 * - `.ts` worker modules load in the thread through tsx, under `tsx` and in
 *   vitest alike.
 *
 * A handler that dies (throws inside `Effect.sync`, `Effect.die`) does not
 * crash its thread: the defect comes back to the caller as a defect, like any
 * Effect defect, and the thread keeps serving.
 *
 * @example
 * ```ts
 * // protocol.ts
 * import { Schema } from "effect"
 * export class Hash extends Schema.TaggedRequest<Hash>()("Hash", {
 *   failure: Schema.Never,
 *   success: Schema.String,
 *   payload: { data: Schema.String, rounds: Schema.Number }
 * }) {}
 * export const Protocol = Schema.Union(Hash)
 *
 * // worker.ts: the module the threads run
 * import { createHash } from "node:crypto"
 * import { Effect } from "effect"
 * import { WorkerPool } from "@fiberkit/core"
 * import { Protocol } from "./protocol.js"
 *
 * WorkerPool.serve(Protocol, {
 *   Hash: ({ data, rounds }) => Effect.sync(() => {
 *     let out = data
 *     for (let i = 0; i < rounds; i++) out = createHash("sha256").update(out).digest("hex")
 *     return out
 *   })
 * })
 *
 * // main.ts
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make({ protocol: Protocol, worker: new URL("./worker.ts", import.meta.url), size: 4 })
 *   return yield* pool.execute(new Hash({ data: "abc", rounds: 100_000 }))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as WorkerThreads from "node:worker_threads"
import * as internal from "./internal/workerPool.js"
import * as errors from "./internal/workerPoolErrors.js"
import * as runner from "./internal/workerPoolRunner.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The thread running the request died (uncaught exception outside an Effect,
 * `process.exit`, out of memory, terminated). `workerId` numbers the pool's
 * threads from 0 (replacements get new ids); `cause` is the thread's error or
 * an `Error("exited with code N")`. The pool has already replaced the thread;
 * the request is not retried.
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkerCrashed: typeof errors.WorkerCrashed = errors.WorkerCrashed

/**
 * @since 0.1.0
 * @category errors
 */
export type WorkerCrashed = errors.WorkerCrashed

/**
 * A thread could not start: the module is missing, threw while loading, exited
 * before serving, or was not ready within `startupTimeout`. {@link make} fails
 * with it; after that, a replacement that fails to start fails the request
 * that waited for it (the next request tries again).
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkerSpawnError: typeof errors.WorkerSpawnError = errors.WorkerSpawnError

/**
 * @since 0.1.0
 * @category errors
 */
export type WorkerSpawnError = errors.WorkerSpawnError

/**
 * A request or its result did not fit the protocol: it could not be encoded
 * or sent, the worker does not serve it, or the worker's answer did not decode
 * with the request's success or failure schema (the two sides use different
 * protocol versions). The thread is fine and keeps serving.
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkerProtocolError: typeof errors.WorkerProtocolError = errors.WorkerProtocolError

/**
 * @since 0.1.0
 * @category errors
 */
export type WorkerProtocolError = errors.WorkerProtocolError

/**
 * Every error of a pool itself (a request's own failures come on top).
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkerPoolError = WorkerCrashed | WorkerSpawnError | WorkerProtocolError

// ---------------------------------------------------------------------------
// Main thread
// ---------------------------------------------------------------------------

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A extends Schema.TaggedRequest.All, I, R> {
  /** The protocol the worker serves, e.g. `Schema.Union(Hash, Resize)`; fixes the requests `execute` accepts. */
  readonly protocol: Schema.Schema<A, I, R>
  /**
   * The worker module, which calls {@link serve}: a `URL` (usually
   * `new URL("./worker.ts", import.meta.url)`), a `file:` URL string or a
   * path. `.ts`, `.mts`, `.cts` and `.tsx` modules are loaded through tsx.
   */
  readonly worker: URL | string
  /** Threads in the pool. Default: available cores - 1, at least 1 ({@link defaultSize}). */
  readonly size?: number | undefined
  /**
   * What interrupting a running request (a timeout, a lost race, a closed
   * scope) does to its thread:
   * - `"terminate"` (default): the thread is terminated at once, even inside
   *   a synchronous loop, and the pool starts a replacement (a thread startup:
   *   tens of ms for a `.js` module, about a second through tsx).
   * - `"cancel"`: the thread is asked to interrupt the request and is kept.
   *   Cheap, but a synchronous computation runs to its end first, and the
   *   next request given to that thread waits behind it. Use it for handlers
   *   that yield (asynchronous or chunked work).
   */
  readonly onInterrupt?: "terminate" | "cancel" | undefined
  /** How long a thread may take to become ready. Default 30 seconds. */
  readonly startupTimeout?: Duration.DurationInput | undefined
  /** V8 heap limits per thread; a thread over them dies and fails its request with {@link WorkerCrashed}. */
  readonly resourceLimits?: WorkerThreads.ResourceLimits | undefined
}

/**
 * A pool of worker threads serving protocol `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerPool<A extends Schema.TaggedRequest.All> {
  /** Threads in the pool. */
  readonly size: number
  /**
   * Runs the request on a free thread (waiting for one if all are busy) and
   * returns its decoded result. Fails with the request's declared failure,
   * or with {@link WorkerCrashed} / {@link WorkerProtocolError}, or with
   * {@link WorkerSpawnError} when the replacement thread it waited for could
   * not start. A defect in the handler comes back as a defect.
   *
   * Waiting for a free thread is interruptible, except while the pool is
   * starting a thread for it to use.
   */
  readonly execute: <Req extends A>(
    request: Req
  ) => Effect.Effect<
    Schema.WithResult.Success<Req>,
    Schema.WithResult.Failure<Req> | WorkerPoolError,
    Schema.SerializableWithResult.Context<Req>
  >
}

/**
 * The default pool size: available cores - 1 (one core stays with the event
 * loop), at least 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultSize: () => number = internal.defaultSize

/**
 * Starts the threads and returns the pool once every one is ready. Fails with
 * {@link WorkerSpawnError} when a thread cannot start. Closing the scope waits
 * for requests still running (interrupt them to stop them at once), then asks
 * each thread to exit and terminates it if it has not within 5 s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A extends Schema.TaggedRequest.All, I, R>(
  options: Options<A, I, R>
) => Effect.Effect<WorkerPool<A>, WorkerSpawnError, Scope.Scope> = internal.make

/**
 * A pool as a layer, under a tag of your own.
 *
 * @example
 * ```ts
 * class Hashers extends Context.Tag("app/Hashers")<Hashers, WorkerPool.WorkerPool<Hash>>() {}
 * const HashersLive = WorkerPool.layer(Hashers, { protocol: Protocol, worker: new URL("./worker.ts", import.meta.url) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <Self, A extends Schema.TaggedRequest.All, I, R>(
  tag: Context.Tag<Self, WorkerPool<A>>,
  options: Options<A, I, R>
): Layer.Layer<Self, WorkerSpawnError> => Layer.scoped(tag, make(options))

// ---------------------------------------------------------------------------
// Worker thread
// ---------------------------------------------------------------------------

/**
 * One handler per request of the protocol: it receives the decoded request
 * and returns an effect with exactly the request's success and failure types.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<A extends Schema.TaggedRequest.All, R = never> = {
  readonly [K in A["_tag"]]: (
    request: Extract<A, { readonly _tag: K }>
  ) => Effect.Effect<
    Schema.WithResult.Success<Extract<A, { readonly _tag: K }>>,
    Schema.WithResult.Failure<Extract<A, { readonly _tag: K }>>,
    R
  >
}

/**
 * Serves the protocol in the current worker thread: call it at the top level
 * of the worker module. It runs until the pool closes the thread. Handlers
 * that need services get them from `layer`, built once per thread; the
 * protocol's schemas themselves must not need services. A request the thread
 * cannot decode fails with `WorkerProtocolError` on the caller's side and the
 * thread keeps serving. Called outside a worker thread, it logs an error and
 * exits the process.
 *
 * @example
 * ```ts
 * WorkerPool.serve(Protocol, { Hash: ({ data }) => Effect.sync(() => sha256(data)) })
 * // with services
 * WorkerPool.serve(Protocol, { Render: (req) => Templates.render(req) }, Templates.layer)
 * ```
 *
 * @since 0.1.0
 * @category worker
 */
export const serve: {
  <A extends Schema.TaggedRequest.All, I>(protocol: Schema.Schema<A, I>, handlers: Handlers<A>): void
  <A extends Schema.TaggedRequest.All, I, R, E>(
    protocol: Schema.Schema<A, I>,
    handlers: Handlers<A, NoInfer<R>>,
    layer: Layer.Layer<R, E>
  ): void
} = runner.serve
