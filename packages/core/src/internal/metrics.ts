/**
 * Rendering metric snapshots: Prometheus text exposition format 0.0.4, and a
 * compact table for people.
 *
 * @internal
 */
import type * as MetricLabel from "effect/MetricLabel"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

type Kind = "counter" | "gauge" | "histogram" | "summary" | "frequency"

/** A snapshot entry with its state narrowed. */
type Entry =
  | { readonly kind: "counter"; readonly state: MetricState.MetricState.Counter<number | bigint> }
  | { readonly kind: "gauge"; readonly state: MetricState.MetricState.Gauge<number | bigint> }
  | { readonly kind: "histogram"; readonly state: MetricState.MetricState.Histogram }
  | { readonly kind: "summary"; readonly state: MetricState.MetricState.Summary }
  | { readonly kind: "frequency"; readonly state: MetricState.MetricState.Frequency }

interface Series {
  readonly entry: Entry
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
}

interface Family {
  readonly name: string
  readonly kind: Kind
  help: string | undefined
  readonly series: Array<Series>
}

const classify = (state: unknown): Entry | undefined => {
  if (MetricState.isCounterState(state)) return { kind: "counter", state }
  if (MetricState.isGaugeState(state)) return { kind: "gauge", state }
  if (MetricState.isHistogramState(state)) return { kind: "histogram", state }
  if (MetricState.isSummaryState(state)) return { kind: "summary", state }
  if (MetricState.isFrequencyState(state)) return { kind: "frequency", state }
  return undefined
}

/**
 * Groups the pairs into families by (sanitised) name, sorted by name, with
 * series sorted by labels, so the output is stable from scrape to scrape.
 */
const families = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): Array<Family> => {
  const byName = new Map<string, Family>()
  for (const pair of pairs) {
    const entry = classify(pair.metricState)
    // the five states above are every kind Effect has; anything else is not a metric state
    if (entry === undefined) continue
    const base = sanitizeName(pair.metricKey.name)
    let family = byName.get(base)
    // one name, two kinds (possible in Effect, invalid in Prometheus): the later kind gets a suffix
    const name = family === undefined || family.kind === entry.kind ? base : `${base}_${entry.kind}`
    if (name !== base) family = byName.get(name)
    if (family === undefined) {
      family = { name, kind: entry.kind, help: undefined, series: [] }
      byName.set(name, family)
    }
    if (family.help === undefined) family.help = Option.getOrUndefined(pair.metricKey.description)
    family.series.push({ entry, labels: pair.metricKey.tags })
  }
  const sorted = Array.from(byName.values()).sort((a, b) => compare(a.name, b.name))
  for (const family of sorted) family.series.sort((a, b) => compare(labelKey(a.labels), labelKey(b.labels)))
  return sorted
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const labelKey = (labels: ReadonlyArray<MetricLabel.MetricLabel>): string =>
  labels.map((label) => `${label.key}=${label.value}`).join(",")

/** @internal */
export const sanitizeName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[0-9]/.test(cleaned) || cleaned === "" ? "_" + cleaned : cleaned
}

/** @internal */
export const sanitizeLabelName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[0-9]/.test(cleaned) || cleaned === "" ? "_" + cleaned : cleaned
}

/** @internal */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const escapeHelp = (help: string): string => help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** @internal */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const labelSet = (labels: ReadonlyArray<MetricLabel.MetricLabel>, extra?: string): string => {
  let out = ""
  for (const label of labels) {
    if (out !== "") out += ","
    out += `${sanitizeLabelName(label.key)}="${escapeLabelValue(label.value)}"`
  }
  if (extra !== undefined) out = out === "" ? extra : `${out},${extra}`
  return out === "" ? "" : `{${out}}`
}

const PROMETHEUS_TYPE: Record<Kind, string> = {
  counter: "counter",
  gauge: "gauge",
  histogram: "histogram",
  summary: "summary",
  // a frequency is a set of counters, one per observed value
  frequency: "counter"
}

