/**
 * `@fiberkit/testkit`: a real local HTTP server with fault injection and a
 * deterministic synthetic website generator.
 *
 * @since 0.1.0
 */

/** The route and reply model of the test server: routes, replies, latency and faults as plain data. */
export * as Route from "./Route.js"

/** A real HTTP server on 127.0.0.1 with scripted replies, fault injection and a request log. */
export * as TestServer from "./TestServer.js"

/** Ready-made replies and routes: sequences, Retry-After, redirects, network faults, encodings, hostile bodies. */
export * as Faults from "./Faults.js"

/** A deterministic website generated from a seed, with the ground truth a crawl is checked against. */
export * as SyntheticSite from "./SyntheticSite.js"

/** A tracer that records every span, for tests that assert on tracing. @since 0.1.0 */
export * as TestTracer from "./TestTracer.js"

// `DbHarness` (run a suite on SQLite and a real Postgres) imports vitest, so it is not re-exported here
// (the index is used outside tests too): import it as `@fiberkit/testkit/DbHarness`.

/** Seeded pseudo-random numbers (mulberry32, MurmurHash3 mixing) for reproducible test data. @since 0.1.0 */
export * as SeededRandom from "./SeededRandom.js"

/** A TypeScript CLI as a separate process (`node --import tsx`), with its output and exit. @since 0.1.0 */
export * as ChildProcess from "./ChildProcess.js"
