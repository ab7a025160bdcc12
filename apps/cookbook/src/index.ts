/**
 * The cookbook's registry: every pattern, in reading order.
 *
 * @since 0.1.0
 */
import type { Pattern } from "./Pattern.js"
import * as asyncGenerator from "./patterns/async-generator.js"
import * as chunkedProcessing from "./patterns/chunked-processing.js"
import * as batchPause from "./patterns/batch-pause.js"
import * as condition from "./patterns/condition.js"
import * as config from "./patterns/config.js"
import * as contextManager from "./patterns/context-manager.js"
import * as createTask from "./patterns/create-task.js"
import * as event from "./patterns/event.js"
import * as gatherFailFast from "./patterns/gather-fail-fast.js"
import * as gatherReturnExceptions from "./patterns/gather-return-exceptions.js"
import * as lock from "./patterns/lock.js"
import * as pitfallBlocking from "./patterns/pitfall-blocking.js"
import * as pitfallForgettingAwait from "./patterns/pitfall-forgetting-await.js"
import * as pitfallLostErrors from "./patterns/pitfall-lost-errors.js"
import * as pitfallResourceLeaks from "./patterns/pitfall-resource-leaks.js"
import * as processPool from "./patterns/process-pool.js"
import * as queue from "./patterns/queue.js"
import * as rateLimit from "./patterns/rate-limit.js"
import * as realtimeCollector from "./patterns/realtime-collector.js"
import * as retryBackoff from "./patterns/retry-backoff.js"
import * as semaphore from "./patterns/semaphore.js"
import * as sequentialVsConcurrent from "./patterns/sequential-vs-concurrent.js"
import * as sessionReuse from "./patterns/session-reuse.js"
import * as taskGroup from "./patterns/task-group.js"
import * as testing from "./patterns/testing.js"
import * as timed from "./patterns/timed.js"
import * as waitFirstCompleted from "./patterns/wait-first-completed.js"
import * as waitFor from "./patterns/wait-for.js"

/**
 * Every pattern, in the order the README lists them.
 *
 * @since 0.1.0
 * @category registry
 */
export const patterns: ReadonlyArray<Pattern> = [
  gatherFailFast.pattern,
  gatherReturnExceptions.pattern,
  createTask.pattern,
  taskGroup.pattern,
  waitFirstCompleted.pattern,
  waitFor.pattern,
  semaphore.pattern,
  rateLimit.pattern,
  queue.pattern,
  lock.pattern,
  event.pattern,
  condition.pattern,
  contextManager.pattern,
  asyncGenerator.pattern,
  processPool.pattern,
  retryBackoff.pattern,
  batchPause.pattern,
  chunkedProcessing.pattern,
  realtimeCollector.pattern,
  config.pattern,
  timed.pattern,
  testing.pattern,
  sequentialVsConcurrent.pattern,
  sessionReuse.pattern,
  pitfallBlocking.pattern,
  pitfallForgettingAwait.pattern,
  pitfallLostErrors.pattern,
  pitfallResourceLeaks.pattern
]
