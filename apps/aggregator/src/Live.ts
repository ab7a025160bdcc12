/**
 * `Live`: the aggregates of the current tick, in memory, for readers that
 * cannot wait for the database — the latest aggregate per symbol (what
 * `GET /api/prices/:symbol` answers from) and a broadcast of every new
 * aggregate (what `GET /api/stream` sends).
 *
 * The broadcast is a sliding `PubSub`: when a subscriber falls more than
 * `capacity` aggregates behind, its oldest unread aggregates are dropped.
 * Publishing therefore never waits for a reader, so a slow or stalled SSE
 * client can never hold up the pipeline.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Aggregate } from "./Model.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Record these aggregates as the latest of their symbols (unless an aggregate of a later tick is already there) and broadcast them. Never waits. */
  readonly publish: (aggregates: ReadonlyArray<Aggregate>) => Effect.Effect<void>
  /** The latest aggregate published for `symbol`. */
  readonly latest: (symbol: string) => Effect.Effect<Option.Option<Aggregate>>
  /** The latest aggregate of every symbol published so far, sorted by symbol. */
  readonly snapshot: Effect.Effect<ReadonlyArray<Aggregate>>
  /** The latest tick time (epoch ms) of any published aggregate. */
  readonly lastTick: Effect.Effect<Option.Option<number>>
  /** A queue of every aggregate published from now on, until the scope closes. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Aggregate>, never, Scope.Scope>
  /** How many subscriptions are open. */
  readonly subscribers: Effect.Effect<number>
}

/**
 * The live aggregates service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Live extends Context.Tag("@fiberkit/aggregator/Live")<Live, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How many aggregates a subscriber may fall behind before its oldest are dropped. Default 1024. */
  readonly capacity?: number | undefined
}

const subscribersGauge = Metric.gauge("aggregator_live_subscribers", {
  description: "Open subscriptions to live aggregates (SSE clients)"
})
const publishedCounter = Metric.counter("aggregator_live_published", {
  description: "Aggregates published to live subscribers",
  incremental: true
})

/**
 * Makes a `Live` service; its broadcast shuts down when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const capacity = Math.max(1, Math.floor(options.capacity ?? 1024))
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<Aggregate>(capacity), PubSub.shutdown)
    // Plain mutable state: every access is a synchronous step inside one Effect.sync, so it cannot interleave.
    const latest = new Map<string, Aggregate>()
    let lastTick: number | undefined
    let subscribers = 0

    const publish = (aggregates: ReadonlyArray<Aggregate>): Effect.Effect<void> =>
      aggregates.length === 0 ? Effect.void : Effect.suspend(() => {
        for (const aggregate of aggregates) {
          const previous = latest.get(aggregate.symbol)
          if (previous === undefined || previous.tick <= aggregate.tick) latest.set(aggregate.symbol, aggregate)
          if (lastTick === undefined || aggregate.tick > lastTick) lastTick = aggregate.tick
        }
        return PubSub.publishAll(pubsub, aggregates).pipe(
          Effect.zipRight(Metric.incrementBy(publishedCounter, aggregates.length))
        )
      })

    // Counted before subscribing so that the count drops only after the subscription is gone (finalizers run in reverse).
    const subscribe: Effect.Effect<Queue.Dequeue<Aggregate>, never, Scope.Scope> = Effect.zipRight(
      Effect.acquireRelease(
        Effect.sync(() => ++subscribers).pipe(Effect.tap((n) => Metric.set(subscribersGauge, n))),
        () => Effect.sync(() => --subscribers).pipe(Effect.flatMap((n) => Metric.set(subscribersGauge, n)))
      ),
      PubSub.subscribe(pubsub)
    )

    return {
      publish,
      latest: (symbol) => Effect.sync(() => Option.fromNullable(latest.get(symbol))),
      snapshot: Effect.sync(() =>
        Array.from(latest.values()).sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
      ),
      lastTick: Effect.sync(() => Option.fromNullable(lastTick)),
      subscribe,
      subscribers: Effect.sync(() => subscribers)
    }
  })

/**
 * A `Live` layer with the given options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: Options = {}): Layer.Layer<Live> => Layer.scoped(Live, make(options))

/**
 * A `Live` layer with the default capacity (1024).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Live> = layerWith()
