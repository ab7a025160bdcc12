/**
 * The API bench's baseline: a bare `node:http` server answering
 * `GET /api/prices/BTCUSDT` with a fixed body (the real server's answer,
 * read from `--body`) and its content type (`--content-type`); 404 for anything else.
 * Prints the port on stdout once listening; runs until SIGTERM.
 *
 *   node --import tsx bench/aggregator/bare-server.ts --body <file> [--content-type application/json]
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: { body: { type: "string" }, "content-type": { type: "string", default: "application/json" } }
})
if (values.body === undefined) {
  process.stderr.write("bare-server: --body <file> is required\n")
  process.exit(2)
}
const body = Fs.readFileSync(values.body)
const headers = { "content-type": values["content-type"], "content-length": String(body.length) }

const server = Http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/api/prices/BTCUSDT") {
    response.writeHead(200, headers)
    response.end(body)
  } else {
    response.writeHead(404, { "content-type": "application/json" })
    response.end("{\"error\":\"not found\"}")
  }
})
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
process.once("SIGTERM", () => {
  server.close()
  server.closeAllConnections()
})
