/**
 * The crawl loop: one claimer fills a bounded prefetch queue from the
 * frontier, N workers turn leases into completions, one writer commits
 * completions in group commits. It knows nothing about HTTP or HTML: `visit`
 * does the work for one lease.
 *
 * Memory is bounded by the two queues (prefetch: 2 × workers, completions:
 * 4 × workers); the frontier itself stays in SQL.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Frontier from "../Frontier.js"
import type * as Page from "../Page.js"

/** @internal */
export interface LoopOptions {
  readonly workers: number
  readonly leaseMs: number
  /** Stop once this many pages (Done + Failed) are committed. */
  readonly maxPages: number | undefined
  /** How long in-flight pages may take to finish after a stop request. */
  readonly graceMs: number
  /** Completions per transaction, at most. */
  readonly batch: number
  /** How long the writer waits for more completions before committing a batch. */
  readonly lingerMs: number
  /** Written at the start of every lease token (the worker's id), so a dead worker's leases can be found. */
  readonly owner?: string | undefined
  /** How often {@link LoopHooks.heartbeat} runs; default a third of `leaseMs`. */
  readonly heartbeatMs?: number | undefined
}

/** What the loop reports as it goes (for progress and output). @internal */
export interface LoopHooks<E, R> {
  /** After each commit, with the completions that committed (lost leases left out). */
  readonly committed: (completions: ReadonlyArray<Page.Completion>) => Effect.Effect<void, E, R>
  /**
   * Every `heartbeatMs` while the loop runs, with the tokens of every lease
   * claimed and not yet committed (to renew them). A failure ends the loop.
   */
  readonly heartbeat?: ((tokens: ReadonlyArray<string>) => Effect.Effect<void, E, R>) | undefined
}

/** @internal */
export interface LoopResult {
  /** `true` when a stop request ended the crawl before the frontier was finished. */
  readonly stopped: boolean
  /** `true` when `maxPages` ended it. */
  readonly limitReached: boolean
  /** Leases whose completion was refused because the lease had been lost. */
  readonly lostLeases: number
}

/** Live counters, read by the progress display. @internal */
export class Counters {
  /** Claimed and not yet committed. */
  outstanding = 0
  /** Leases in workers' hands right now. */
  inFlight = 0
  /** Done + Failed committed. */
  pages = 0
}

/**
 * A wake-up call for one waiting fiber, without the fibers a race of
 * `Queue.take` and `Effect.sleep` would fork on every wait (the claimer waits
 * once per commit). A notification with nobody waiting is kept for the next
 * wait. The timeout is real time: it only bounds how late a re-check comes.
 */
class Signal {
  private pending = false
  private waiter: (() => void) | undefined = undefined

  notify(): void {
    const waiter = this.waiter
    if (waiter === undefined) {
      this.pending = true
      return
    }
    this.waiter = undefined
    waiter()
  }

  wait(timeoutMs: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.pending) {
        this.pending = false
        return resume(Effect.void)
      }
      const timer = setTimeout(() => {
        this.waiter = undefined
        resume(Effect.void)
      }, timeoutMs)
      this.waiter = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      return Effect.sync(() => {
        clearTimeout(timer)
        this.waiter = undefined
      })
    })
  }
}

