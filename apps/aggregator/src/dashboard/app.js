// The aggregator dashboard: live prices from GET /api/stream (Server-Sent Events), each source's deviation from the
// aggregate, source health from GET /api/sources and a candle chart from GET /api/prices/:symbol/history.
// No framework; every value from the server is written with textContent or setAttribute, never as HTML.

const SVG = "http://www.w3.org/2000/svg"
const QUOTES = ["FDUSD", "USDT", "USDC", "TUSD", "BUSD", "DAI", "USD", "EUR", "GBP", "JPY", "BTC", "ETH"]
const SPARK_POINTS = 90

const state = {
  /** symbol → latest aggregate */
  latest: new Map(),
  /** symbol → recent aggregate prices, for the sparklines */
  recent: new Map(),
  /** symbol → card elements */
  cards: new Map(),
  selected: null,
  interval: "5s",
  lastTick: null
}

const $ = (id) => {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`dashboard: no element #${id}`)
  return element
}

const el = (tag, attributes = {}, ...children) => {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") element.className = value
    else element.setAttribute(key, value)
  }
  for (const child of children) element.append(child)
  return element
}

const svgEl = (tag, attributes = {}) => {
  const element = document.createElementNS(SVG, tag)
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value))
  return element
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

const formatters = new Map()
const decimalsFor = (value) => {
  const abs = Math.abs(value)
  return abs >= 1000 ? 2 : abs >= 1 ? 4 : 6
}
const fmtPrice = (value) => {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—"
  const decimals = decimalsFor(value)
  let formatter = formatters.get(decimals)
  if (formatter === undefined) {
    formatter = new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    formatters.set(decimals, formatter)
  }
  return formatter.format(value)
}
const fmtBps = (value) => (value === null || value === undefined ? "—" : `${value >= 0 ? "+" : ""}${value.toFixed(1)}`)
const fmtMs = (value) =>
  value === null || value === undefined ? "—" : value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`
const fmtPercent = (value) => `${(value * 100).toFixed(1)} %`
const fmtTime = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false })
const fmtAgo = (ms) => {
  if (ms === null || ms === undefined) return "never"
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000))
  return seconds < 60 ? `${seconds} s ago` : seconds < 3600 ? `${Math.round(seconds / 60)} min ago` : fmtTime(ms)
}
const splitSymbol = (symbol) => {
  for (const quote of QUOTES) {
    if (symbol.length > quote.length && symbol.endsWith(quote)) return [symbol.slice(0, -quote.length), quote]
  }
  return [symbol, ""]
}

// ---------------------------------------------------------------------------
// Price cards
// ---------------------------------------------------------------------------

const makeCard = (symbol) => {
  const [base, quote] = splitSymbol(symbol)
  const price = el("div", { class: "card-price none", "data-testid": `price-${symbol}` }, "—")
  const status = el("span", { class: "badge badge-muted" }, "—")
  const sources = el("b", {}, "—")
  const dispersion = el("b", {}, "—")
  const spread = el("b", {}, "—")
  const polyline = svgEl("polyline", { points: "" })
  const spark = svgEl("svg", { class: "spark", viewBox: `0 0 ${SPARK_POINTS - 1} 36`, preserveAspectRatio: "none" })
  spark.append(polyline)
  const card = el(
    "button",
    { class: "card", type: "button", "data-symbol": symbol },
    el("div", { class: "card-head" }, el("span", { class: "card-symbol" }, base, el("span", { class: "quote" }, ` / ${quote}`)), status),
    price,
    el(
      "div",
      { class: "card-meta" },
      el("span", {}, "sources ", sources),
      el("span", {}, "disp ", dispersion, " bps"),
      el("span", {}, "spread ", spread)
    ),
    spark
  )
  card.addEventListener("click", () => select(symbol))
  const entry = { card, price, status, sources, dispersion, spread, polyline, flashTimer: undefined }
  state.cards.set(symbol, entry)
  const container = $("tickers")
  $("tickers-empty").hidden = true
  // Keep the cards sorted by symbol.
  const after = [...state.cards.keys()].sort().find((other) => other > symbol)
  const next = after === undefined ? null : state.cards.get(after)?.card ?? null
  container.insertBefore(card, next)
  return entry
}

const renderCard = (aggregate, previous) => {
  const entry = state.cards.get(aggregate.symbol) ?? makeCard(aggregate.symbol)
  const ok = aggregate.status === "ok" && aggregate.price !== null
  entry.price.textContent = ok ? fmtPrice(aggregate.price) : "no quorum"
  entry.price.classList.toggle("none", !ok)
  if (ok && previous?.price != null && previous.price !== aggregate.price) {
    entry.price.classList.remove("flash-up", "flash-down")
    entry.price.classList.add(aggregate.price > previous.price ? "flash-up" : "flash-down")
    clearTimeout(entry.flashTimer)
    entry.flashTimer = setTimeout(() => entry.price.classList.remove("flash-up", "flash-down"), 350)
  }
  const total = aggregate.contributions.length + aggregate.exclusions.length
  entry.status.textContent = ok ? "ok" : "no quorum"
  entry.status.className = `badge ${ok ? "badge-ok" : "badge-bad"}`
  entry.sources.textContent = `${aggregate.contributions.length}/${total}`
  entry.dispersion.textContent = aggregate.dispersion === null ? "—" : (aggregate.dispersion * 10_000).toFixed(1)
  entry.spread.textContent = aggregate.spread === null ? "—" : fmtPrice(aggregate.spread)

  if (ok) {
    const points = state.recent.get(aggregate.symbol) ?? []
    points.push(aggregate.price)
    if (points.length > SPARK_POINTS) points.splice(0, points.length - SPARK_POINTS)
    state.recent.set(aggregate.symbol, points)
    const min = Math.min(...points)
    const max = Math.max(...points)
    const range = max - min || 1
    // Stretched over the card until the window fills up.
    const step = points.length > 1 ? (SPARK_POINTS - 1) / (points.length - 1) : 0
    entry.polyline.setAttribute(
      "points",
      points.map((p, i) => `${(i * step).toFixed(2)},${(34 - ((p - min) / range) * 32).toFixed(2)}`).join(" ")
    )
  }
}

// ---------------------------------------------------------------------------
// Per-source deviation
// ---------------------------------------------------------------------------

const reasonLabel = {
  timeout: "timeout",
  error: "error",
  rate_limited: "rate limited",
  unsupported: "unsupported",
  circuit_open: "circuit open",
  stale: "stale",
  outlier: "outlier"
}

const renderDeviation = () => {
  const aggregate = state.selected === null ? undefined : state.latest.get(state.selected)
  const body = $("deviation").querySelector("tbody")
  if (aggregate === undefined) {
    body.replaceChildren()
    return
  }
  $("detail-symbol").textContent = aggregate.symbol
  $("detail-meta").textContent =
    `median ${fmtPrice(aggregate.price)} · mean ${fmtPrice(aggregate.mean)} · vwap ${fmtPrice(aggregate.vwap)} · quorum ${aggregate.quorum}`

  const rows = [
    ...aggregate.contributions.map((c) => ({
      source: c.source,
      price: c.price,
      bps: c.deviation * 10_000,
      age: c.ageMs,
      excluded: null
    })),
    ...aggregate.exclusions.map((e) => ({
      source: e.source,
      price: e.price,
      bps: e.price !== null && aggregate.price ? ((e.price - aggregate.price) / aggregate.price) * 10_000 : null,
      age: null,
      excluded: e
    }))
  ].sort((a, b) => a.source.localeCompare(b.source))
  const scale = Math.max(5, ...rows.map((r) => (r.bps === null ? 0 : Math.abs(r.bps))))

  body.replaceChildren(
    ...rows.map((row) => {
      const bar = el("div", { class: "devbar" })
      if (row.bps !== null) {
        const half = Math.min(50, (Math.abs(row.bps) / scale) * 50)
        const span = el("span", { class: row.bps >= 0 ? "pos" : "neg" })
        span.style.left = row.bps >= 0 ? "50%" : `${50 - half}%`
        span.style.width = `${Math.max(half, 0.6)}%`
        bar.append(span)
      }
      const status = row.excluded === null
        ? el("span", { class: "badge badge-ok" }, "contributed")
        : el(
          "span",
          {
            class: `badge ${row.excluded.reason === "outlier" || row.excluded.reason === "stale" ? "badge-warn" : "badge-bad"}`,
            title: row.excluded.detail
          },
          reasonLabel[row.excluded.reason] ?? row.excluded.reason
        )
      return el(
        "tr",
        { class: row.excluded === null ? "" : "excluded", "data-source": row.source },
        el("td", {}, row.source),
        el("td", { class: "num" }, fmtPrice(row.price)),
        el("td", {}, bar),
        el("td", { class: "num" }, fmtBps(row.bps)),
        el("td", { class: "num" }, fmtMs(row.age)),
        el("td", {}, status)
      )
    })
  )
}

// ---------------------------------------------------------------------------
// Source health
// ---------------------------------------------------------------------------

const circuitBadge = (circuit) =>
  el(
    "span",
    { class: `badge ${circuit === "closed" ? "badge-ok" : circuit === "half_open" ? "badge-warn" : "badge-bad"}` },
    circuit.replace("_", "-")
  )

const renderSources = (sources) => {
  const body = $("sources").querySelector("tbody")
  body.replaceChildren(
    ...sources.map((s) =>
      el(
        "tr",
        { "data-source": s.source },
        el("td", {}, s.source),
        el("td", { class: "muted" }, s.kind),
        el("td", {}, circuitBadge(s.circuit)),
        el("td", { class: "num" }, fmtPercent(s.errorRate)),
        el("td", { class: "num" }, fmtMs(s.latencyMs.p50)),
        el("td", { class: "num" }, fmtMs(s.latencyMs.p99)),
        el("td", { class: "num" }, String(s.requests)),
        el("td", {}, fmtAgo(s.lastSuccessAt)),
        el("td", { class: "error", title: s.lastError ?? "" }, s.lastError === null ? "—" : `${fmtAgo(s.lastErrorAt)}: ${s.lastError}`)
      )
    )
  )
}

const refreshSources = async () => {
  try {
    const response = await fetch("/api/sources")
    if (!response.ok) throw new Error(`GET /api/sources answered ${response.status}`)
    renderSources(await response.json())
  } catch (error) {
    console.warn("dashboard: source health refresh failed", error)
  }
}

// ---------------------------------------------------------------------------
// History chart
// ---------------------------------------------------------------------------

const niceTicks = (min, max, count) => {
  const span = max - min || Math.abs(max) || 1
  const raw = span / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw
  const ticks = []
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(t)
  return ticks
}

const renderChart = (history) => {
  const svg = $("chart")
  const width = Math.max(320, Math.round(svg.clientWidth || 640))
  const height = 300
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`)
  const candles = history?.candles ?? []
  $("chart-symbol").textContent = history ? `${history.symbol} · ${history.interval}` : ""
  if (candles.length === 0) {
    const text = svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty-text" })
    text.textContent = history ? "No history in this range yet" : "Select a symbol"
    svg.replaceChildren(text)
    $("chart-meta").textContent = ""
    return
  }
  const pad = { left: 8, right: 72, top: 12, bottom: 24 }
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  let low = Math.min(...candles.map((c) => c.low))
  let high = Math.max(...candles.map((c) => c.high))
  if (high === low) {
    high += Math.abs(high) * 0.0005 || 1
    low -= Math.abs(low) * 0.0005 || 1
  }
  const margin = (high - low) * 0.08
  low -= margin
  high += margin
  // Fit the time axis to the data when it starts later than the requested range (e.g. just after start-up).
  const from = Math.max(history.from, candles[0].time - history.intervalMs)
  const to = history.to
  const x = (t) => pad.left + ((t - from) / (to - from)) * plotW
  const y = (p) => pad.top + (1 - (p - low) / (high - low)) * plotH
  const slot = (history.intervalMs / (to - from)) * plotW
  const bodyW = Math.max(1, Math.min(14, slot * 0.7))

  const children = []
  for (const tick of niceTicks(low, high, 5)) {
    children.push(svgEl("line", { class: "grid-line", x1: pad.left, x2: pad.left + plotW, y1: y(tick), y2: y(tick) }))
    const label = svgEl("text", { class: "axis", x: pad.left + plotW + 6, y: y(tick) + 3 })
    label.textContent = fmtPrice(tick)
    children.push(label)
  }
  const timeLabels = 5
  for (let i = 0; i <= timeLabels; i++) {
    const t = from + ((to - from) * i) / timeLabels
    const label = svgEl("text", {
      class: "axis",
      x: x(t),
      y: height - 6,
      "text-anchor": i === 0 ? "start" : i === timeLabels ? "end" : "middle"
    })
    label.textContent = fmtTime(t)
    children.push(label)
  }
  const closePoints = []
  for (const c of candles) {
    const cx = x(c.time + history.intervalMs / 2)
    const kind = c.close >= c.open ? "up" : "down"
    children.push(svgEl("line", { class: `wick ${kind}`, x1: cx, x2: cx, y1: y(c.high), y2: y(c.low) }))
    const top = y(Math.max(c.open, c.close))
    const rect = svgEl("rect", {
      class: `candle ${kind}`,
      x: cx - bodyW / 2,
      y: top,
      width: bodyW,
      height: Math.max(1, y(Math.min(c.open, c.close)) - top)
    })
    const title = svgEl("title")
    title.textContent = `${fmtTime(c.time)}  O ${fmtPrice(c.open)}  H ${fmtPrice(c.high)}  L ${fmtPrice(c.low)}  C ${
      fmtPrice(c.close)
    }  (${c.count} ticks)`
    rect.append(title)
    children.push(rect)
    closePoints.push(`${cx.toFixed(1)},${y(c.close).toFixed(1)}`)
  }
  children.push(svgEl("polyline", { class: "close-line", points: closePoints.join(" ") }))
  svg.replaceChildren(...children)
  const last = candles[candles.length - 1]
  $("chart-meta").textContent = `${candles.length} candles · last close ${fmtPrice(last.close)} · ${
    fmtTime(from)
  } – ${fmtTime(to)}`
}

