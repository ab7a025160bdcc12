/**
 * The worker pool: Effect's platform `WorkerManager` (one backing worker per
 * thread, the request/response protocol, span propagation) under an
 * `effect/Pool` of fixed size, with what the platform's serialized pool lacks:
 * crashes surface as `WorkerCrashed` (the platform's serialized pool runs the
 * crash through the request's failure schema and reports a `ParseError`), a
 * crashed or interrupted thread is retired and replaced at once, and a thread
 * that dies before it is ready fails the pool with `WorkerSpawnError` instead
 * of being respawned every second forever.
 *
 * @internal
 */
import * as Worker from "@effect/platform/Worker"
import { isWorkerError, type WorkerError } from "@effect/platform/WorkerError"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pool from "effect/Pool"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import type * as WorkerPool from "../WorkerPool.js"
import { WorkerCrashed, WorkerProtocolError, WorkerSpawnError } from "./workerPoolErrors.js"

/** The `.mjs` entry that registers tsx in the thread, then imports the worker module. */
const tsxEntry = new URL("./tsxWorker.mjs", import.meta.url)

const typeScriptFile = /\.[cm]?tsx?$/

/** @internal */
export const defaultSize = (): number => Math.max(1, Os.availableParallelism() - 1)

/** @internal */
export const resolveModule = (worker: URL | string): URL =>
  worker instanceof URL
    ? worker
    : /^[a-z][a-z\d+.-]*:/i.test(worker) && !Path.isAbsolute(worker)
    ? new URL(worker)
    : pathToFileURL(Path.resolve(worker))

const loaderFlag = /^(--require|-r|--import|--loader|--experimental-loader)(?:=(.*))?$/
const tsxModule = /(^|[/\\])tsx([/\\]|$)/

/**
 * The spawning process's `execArgv` without tsx's own loader flags (which
 * `tsx script.ts` adds and threads inherit): the shim registers tsx itself,
 * and registering it twice makes every import in the thread pay for both.
 *
 * @internal
 */
export const withoutTsxLoader = (argv: ReadonlyArray<string>): Array<string> => {
  const kept: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    const flag = loaderFlag.exec(arg)
    if (flag !== null) {
      const inline = flag[2]
      const value = inline ?? argv[i + 1]
      if (value !== undefined && tsxModule.test(value)) {
        if (inline === undefined) i++
        continue
      }
    }
    kept.push(arg)
  }
  return kept
}

interface Spec {
  readonly module: URL
  readonly viaTsx: boolean
  readonly execArgv: Array<string> | undefined
  readonly resourceLimits: WorkerThreads.ResourceLimits | undefined
}

/**
 * The thread behind one pool member. The platform respawns a member's thread
 * in place when it dies while idle (after 1 s), so `thread` is whichever
 * thread currently serves the member.
 */
class Slot {
  thread: WorkerThreads.Worker | undefined = undefined
  threadId: number | undefined = undefined

  constructor(
    readonly spec: Spec,
    readonly startup: Deferred.Deferred<never, WorkerSpawnError>
  ) {}

  spawn(id: number): WorkerThreads.Worker {
    const spec = this.spec
    const name = `fiberkit-worker-${id}`
    let thread: WorkerThreads.Worker
    try {
      thread = spec.viaTsx
        ? new WorkerThreads.Worker(tsxEntry, {
          name,
          workerData: { fiberkitWorkerModule: spec.module.href },
          execArgv: spec.execArgv,
          resourceLimits: spec.resourceLimits
        })
        : new WorkerThreads.Worker(spec.module, { name, resourceLimits: spec.resourceLimits })
    } catch (cause) {
      this.failStartup(cause)
      throw cause
    }
    this.thread = thread
    this.threadId = thread.threadId
    // The runner's first message says it is listening; a thread that errors
    // or exits before that never started (missing module, throw at import).
    let ready = false
    thread.once("message", () => {
      ready = true
    })
    thread.on("error", (cause) => {
      if (!ready) this.failStartup(cause)
    })
    thread.once("exit", (code) => {
      if (!ready) this.failStartup(new Error(`the thread exited with code ${code} before it was ready`))
    })
    return thread
  }

  failStartup(cause: unknown): void {
    Deferred.unsafeDone(this.startup, Exit.fail(new WorkerSpawnError({ worker: this.spec.module.href, cause })))
  }

  terminate(): void {
    // The returned promise resolves with the exit code once the thread is
    // gone, which the platform's exit listener already observes.
    if (this.thread !== undefined) void this.thread.terminate()
  }
}

class Member {
  constructor(
    readonly backing: Worker.Worker<unknown, unknown, unknown>,
    readonly slot: Slot
  ) {}
}

type Request = Schema.TaggedRequest.All

class PoolImpl<A extends Request> implements WorkerPool.WorkerPool<A> {
  constructor(
    readonly size: number,
    readonly pool: Pool.Pool<Member, WorkerSpawnError>,
    readonly terminateOnInterrupt: boolean
  ) {}

  readonly execute = <Req extends A>(request: Req): Effect.Effect<
    Schema.WithResult.Success<Req>,
    Schema.WithResult.Failure<Req> | WorkerPool.WorkerPoolError,
    Schema.SerializableWithResult.Context<Req>
  > =>
    Effect.scoped(Effect.flatMap(this.pool.get, (member) => this.run(member, request))) as Effect.Effect<
      Schema.WithResult.Success<Req>,
      Schema.WithResult.Failure<Req> | WorkerPool.WorkerPoolError,
      Schema.SerializableWithResult.Context<Req>
    >

