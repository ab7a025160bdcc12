export { default as pLimit } from "p-limit"
export { default as PQueue } from "p-queue"
