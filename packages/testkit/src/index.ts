/**
 * `@fiberkit/testkit`: a real local HTTP server with fault injection and a
 * deterministic synthetic website generator.
 *
 * @since 0.1.0
 */