  run(member: Member, request: Request): Effect.Effect<unknown, unknown, unknown> {
    const tag = request._tag
    return Effect.flatMap(
      Effect.mapError(
        Schema.serialize(request),
        (cause) => new WorkerProtocolError({ request: tag, reason: "encode", cause })
      ),
      (payload) => {
        let job = member.backing.executeEffect(payload)
        if (this.terminateOnInterrupt) job = Effect.onInterrupt(job, () => this.retire(member))
        return job.pipe(
          Effect.catchAll((error) =>
            isWorkerError(error) ? this.workerFailed(member, tag, error) : decodeFailure(request, error)
          ),
          Effect.flatMap((value) => decodeSuccess(request, value))
        )
      }
    )
  }

  /** Stops the thread now (even mid-computation) and has the pool replace it. */
  retire(member: Member): Effect.Effect<void> {
    return Effect.zipRight(Effect.sync(() => member.slot.terminate()), this.pool.invalidate(member))
  }

  workerFailed(member: Member, tag: string, error: WorkerError): Effect.Effect<never, WorkerCrashed | WorkerProtocolError> {
    switch (error.reason) {
      case "encode":
      case "send":
        return Effect.fail(new WorkerProtocolError({ request: tag, reason: "encode", cause: error.cause }))
      case "decode":
        return Effect.fail(new WorkerProtocolError({ request: tag, reason: "decode", cause: error.cause }))
      case "spawn":
      case "unknown":
        // The thread errored or exited: every request on it is lost. The
        // platform would respawn the same member after 1 s; invalidating it
        // instead replaces it as soon as this request lets go of it.
        return Effect.zipRight(
          this.retire(member),
          Effect.fail(
            new WorkerCrashed({
              workerId: member.backing.id,
              threadId: member.slot.threadId,
              request: tag,
              cause: error.cause
            })
          )
        )
    }
  }
}

// `TaggedRequest.All` includes requests whose failure is `never`, which the
// invariant schema types keep from matching `WithResult.Any`.
const decodeSuccess = (request: Request, value: unknown): Effect.Effect<unknown, WorkerProtocolError, unknown> =>
  Effect.mapError(
    Schema.deserializeSuccess(request as Schema.WithResult.Any, value),
    (cause) => new WorkerProtocolError({ request: request._tag, reason: "decode", cause })
  )

const decodeFailure = (request: Request, value: unknown): Effect.Effect<never, unknown, unknown> =>
  Effect.matchEffect(Schema.deserializeFailure(request as Schema.WithResult.Any, value), {
    onFailure: (cause) => Effect.fail(new WorkerProtocolError({ request: request._tag, reason: "decode", cause })),
    onSuccess: Effect.fail
  })

/** @internal */
export const make = <A extends Request, I, R>(
  options: WorkerPool.Options<A, I, R>
): Effect.Effect<WorkerPool.WorkerPool<A>, WorkerSpawnError, Scope.Scope> =>
  Effect.gen(function*() {
    const size = options.size ?? defaultSize()
    if (!Number.isInteger(size) || size < 1) {
      return yield* Effect.dieMessage(`WorkerPool size must be a positive integer, got ${size}`)
    }
    const module = resolveModule(options.worker)
    const viaTsx = typeScriptFile.test(module.pathname)
    const spec: Spec = {
      module,
      viaTsx,
      execArgv: viaTsx ? withoutTsxLoader(process.execArgv) : undefined,
      resourceLimits: options.resourceLimits
    }
    const startupTimeout = Duration.decode(options.startupTimeout ?? "30 seconds")
    const manager = yield* Effect.provide(Worker.WorkerManager, NodeWorker.layerManager)

    const acquire = Effect.gen(function*() {
      const startup = yield* Deferred.make<never, WorkerSpawnError>()
      const slot = new Slot(spec, startup)
      const backing = yield* manager.spawn<unknown, unknown, unknown>({}).pipe(
        // The spawner is read when this member is created and kept for its
        // in-place respawns, so each member gets its own `Slot`.
        Effect.provideService(Worker.Spawner, (id: number) => slot.spawn(id)),
        Effect.mapError((cause) => new WorkerSpawnError({ worker: module.href, cause })),
        Effect.raceFirst(Deferred.await(startup)),
        Effect.timeoutFail({
          duration: startupTimeout,
          onTimeout: () =>
            new WorkerSpawnError({
              worker: module.href,
              cause: new Error(`the thread was not ready after ${Duration.format(startupTimeout)}`)
            })
        }),
        // A thread still loading would only read the platform's close message
        // once loaded: stop it now.
        Effect.onError(() => Effect.sync(() => slot.terminate()))
      )
      return new Member(backing, slot)
    })

    const pool = yield* Pool.make({ acquire, size, concurrency: 1 })
    // Every thread is up (or the first spawn failure is reported) before the
    // pool is handed out, so the first requests do not pay for startup.
    yield* Effect.scoped(Effect.replicateEffect(pool.get, size, { concurrency: "unbounded", discard: true }))
    return new PoolImpl<A>(size, pool, (options.onInterrupt ?? "terminate") === "terminate")
  })