/** @internal */
export const run = <E, R, E2, R2>(
  frontier: Frontier.Service,
  visit: (lease: Page.Lease) => Effect.Effect<Page.Completion, E, R>,
  hooks: LoopHooks<E2, R2>,
  options: LoopOptions,
  stop: Deferred.Deferred<void>,
  counters: Counters
): Effect.Effect<LoopResult, E | E2 | Frontier.FrontierFailure, R | R2> =>
  Effect.gen(function*() {
    const prefetch = yield* Queue.bounded<Page.Lease>(options.workers * 2)
    const completions = yield* Queue.bounded<Page.Completion>(options.workers * 4)
    /** Woken after each commit (new links may have become claimable) and on a stop request. */
    const wake = new Signal()
    const stopWatcher = yield* Effect.fork(Effect.zipRight(Deferred.await(stop), Effect.sync(() => wake.notify())))
    /** Every lease claimed and not committed, to give them back on a stop. */
    const held = new Map<string, Page.Lease>()
    let lostLeases = 0
    let limitReached = false

    // -- claimer ----------------------------------------------------------
    const claimer: Effect.Effect<"finished" | "stopped" | "limit", Frontier.FrontierFailure> = Effect.gen(function*() {
      while (true) {
        if (yield* Deferred.isDone(stop)) return "stopped" as const
        if (options.maxPages !== undefined && counters.pages >= options.maxPages) return "limit" as const
        const queued = yield* Queue.size(prefetch)
        let room = options.workers * 2 - queued
        if (options.maxPages !== undefined) {
          room = Math.min(room, options.maxPages - counters.pages - counters.outstanding)
        }
        // Claim in batches (a claim costs about the same for 1 row as for 64):
        // refill once half the buffer is free, or at once when workers may starve.
        if (room > 0 && (room >= options.workers || queued < options.workers / 2 || counters.outstanding === 0)) {
          const leases = yield* frontier.claim(Math.min(room, options.batch), options.leaseMs, options.owner)
          if (leases.length > 0) {
            counters.outstanding += leases.length
            for (const lease of leases) held.set(lease.token, lease)
            yield* Queue.offerAll(prefetch, leases)
            continue
          }
          if (counters.outstanding === 0) {
            const state = yield* frontier.finished()
            if (state.finished) return "finished" as const
            // Pending entries exist but are not eligible yet (postponed), or other
            // workers hold leases (their pages will bring new links): look again
            // when the first one is eligible, and at least every quarter second.
            const now = yield* Clock.currentTimeMillis
            const until = state.nextEligibleAt ?? now + 1000
            yield* Effect.raceFirst(
              Effect.sleep(Duration.millis(Math.min(250, Math.max(10, until - now)))),
              Deferred.await(stop)
            )
            continue
          }
        }
        // Work is out: wait for a commit (new links) or a stop, checking again at least every second.
        yield* wake.wait(1000)
      }
    })

    // -- workers ----------------------------------------------------------
    const worker = Effect.forever(
      Effect.flatMap(Queue.take(prefetch), (lease) => {
        counters.inFlight++
        return visit(lease).pipe(
          Effect.ensuring(Effect.sync(() => {
            counters.inFlight--
          })),
          Effect.flatMap((completion) => Queue.offer(completions, completion))
        )
      })
    )

    // -- writer -----------------------------------------------------------
    const commit = (batch: ReadonlyArray<Page.Completion>) =>
      Effect.gen(function*() {
        const results = (yield* frontier.complete(batch)).committed
        const committed: Array<Page.Completion> = []
        for (let i = 0; i < batch.length; i++) {
          const completion = batch[i]
          if (completion === undefined) continue
          held.delete(completion.lease.token)
          if (results[i] === true) {
            committed.push(completion)
            if (completion._tag === "Done" || completion._tag === "Failed") counters.pages++
          } else {
            lostLeases++
          }
        }
        counters.outstanding -= batch.length
        if (committed.length > 0) yield* hooks.committed(committed)
        wake.notify()
      })
    // Group commit: after the first completion, linger briefly so that the
    // pages finishing meanwhile share its transaction (one commit costs about
    // the same for 1 page as for 50).
    const writer = Effect.forever(
      Effect.gen(function*() {
        const first = yield* Queue.take(completions)
        if (options.lingerMs > 0) yield* Effect.sleep(Duration.millis(options.lingerMs))
        const more = yield* Queue.takeUpTo(completions, options.batch - 1)
        yield* commit([first, ...more])
      })
    )

    // -- heartbeat --------------------------------------------------------
    // Leases are renewed long before they run out (a third of the lease by
    // default), so a live worker never loses one to a slow page.
    const beat = hooks.heartbeat
    const heartbeat = beat === undefined ? Effect.never : Effect.forever(Effect.zipRight(
      Effect.sleep(Duration.millis(options.heartbeatMs ?? Math.max(1, Math.floor(options.leaseMs / 3)))),
      Effect.suspend(() => beat(Array.from(held.keys())))
    ))

    const workerFibers = yield* Effect.forkAll(Array.from({ length: options.workers }, () => worker))
    const writerFiber = yield* Effect.fork(writer)
    const heartbeatFiber = yield* Effect.fork(heartbeat)
    const failures = Effect.raceFirst(
      Effect.raceFirst(Fiber.join(workerFibers), Fiber.join(writerFiber)),
      Fiber.join(heartbeatFiber)
    )

    // The claimer ends the crawl; a worker or writer failure ends it too.
    const outcome = yield* Effect.raceFirst(claimer, Effect.flatMap(failures, () => Effect.never))

    if (outcome === "limit") limitReached = true
    // Let what was claimed finish: immediately when the frontier is finished or the limit was reached
    // (nothing is outstanding beyond in-flight work), within the grace period after a stop request.
    const drained = Effect.gen(function*() {
      while (counters.outstanding > 0) yield* wake.wait(50)
    })
    if (outcome === "stopped") {
      // Queued leases were never started: hand them back at once.
      const queued = yield* Queue.takeAll(prefetch)
      const tokens = Array.from(queued, (lease) => lease.token)
      for (const token of tokens) held.delete(token)
      counters.outstanding -= tokens.length
      if (tokens.length > 0) yield* frontier.release(tokens)
      yield* drained.pipe(Effect.timeoutOption(Duration.millis(options.graceMs)))
    } else {
      yield* drained
    }
    yield* Fiber.interrupt(workerFibers)
    // Commit whatever the workers handed over, then stop the writer.
    const rest = yield* Queue.takeAll(completions)
    if (rest.length > 0) yield* commit(Array.from(rest))
    yield* Fiber.interrupt(writerFiber)
    yield* Fiber.interrupt(stopWatcher)
    // A heartbeat that failed while the last pages drained still ends the loop with its error.
    const beatExit = yield* Fiber.interrupt(heartbeatFiber)
    if (Exit.isFailure(beatExit) && !Cause.isInterruptedOnly(beatExit.cause)) return yield* Effect.failCause(beatExit.cause)
    // In-flight pages interrupted after the grace period: their leases go back.
    if (held.size > 0) {
      const tokens = Array.from(held.keys())
      held.clear()
      counters.outstanding = 0
      yield* frontier.release(tokens)
    }
    return { stopped: outcome === "stopped", limitReached, lostLeases }
  })
