/**
 * The worker-thread side of `WorkerPool`: the platform's runner on Node's
 * `parentPort`, launched as the thread's main program.
 *
 * It does the schema work itself rather than through the platform's
 * `WorkerRunner.layerSerialized`, whose request decoding happens outside the
 * part of the runner that reports errors: a request the thread cannot decode
 * (a protocol version mismatch) kills the whole thread there. Here it fails
 * only that request, with a `decode` error the pool reports as
 * `WorkerProtocolError`. Handler effects are also checked for their context.
 *
 * @internal
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { WorkerError } from "@effect/platform/WorkerError"
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as WorkerPool from "../WorkerPool.js"

type Handler<R> = (request: Schema.TaggedRequest.All) => Effect.Effect<unknown, unknown, R>

const encodeError = (cause: unknown) => new WorkerError({ reason: "encode", cause })

/** Runs the request's handler and encodes its outcome with the request's own schemas. */
const handle = <R>(handler: Handler<R>, request: Schema.TaggedRequest.All): Effect.Effect<unknown, unknown, R> => {
  // The result schemas of a request served here need no services, like the
  // protocol (`serve` takes a `Schema<A, I>`); `TaggedRequest.All` does not
  // say so.
  const withResult = request as unknown as Schema.WithResult<unknown, unknown, unknown, unknown, never>
  return handler(request).pipe(
    Effect.catchAll((error) =>
      Effect.flatMap(Effect.mapError(Schema.serializeFailure(withResult, error), encodeError), Effect.fail)
    ),
    Effect.flatMap((value) => Effect.mapError(Schema.serializeSuccess(withResult, value), encodeError))
  )
}

/** @internal */
export const serve = <A extends Schema.TaggedRequest.All, I, R, E>(
  protocol: Schema.Schema<A, I>,
  handlers: WorkerPool.Handlers<A, R>,
  layer?: Layer.Layer<R, E>
): void => {
  const decode = Schema.decodeUnknown(protocol)
  // Indexing the mapped handler type with a request's tag gives a union of
  // functions TypeScript cannot call; each one takes the request of its tag.
  const table = handlers as unknown as Readonly<Record<string, Handler<R> | undefined>>
  const process = (message: unknown): Effect.Effect<unknown, unknown, R> =>
    Effect.flatMap(
      Effect.mapError(decode(message), (cause) => new WorkerError({ reason: "decode", cause })),
      (request) => {
        const handler = table[request._tag]
        return handler === undefined
          ? Effect.fail(
            new WorkerError({ reason: "decode", cause: new Error(`the worker has no handler for "${request._tag}"`) })
          )
          : handle(handler, request)
      }
    )
  const runner = WorkerRunner.layer(process)
  const withServices = layer === undefined
    // without a layer, the overloads of `WorkerPool.serve` make `R` never
    ? runner as Layer.Layer<never, WorkerError, WorkerRunner.PlatformRunner>
    : Layer.provide(runner, layer)
  NodeRuntime.runMain(WorkerRunner.launch(Layer.provide(withServices, NodeWorkerRunner.layer)))
}
