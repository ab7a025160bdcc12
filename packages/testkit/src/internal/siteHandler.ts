/**
 * The request handler of the synthetic site: decides what a path is (page,
 * URL variant, redirect, robots.txt, sitemap, asset, search, calendar trap or
 * nothing) and renders the reply on the spot.
 *
 * Absolute URLs in replies use the request's `Host` header, so one site can be
 * mounted on any port without being regenerated.
 *
 * @internal
 */
import type * as Route from "../Route.js"
import * as Assets from "./siteAssets.js"
import * as Graph from "./siteGraph.js"
import * as Html from "./siteHtml.js"
import * as Robots from "./siteRobots.js"
import * as Sitemap from "./siteSitemap.js"

const htmlHeaders = { "content-type": "text/html; charset=utf-8" } as const
const textHeaders = { "content-type": "text/plain; charset=utf-8" } as const
const allowHeaders = { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" } as const

/** `host[:port]` or `[v6][:port]`; anything else cannot be written into a URL safely. */
const validHost = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

const unreserved = /[A-Za-z0-9\-._~]/

/**
 * Decodes percent-encoded unreserved characters (`%70` → `p`, `%7E` → `~`),
 * which RFC 3986 §6.2.2.2 says are equivalent to the characters themselves.
 * Other escapes stay as they are.
 */
export const decodeUnreserved = (path: string): string =>
  path.indexOf("%") < 0
    ? path
    : path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16))
      return unreserved.test(c) ? c : escape
    })

const counter = (prefix: string, path: string, count: number): number | undefined => {
  if (!path.startsWith(prefix)) return undefined
  const digits = path.slice(prefix.length)
  if (!/^(?:0|[1-9]\d{0,6})$/.test(digits)) return undefined
  const k = Number(digits)
  return k < count ? k : undefined
}

export const make = (
  graph: Graph.Graph,
  sitemaps: Sitemap.Sitemaps
): (request: Route.IncomingRequest) => Route.Reply => {
  const o = graph.options
  const latency: { readonly latency?: Route.Latency } = o.latency === 0 ? {} : { latency: o.latency }
  let corpus: Html.Corpus | undefined
  const text = (): Html.Corpus => (corpus ??= Html.corpus(graph.seed, o.pageBytes))
  const reply = (status: number, headers: Route.Reply["headers"], body: Route.Body): Route.Reply => ({
    status,
    headers,
    body,
    ...latency
  })
  const redirect = (status: 301 | 302, location: string): Route.Reply =>
    reply(status, { ...textHeaders, location }, `Moved to ${location}\n`)
  const notFound = (path: string): Route.Reply => reply(404, htmlHeaders, Html.notFound(path))

  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return reply(405, allowHeaders, "Only GET and HEAD are supported.\n")
    }
    const hostHeader = request.headers.host
    const host = typeof hostHeader === "string" ? hostHeader : ""
    if (!validHost.test(host)) {
      return reply(400, textHeaders, "The synthetic site needs a valid Host header to write absolute links.\n")
    }
    const origin = `http://${host}`
    const q = request.path.indexOf("?")
    const path = decodeUnreserved(q < 0 ? request.path : request.path.slice(0, q))

    const id = path === "/index.html" ? 0 : Graph.parsePagePath(graph, path)
    if (id !== undefined) {
      return reply(200, htmlHeaders, Html.page(graph, text(), Graph.pageSpec(graph, id), host))
    }
    if (path === "/robots.txt") {
      return o.robots ? reply(200, textHeaders, Robots.render(o, origin)) : notFound(path)
    }
    if (o.sitemaps) {
      const file = sitemaps.file(path, origin)
      if (file !== undefined) return reply(200, { "content-type": file.contentType }, file.body)
    }
    if (o.redirects) {
      if (path.length > 1 && path.endsWith("/")) {
        const target = Graph.parsePagePath(graph, path.slice(0, -1))
        if (target !== undefined) return redirect(301, Graph.pagePath(graph, target))
      }
      const go = counter("/go/", path, graph.redirectCount)
      if (go !== undefined) return redirect(301, Graph.pagePath(graph, Graph.redirectTarget(graph, go)))
      const moved = counter("/moved/", path, graph.redirectCount)
      if (moved !== undefined) return redirect(302, `${origin}/go/${moved}`)
    }
    if (o.search && path === "/search") {
      return reply(200, htmlHeaders, Html.searchPage(graph, request.query, host))
    }
    if (o.trap) {
      const offset = Graph.parseTrapPath(path)
      if (offset !== undefined) return reply(200, htmlHeaders, Html.trapPage(graph, offset, host))
    }
    if (o.assets) {
      const asset = Assets.find(path)
      if (asset !== undefined) return reply(200, { "content-type": asset.contentType }, asset.body)
    }
    return notFound(path)
  }
}
