/**
 * The metrics of the HTTP client. Tagged metric instances are cached per
 * label set: deriving a tagged metric allocates and hashes its key, which
 * would otherwise happen on every request.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

const requests = Metric.counter("http_client_requests_total", {
  description: "HTTP exchanges completed, by host and status class (1xx-5xx, or error)",
  incremental: true
})
const retries = Metric.counter("http_client_retries_total", {
  description: "HTTP retries scheduled, by host",
  incremental: true
})
const bytes = Metric.counter("http_client_response_bytes_total", {
  description: "Response body bytes received (after decompression), by host",
  incremental: true
})
const duration = Metric.histogram(
  "http_client_request_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Duration of each HTTP exchange in milliseconds, by host"
)
/** @internal */
export const inFlight = Metric.gauge("http_client_in_flight", {
  description: "HTTP exchanges currently on the wire"
})


/**
 * A metric and the labels it is updated with. The label array is kept and
 * reused: Effect caches a metric's registry hook by the identity of the label
 * array, so a fresh array (as `Metric.tagged` makes on every update) would
 * rebuild and rehash the metric key on each request.
 *
 * @internal
 */
export class Labelled<In> {
  constructor(
    readonly metric: { readonly unsafeUpdate: (input: In, extraTags: ReadonlyArray<MetricLabel.MetricLabel>) => void },
    readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  ) {}
  update(input: In): void {
    this.metric.unsafeUpdate(input, this.labels)
  }
}

/** @internal */
export interface HostMetrics {
  readonly status: (statusClass: string) => Labelled<number>
  readonly retries: Labelled<number>
  readonly bytes: Labelled<number>
  readonly duration: Labelled<number>
}

const OTHER = "other"

/**
 * Per-host metric handles, with the number of distinct host labels capped so
 * that a crawl over a million hosts cannot blow up the metric registry; hosts
 * past the cap share the label `other`.
 *
 * @internal
 */
export class Registry {
  private readonly hosts = new Map<string, HostMetrics>()
  constructor(readonly perHost: boolean, readonly maxHosts: number) {}

  forHost(host: string): HostMetrics {
    let label = this.perHost ? host : "all"
    const found = this.hosts.get(label)
    if (found !== undefined) return found
    if (this.perHost && this.hosts.size >= this.maxHosts) {
      label = OTHER
      const other = this.hosts.get(OTHER)
      if (other !== undefined) return other
    }
    const hostLabel = [MetricLabel.make("host", label)]
    const statuses = new Map<string, Labelled<number>>()
    const made: HostMetrics = {
      status: (statusClass) => {
        let counter = statuses.get(statusClass)
        if (counter === undefined) {
          counter = new Labelled(requests, [...hostLabel, MetricLabel.make("status_class", statusClass)])
          statuses.set(statusClass, counter)
        }
        return counter
      },
      retries: new Labelled(retries, hostLabel),
      bytes: new Labelled(bytes, hostLabel),
      duration: new Labelled(duration, hostLabel)
    }
    this.hosts.set(label, made)
    return made
  }
}

/** @internal */
export const statusClass = (status: number): string =>
  status >= 500 ? "5xx" : status >= 400 ? "4xx" : status >= 300 ? "3xx" : status >= 200 ? "2xx" : "1xx"
