/**
 * A tracer that records every span it makes, for tests that assert on
 * tracing: how many spans, their names, attributes, parents and how they
 * ended. Effect's default tracer exports nothing, so nothing about spans can
 * be observed without one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestTracer } from "@fiberkit/testkit"
 *
 * const recorder = TestTracer.make()
 * yield* program.pipe(Effect.withTracer(recorder.tracer))
 * expect(recorder.named("http.client GET")).toHaveLength(1)
 * ```
 *
 * @since 0.1.0
 */
import type * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * One span as recorded. `exit` is set when the span ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedSpan {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly attributes: ReadonlyMap<string, unknown>
  readonly exit: Exit.Exit<unknown, unknown> | undefined
}

/**
 * A recording tracer and what it recorded so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestTracer {
  readonly tracer: Tracer.Tracer
  /** Every span made, in start order. */
  readonly spans: ReadonlyArray<RecordedSpan>
  /** The spans with this name. */
  readonly named: (name: string) => ReadonlyArray<RecordedSpan>
  /** Forgets what was recorded. */
  readonly clear: () => void
}

interface Mutable {
  name: string
  kind: Tracer.SpanKind
  parent: Option.Option<Tracer.AnySpan>
  attributes: Map<string, unknown>
  exit: Exit.Exit<unknown, unknown> | undefined
}

/**
 * Makes a recording tracer. Install it with `Effect.withTracer(t.tracer)` or
 * `Layer.setTracer(t.tracer)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): TestTracer => {
  const spans: Array<Mutable> = []
  let ids = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const record: Mutable = { name, kind, parent, attributes: new Map(), exit: undefined }
      spans.push(record)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(++ids),
        traceId: "test-trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: record.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => {
          record.exit = exit
        },
        attribute: (key, value) => {
          record.attributes.set(key, value)
        },
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  return {
    tracer,
    spans,
    named: (name) => spans.filter((span) => span.name === name),
    clear: () => {
      spans.length = 0
    }
  }
}
