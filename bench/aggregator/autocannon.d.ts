/**
 * The part of autocannon 8's programmatic API the benches use (the package
 * ships no types): `autocannon(options)` without a callback returns a
 * promise of the aggregated result. Latencies are in milliseconds.
 */
declare module "autocannon" {
  namespace autocannon {
    interface Options {
      readonly url: string
      readonly connections?: number
      /** Seconds. */
      readonly duration?: number
      readonly pipelining?: number
      /** Seconds. */
      readonly timeout?: number
      readonly method?: string
      readonly headers?: Readonly<Record<string, string>>
      readonly title?: string
    }
    interface Histogram {
      readonly average: number
      readonly mean: number
      readonly stddev: number
      readonly min: number
      readonly max: number
      readonly total: number
      readonly p50: number
      readonly p90: number
      readonly p97_5: number
      readonly p99: number
    }
    interface Result {
      /** Seconds. */
      readonly duration: number
      readonly errors: number
      readonly timeouts: number
      readonly non2xx: number
      readonly resets: number
      readonly "2xx": number
      readonly latency: Histogram
      /** `total`: completed requests; `sent`: requests sent. */
      readonly requests: Histogram & { readonly sent: number }
      readonly throughput: Histogram
    }
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>
  export = autocannon
}
