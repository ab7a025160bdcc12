/**
 * `Aggregate`: one symbol's price for one tick out of what every source said,
 * as a pure function ({@link aggregate}) of the tick's observations and a
 * {@link Policy}.
 *
 * The algorithm, in this order:
 *
 * 0. **Selection.** Observations of other symbols are ignored, so a tick's
 *    whole batch can be passed. When one source has several observations,
 *    one is kept: a quote beats a failure, among quotes the freshest
 *    (greatest `quotedAt`, then greatest `receivedAt`, then the later one in
 *    the input), among failures the later one in the input.
 * 1. **Failures.** A source whose observation is a failure is excluded with
 *    the failure's kind as reason (`timeout`, `error`, `rate_limited`,
 *    `unsupported`, `circuit_open`) and its message as detail. A quote whose
 *    price is not a finite positive number is excluded as `error` (sources
 *    should never send one; the aggregate must not be poisoned if they do).
 * 2. **Staleness.** A quote with `tick - quotedAt > maxAgeMs` is excluded as
 *    `stale`; exactly `maxAgeMs` old is still fresh. A quote stamped after
 *    the tick is fresh (sources stamp at response time).
 * 3. **Outliers.** Over the fresh prices: `m = median`, `MAD = median(|p - m|)`,
 *    `σ = 1.4826 × MAD` (the robust estimate of the standard deviation of
 *    normal data). A price is excluded as `outlier` when
 *    `|p - m| > max(outlierMads × σ, maxDeviation × |m|)`. The relative floor
 *    does two jobs: when most sources agree exactly, `MAD = 0` and without a
 *    floor any difference at all would be an outlier (so two identical prices
 *    would reject a third 0.01 % away); and one source far off among agreeing
 *    ones is still caught because its distance passes the floor. One pass,
 *    no iteration: with at most two fresh prices nothing is ever rejected
 *    (each is exactly one MAD from their median).
 * 4. **Quorum.** When fewer than `quorum` sources remain, the status is
 *    `no_quorum` and every price figure is `null`; contributions and
 *    exclusions are listed all the same.
 *
 * Over the contributing prices: `price` = median, `mean`, `vwap` (over the
 * contributions with a volume, `null` when none has one), `min`, `max`,
 * `spread = max - min`, `dispersion = 1.4826 × MAD / median` of the
 * contributing set. Each contribution carries `deviation = (p - median) /
 * median` against that median (also under `no_quorum`, for diagnosis) and
 * `ageMs = receivedAt - quotedAt` (clamped at 0: clocks of sources drift).
 * Contributions and exclusions are sorted by source id, so equal inputs give
 * equal outputs whatever their order.
 *
 * @since 0.1.0
 */
import type { Aggregate, Contribution, Exclusion, Observation, Quote } from "./Model.js"

/**
 * How an aggregate is computed. See the module documentation for the
 * algorithm.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** Fewest contributing sources for an `ok` aggregate; values below 1 count as 1. */
  readonly quorum: number
  /** Oldest quote, `tick - quotedAt`, still used, in milliseconds. */
  readonly maxAgeMs: number
  /** Reject a price more than this many robust standard deviations (1.4826 × MAD) from the median. */
  readonly outlierMads: number
  /**
   * Relative floor of the outlier distance (0.02 = 2 % of the median): a
   * price this close to the median is never an outlier, however tightly the
   * others agree.
   */
  readonly maxDeviation: number
}

/**
 * Quorum 3, quotes up to 10 s old, outliers past 5 robust standard
 * deviations and past 2 % of the median.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPolicy: Policy = {
  quorum: 3,
  maxAgeMs: 10_000,
  outlierMads: 5,
  maxDeviation: 0.02
}

/**
 * The factor that turns a median absolute deviation into an estimate of the
 * standard deviation of normally distributed data (1 / Φ⁻¹(3/4)).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAD_SCALE = 1.4826

const ascending = (a: number, b: number): number => a - b

/**
 * The median: the middle value, or the mean of the two middle values for an
 * even count. `NaN` for no values.
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  const n = values.length
  if (n === 0) return Number.NaN
  const sorted = Array.from(values).sort(ascending)
  const mid = n >> 1
  const upper = sorted[mid] ?? Number.NaN
  if (n % 2 === 1) return upper
  const lower = sorted[mid - 1] ?? Number.NaN
  // halving first keeps the sum of two huge values finite
  return lower / 2 + upper / 2
}

/**
 * The median absolute deviation from the median, `median(|x - median(x)|)`
 * (unscaled; multiply by {@link MAD_SCALE} for a standard-deviation
 * estimate). `NaN` for no values.
 *
 * @since 0.1.0
 * @category statistics
 */
export const mad = (values: ReadonlyArray<number>): number => {
  const m = median(values)
  return median(values.map((x) => Math.abs(x - m)))
}

/**
 * The arithmetic mean. `NaN` for no values.
 *
 * @since 0.1.0
 * @category statistics
 */
export const mean = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  let sum = 0
  for (const x of values) sum += x
  return sum / values.length
}

/**
 * The volume-weighted mean price over the entries whose volume is a finite
 * non-negative number (`null` volumes are skipped); `null` when no entry has
 * one or all such volumes are 0.
 *
 * @since 0.1.0
 * @category statistics
 */
export const vwap = (
  entries: ReadonlyArray<{ readonly price: number; readonly volume: number | null }>
): number | null => {
  let maxVolume = 0
  for (const { volume } of entries) {
    if (volume !== null && Number.isFinite(volume) && volume > maxVolume) maxVolume = volume
  }
  if (maxVolume === 0) return null
  // weights scaled to [0, 1] so price × volume cannot overflow
  let weighted = 0
  let weights = 0
  for (const { price, volume } of entries) {
    if (volume === null || !Number.isFinite(volume) || volume < 0) continue
    const w = volume / maxVolume
    weighted += price * w
    weights += w
  }
  return weighted / weights
}

