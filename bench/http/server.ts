/**
 * The benchmark's HTTP server, run as its own process so that the client
 * under test has a core to itself: a minimal node:http server with a small
 * fixed body and keep-alive. Prints its port on stdout.
 *
 *   tsx bench/http/server.ts [--port 0] [--bytes 128]
 */
import * as Http from "node:http"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: { port: { type: "string", default: "0" }, bytes: { type: "string", default: "128" } }
})
const body = Buffer.alloc(Number(values.bytes), "x")
const headers = { "content-type": "text/plain", "content-length": String(body.length) }
const server = Http.createServer((_req, res) => {
  res.writeHead(200, headers)
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 0
server.requestTimeout = 0
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : ""}\n`)
})
const stop = () => server.close(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