/** @internal */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const lines: Array<string> = []
  for (const family of families(pairs)) {
    const name = family.name
    if (family.help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${PROMETHEUS_TYPE[family.kind]}`)
    for (const { entry, labels } of family.series) {
      switch (entry.kind) {
        case "counter":
          lines.push(`${name}${labelSet(labels)} ${formatValue(entry.state.count)}`)
          break
        case "gauge":
          lines.push(`${name}${labelSet(labels)} ${formatValue(entry.state.value)}`)
          break
        case "histogram": {
          const { buckets, count, sum } = entry.state
          let sawInf = false
          for (const [le, cumulative] of buckets) {
            if (le === Number.POSITIVE_INFINITY) sawInf = true
            lines.push(`${name}_bucket${labelSet(labels, `le="${formatValue(le)}"`)} ${cumulative}`)
          }
          // Prometheus requires the +Inf bucket; Effect's boundaries include it, this guards custom ones
          if (!sawInf) lines.push(`${name}_bucket${labelSet(labels, `le="+Inf"`)} ${count}`)
          lines.push(`${name}_sum${labelSet(labels)} ${formatValue(sum)}`)
          lines.push(`${name}_count${labelSet(labels)} ${count}`)
          break
        }
        case "summary": {
          const { count, quantiles, sum } = entry.state
          for (const [q, value] of quantiles) {
            const shown = Option.match(value, { onNone: () => "NaN", onSome: formatValue })
            lines.push(`${name}${labelSet(labels, `quantile="${formatValue(q)}"`)} ${shown}`)
          }
          lines.push(`${name}_sum${labelSet(labels)} ${formatValue(sum)}`)
          lines.push(`${name}_count${labelSet(labels)} ${count}`)
          break
        }
        case "frequency": {
          const keys = Array.from(entry.state.occurrences.keys()).sort(compare)
          for (const key of keys) {
            const count = entry.state.occurrences.get(key) ?? 0
            lines.push(`${name}${labelSet(labels, `key="${escapeLabelValue(key)}"`)} ${count}`)
          }
          break
        }
      }
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}

const formatNumber = (value: number | bigint): string => {
  if (typeof value === "bigint" || Number.isInteger(value)) return value.toString()
  if (!Number.isFinite(value)) return formatValue(value)
  return String(Number(value.toFixed(Math.abs(value) < 10 ? 2 : 1)))
}

// a newline in a label value would break the table's one row per series
const humanLabels = (labels: ReadonlyArray<MetricLabel.MetricLabel>): string =>
  labels.length === 0
    ? ""
    : `{${labels.map((label) => `${label.key}=${label.value.replace(/\n/g, "\\n")}`).join(",")}}`

/** The value column of one series, or `undefined` when it is zero/empty. */
const humanValue = (entry: Entry): string | undefined => {
  switch (entry.kind) {
    case "counter":
      return isZero(entry.state.count) ? undefined : formatNumber(entry.state.count)
    case "gauge":
      return isZero(entry.state.value) ? undefined : formatNumber(entry.state.value)
    case "histogram": {
      const { count, max, min, sum } = entry.state
      if (count === 0) return undefined
      return `count=${count} mean=${formatNumber(sum / count)} min=${formatNumber(min)} max=${formatNumber(max)}`
    }
    case "summary": {
      const { count, max, min, quantiles, sum } = entry.state
      if (count === 0) return undefined
      let out = `count=${count} mean=${formatNumber(sum / count)} min=${formatNumber(min)} max=${formatNumber(max)}`
      for (const [q, value] of quantiles) {
        if (Option.isSome(value)) out += ` p${formatNumber(q * 100)}=${formatNumber(value.value)}`
      }
      return out
    }
    case "frequency": {
      const keys = Array.from(entry.state.occurrences.entries())
        .filter(([, count]) => count > 0)
        .sort(([a], [b]) => compare(a, b))
      return keys.length === 0 ? undefined : keys.map(([key, count]) => `${key}=${count}`).join(" ")
    }
  }
}

const isZero = (value: number | bigint): boolean => (typeof value === "bigint" ? value === 0n : value === 0)

/** @internal */
export const renderSummary = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const rows: Array<readonly [string, string]> = []
  for (const family of families(pairs)) {
    for (const { entry, labels } of family.series) {
      const value = humanValue(entry)
      if (value !== undefined) rows.push([family.name + humanLabels(labels), value])
    }
  }
  if (rows.length === 0) return ""
  const width = rows.reduce((max, [name]) => Math.max(max, name.length), 0)
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n") + "\n"
}