let historyRequest = 0
const refreshHistory = async () => {
  if (state.selected === null) return renderChart(undefined)
  const request = ++historyRequest
  const symbol = state.selected
  try {
    const url = `/api/prices/${encodeURIComponent(symbol)}/history?interval=${state.interval}`
    const response = await fetch(url)
    const body = await response.json()
    if (request !== historyRequest) return
    if (!response.ok) {
      // 404 right after start: the symbol is live but not stored yet.
      if (response.status === 404) return renderChart({ symbol, interval: state.interval, candles: [] })
      throw new Error(`GET ${url} answered ${response.status}: ${body.message}`)
    }
    renderChart(body)
  } catch (error) {
    console.warn("dashboard: history refresh failed", error)
  }
}

// ---------------------------------------------------------------------------
// Selection, stream, timers
// ---------------------------------------------------------------------------

const select = (symbol) => {
  state.selected = symbol
  for (const [name, entry] of state.cards) entry.card.classList.toggle("selected", name === symbol)
  renderDeviation()
  void refreshHistory()
}

const setConnection = (kind, text) => {
  const pill = $("conn")
  pill.className = `pill pill-${kind}`
  pill.textContent = text
}

const onAggregate = (aggregate) => {
  const previous = state.latest.get(aggregate.symbol)
  if (previous !== undefined && previous.tick > aggregate.tick) return
  state.latest.set(aggregate.symbol, aggregate)
  renderCard(aggregate, previous)
  if (state.lastTick === null || aggregate.tick > state.lastTick) {
    state.lastTick = aggregate.tick
    $("last-tick").textContent = fmtTime(aggregate.tick)
  }
  if (state.selected === null) select(aggregate.symbol)
  else if (state.selected === aggregate.symbol) renderDeviation()
}

const connect = () => {
  const source = new EventSource("/api/stream")
  source.addEventListener("open", () => setConnection("live", "live"))
  source.addEventListener("error", () =>
    setConnection(source.readyState === EventSource.CLOSED ? "down" : "wait", "reconnecting…"))
  source.addEventListener("aggregate", (event) => {
    try {
      onAggregate(JSON.parse(event.data))
    } catch (error) {
      console.warn("dashboard: bad aggregate event", error)
    }
  })
}

for (const button of document.querySelectorAll("#intervals button")) {
  button.addEventListener("click", () => {
    state.interval = button.dataset.interval ?? "1m"
    for (const other of document.querySelectorAll("#intervals button")) other.classList.toggle("active", other === button)
    void refreshHistory()
  })
}

connect()
void refreshSources()
renderChart(undefined)
setInterval(refreshSources, 3000)
setInterval(refreshHistory, 5000)
window.addEventListener("resize", () => void refreshHistory())
