// Re-exports the peer tools so benchmarks import them from one place.
export { default as pLimit } from "p-limit"
export { default as PQueue } from "p-queue"