type Selected =
  | { readonly _tag: "Quote"; readonly quote: Quote }
  | { readonly _tag: "Failure"; readonly observation: Extract<Observation, { _tag: "Failure" }> }

const fresher = (a: Quote, b: Quote): boolean =>
  a.quotedAt !== b.quotedAt ? a.quotedAt > b.quotedAt : a.receivedAt >= b.receivedAt

/** One observation per source, by the rules of step 0. */
const selectPerSource = (symbol: string, observations: ReadonlyArray<Observation>): Map<string, Selected> => {
  const chosen = new Map<string, Selected>()
  for (const observation of observations) {
    if (observation._tag === "Quote") {
      const quote = observation.quote
      if (quote.symbol !== symbol) continue
      const current = chosen.get(quote.source)
      if (current === undefined || current._tag === "Failure" || fresher(quote, current.quote)) {
        chosen.set(quote.source, { _tag: "Quote", quote })
      }
    } else {
      const failure = observation.failure
      if (failure.symbol !== symbol) continue
      const current = chosen.get(failure.source)
      if (current === undefined || current._tag === "Failure") {
        chosen.set(failure.source, { _tag: "Failure", observation })
      }
    }
  }
  return chosen
}

const bySource = <A extends { readonly source: string }>(a: A, b: A): number =>
  a.source < b.source ? -1 : a.source > b.source ? 1 : 0

const percent = (x: number): string => `${Number((x * 100).toPrecision(3))}%`

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))}s`

/**
 * Aggregates one symbol's observations of one tick (epoch ms of the tick's
 * scheduled time) under a policy ({@link defaultPolicy} when omitted). Every
 * source that observed `symbol` appears exactly once, in `contributions` or
 * in `exclusions` with its reason. See the module documentation for the
 * algorithm.
 *
 * @since 0.1.0
 * @category aggregation
 */
export const aggregate = (
  symbol: string,
  tick: number,
  observations: ReadonlyArray<Observation>,
  policy: Policy = defaultPolicy
): Aggregate => {
  const quorum = Math.max(1, policy.quorum)
  const exclusions: Array<Exclusion> = []
  const fresh: Array<Quote> = []

  for (const selected of selectPerSource(symbol, observations).values()) {
    // 1. failures
    if (selected._tag === "Failure") {
      const failure = selected.observation.failure
      exclusions.push({ source: failure.source, reason: failure.kind, detail: failure.message, price: null })
      continue
    }
    const quote = selected.quote
    if (!Number.isFinite(quote.price) || quote.price <= 0) {
      exclusions.push({
        source: quote.source,
        reason: "error",
        detail: `${quote.source} quoted ${symbol} at ${quote.price}, which is not a positive finite price`,
        price: null
      })
      continue
    }
    // 2. staleness
    const age = tick - quote.quotedAt
    if (age > policy.maxAgeMs) {
      exclusions.push({
        source: quote.source,
        reason: "stale",
        detail: `${quote.source} quoted ${symbol} at ${new Date(quote.quotedAt).toISOString()}, ${
          seconds(age)
        } before the tick; quotes older than ${seconds(policy.maxAgeMs)} are not used`,
        price: quote.price
      })
      continue
    }
    fresh.push(quote)
  }

  // 3. outliers, against the median and MAD of the fresh prices
  const freshPrices = fresh.map((q) => q.price)
  const freshMedian = median(freshPrices)
  const freshSigma = MAD_SCALE * mad(freshPrices)
  const limit = Math.max(policy.outlierMads * freshSigma, policy.maxDeviation * Math.abs(freshMedian))
  const contributing: Array<Quote> = []
  for (const quote of fresh) {
    const distance = Math.abs(quote.price - freshMedian)
    if (distance > limit) {
      exclusions.push({
        source: quote.source,
        reason: "outlier",
        detail: `${quote.source} quoted ${symbol} at ${quote.price}, ${
          percent(distance / freshMedian)
        } from the median ${freshMedian} of ${fresh.length} fresh quotes; the limit is ${
          percent(limit / freshMedian)
        } (the larger of ${policy.outlierMads} × 1.4826 × MAD and ${percent(policy.maxDeviation)})`,
        price: quote.price
      })
    } else {
      contributing.push(quote)
    }
  }

  // figures over the contributing set, in source order so that float sums do not depend on input order
  contributing.sort(bySource)
  const prices = contributing.map((q) => q.price)
  const price = median(prices)
  const contributions: Array<Contribution> = contributing.map((q) => ({
    source: q.source,
    price: q.price,
    volume: q.volume,
    ageMs: Math.max(0, q.receivedAt - q.quotedAt),
    deviation: (q.price - price) / price
  }))
  exclusions.sort(bySource)

  // 4. quorum
  if (contributions.length < quorum) {
    return {
      symbol,
      tick,
      status: "no_quorum",
      price: null,
      mean: null,
      vwap: null,
      min: null,
      max: null,
      spread: null,
      dispersion: null,
      quorum,
      contributions,
      exclusions
    }
  }
  const min = Math.min(...prices)
  const max = Math.max(...prices)
  return {
    symbol,
    tick,
    status: "ok",
    price,
    mean: mean(prices),
    vwap: vwap(contributing),
    min,
    max,
    spread: max - min,
    dispersion: (MAD_SCALE * mad(prices)) / price,
    quorum,
    contributions,
    exclusions
  }
}
