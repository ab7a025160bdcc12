import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as A from "../src/Aggregate.js"
import type { FailureKind, Observation } from "../src/Model.js"

const SYMBOL = "BTCUSDT"
const TICK = 1_700_000_000_000

const quote = (
  source: string,
  price: number,
  options: { volume?: number | null; quotedAt?: number; receivedAt?: number; symbol?: string } = {}
): Observation => {
  const quotedAt = options.quotedAt ?? TICK - 200
  return {
    _tag: "Quote",
    quote: {
      source,
      symbol: options.symbol ?? SYMBOL,
      price,
      bid: null,
      ask: null,
      volume: options.volume === undefined ? null : options.volume,
      quotedAt,
      receivedAt: options.receivedAt ?? quotedAt + 50,
      latencyMs: 40
    }
  }
}

const failure = (source: string, kind: FailureKind, message = `${source} failed: ${kind}`): Observation => ({
  _tag: "Failure",
  failure: { source, symbol: SYMBOL, kind, message, latencyMs: 40 }
})

const sourcesOf = (observations: ReadonlyArray<Observation>): Set<string> =>
  new Set(observations.map((o) => (o._tag === "Quote" ? o.quote.source : o.failure.source)))

const close = (actual: number, expected: number, tolerance: number): void => {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`expected ${actual} to be within ${tolerance} of ${expected}`)
  }
}

describe("statistics", () => {
  it("median of odd and even counts, NaN for none", () => {
    expect(A.median([3, 1, 2])).toBe(2)
    expect(A.median([4, 1, 3, 2])).toBe(2.5)
    expect(A.median([7])).toBe(7)
    expect(A.median([])).toBeNaN()
    expect(A.median([Number.MAX_VALUE, Number.MAX_VALUE])).toBe(Number.MAX_VALUE)
  })

  it("mad is the median of absolute deviations from the median", () => {
    // median 3, deviations 2,1,0,1,6 → median 1
    expect(A.mad([1, 2, 3, 4, 9])).toBe(1)
    expect(A.mad([5, 5, 5, 100])).toBe(0)
    expect(A.mad([])).toBeNaN()
  })

  it("mean and vwap", () => {
    expect(A.mean([1, 2, 3, 6])).toBe(3)
    expect(A.mean([])).toBeNaN()
    expect(A.vwap([{ price: 100, volume: 1 }, { price: 200, volume: 3 }])).toBe(175)
    // null and invalid volumes are skipped, not counted as 0 weight of a price
    expect(A.vwap([{ price: 100, volume: 1 }, { price: 1000, volume: null }, { price: 5, volume: Number.NaN }]))
      .toBe(100)
    expect(A.vwap([{ price: 100, volume: null }])).toBeNull()
    expect(A.vwap([{ price: 100, volume: 0 }])).toBeNull()
    expect(A.vwap([])).toBeNull()
    // huge volumes do not overflow
    expect(A.vwap([{ price: 2, volume: Number.MAX_VALUE }, { price: 4, volume: Number.MAX_VALUE }])).toBe(3)
  })

  const values = FastCheck.array(FastCheck.double({ min: -1e6, max: 1e6, noNaN: true }), {
    minLength: 1,
    maxLength: 40
  })
  const maxAbs = (xs: ReadonlyArray<number>): number => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0)

  it.prop("median lies within [min, max] and ignores order", {
    pair: values.chain((xs) =>
      FastCheck.tuple(FastCheck.constant(xs), FastCheck.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length }))
    )
  }, ({ pair: [xs, permuted] }) => {
    const m = A.median(xs)
    expect(m).toBeGreaterThanOrEqual(Math.min(...xs))
    expect(m).toBeLessThanOrEqual(Math.max(...xs))
    expect(A.median(permuted)).toBe(m)
    expect(A.mad(permuted)).toBe(A.mad(xs))
  })

  it.prop("median is translation-equivariant and MAD translation-invariant", {
    xs: values,
    c: FastCheck.double({ min: -1e6, max: 1e6, noNaN: true })
  }, ({ c, xs }) => {
    const shifted = xs.map((x) => x + c)
    const tolerance = 1e-9 * (maxAbs(xs) + Math.abs(c) + 1)
    close(A.median(shifted), A.median(xs) + c, tolerance)
    close(A.mad(shifted), A.mad(xs), tolerance)
  })

  it.prop("median and MAD are scale-equivariant (MAD by |a|)", {
    xs: values,
    a: FastCheck.double({ min: -1e3, max: 1e3, noNaN: true })
  }, ({ a, xs }) => {
    const scaled = xs.map((x) => a * x)
    const tolerance = 1e-9 * (Math.abs(a) * maxAbs(xs) + 1)
    close(A.median(scaled), a * A.median(xs), tolerance)
    close(A.mad(scaled), Math.abs(a) * A.mad(xs), tolerance)
  })

  it.prop("vwap and mean lie within [min, max]", {
    entries: FastCheck.array(
      FastCheck.record({
        price: FastCheck.double({ min: 0.0001, max: 1e7, noNaN: true }),
        volume: FastCheck.option(FastCheck.double({ min: 0, max: 1e12, noNaN: true }), { nil: null })
      }),
      { minLength: 1, maxLength: 30 }
    )
  }, ({ entries }) => {
    const prices = entries.map((e) => e.price)
    const lo = Math.min(...prices)
    const hi = Math.max(...prices)
    const slack = 1e-12 * hi
    const m = A.mean(prices)
    expect(m).toBeGreaterThanOrEqual(lo - slack)
    expect(m).toBeLessThanOrEqual(hi + slack)
    const w = A.vwap(entries)
    const weighted = entries.filter((e) => e.volume !== null && e.volume > 0)
    if (weighted.length === 0) {
      expect(w).toBeNull()
    } else {
      if (w === null) throw new Error("vwap is null although some entries have a positive volume")
      const wPrices = weighted.map((e) => e.price)
      expect(w).toBeGreaterThanOrEqual(Math.min(...wPrices) - slack)
      expect(w).toBeLessThanOrEqual(Math.max(...wPrices) + slack)
    }
  })
})

describe("aggregate (examples)", () => {
  it("excludes failures, stale quotes and outliers, and computes the figures over the rest", () => {
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 100, { volume: 1 }),
      quote("b", 101, { volume: 3 }),
      quote("c", 102, { volume: null }),
      quote("d", 99, { volume: 2 }),
      quote("wild", 150),
      quote("old", 100, { quotedAt: TICK - 60_000 }),
      failure("slow", "timeout", "GET http://slow/ticker timed out after 2s"),
      failure("shut", "circuit_open")
    ])
    expect(result.status).toBe("ok")
    expect(result.contributions.map((c) => c.source)).toEqual(["a", "b", "c", "d"])
    expect(result.exclusions.map((e) => [e.source, e.reason, e.price])).toEqual([
      ["old", "stale", 100],
      ["shut", "circuit_open", null],
      ["slow", "timeout", null],
      ["wild", "outlier", 150]
    ])
    expect(result.exclusions.find((e) => e.source === "slow")?.detail).toBe("GET http://slow/ticker timed out after 2s")
    expect(result.price).toBe(100.5)
    expect(result.mean).toBe(100.5)
    // (100·1 + 101·3 + 99·2) / 6; c has no volume
    close(result.vwap ?? Number.NaN, 601 / 6, 1e-12)
    expect([result.min, result.max, result.spread]).toEqual([99, 102, 3])
    // MAD of 99,100,101,102 around 100.5 = 1
    close(result.dispersion ?? Number.NaN, 1.4826 / 100.5, 1e-15)
    const b = result.contributions.find((c) => c.source === "b")
    close(b?.deviation ?? Number.NaN, 0.5 / 100.5, 1e-15)
    expect(b?.ageMs).toBe(50)
    expect(result.quorum).toBe(3)
    expect(result.tick).toBe(TICK)
    expect(result.symbol).toBe(SYMBOL)
  })

  it("says why an outlier and a stale quote were excluded", () => {
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 100),
      quote("b", 100),
      quote("c", 100),
      quote("wild", 110),
      quote("old", 100, { quotedAt: TICK - 12_500 })
    ])
    const outlier = result.exclusions.find((e) => e.source === "wild")
    expect(outlier?.detail).toContain("10% from the median 100")
    expect(outlier?.detail).toContain("the limit is 2%")
    const stale = result.exclusions.find((e) => e.source === "old")
    expect(stale?.detail).toContain("12.5s before the tick")
    expect(stale?.detail).toContain("older than 10s")
  })

  it("keeps a near-identical third price when two agree exactly (MAD = 0)", () => {
    const result = A.aggregate(SYMBOL, TICK, [quote("a", 100), quote("b", 100), quote("c", 100.01)])
    expect(result.status).toBe("ok")
    expect(result.exclusions).toEqual([])
    expect(result.contributions).toHaveLength(3)
    expect(result.price).toBe(100)
    expect(result.dispersion).toBe(0)
  })

  it("rejects a single deviating price when the others agree exactly (MAD = 0)", () => {
    const result = A.aggregate(SYMBOL, TICK, [quote("a", 100), quote("b", 100), quote("c", 100), quote("d", 110)])
    expect(result.exclusions.map((e) => [e.source, e.reason])).toEqual([["d", "outlier"]])
    expect(result.price).toBe(100)
  })

  it("uses the MAD test when prices are dispersed beyond the floor", () => {
    // median 100, deviations 0,5,5,5,5,95 → MAD 5, σ ≈ 7.4, limit ≈ 37 > 2
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 95),
      quote("b", 100),
      quote("c", 105),
      quote("d", 95),
      quote("e", 105),
      quote("f", 195)
    ])
    expect(result.exclusions.map((e) => [e.source, e.reason])).toEqual([["f", "outlier"]])
    expect(result.contributions).toHaveLength(5)
  })

  it("reports no_quorum with null figures but lists everything", () => {
    const result = A.aggregate(SYMBOL, TICK, [quote("a", 100), quote("b", 102), failure("c", "rate_limited")])
    expect(result.status).toBe("no_quorum")
    expect([result.price, result.mean, result.vwap, result.min, result.max, result.spread, result.dispersion])
      .toEqual([null, null, null, null, null, null, null])
    expect(result.contributions.map((c) => [c.source, c.deviation])).toEqual([["a", -1 / 101], ["b", 1 / 101]])
    expect(result.exclusions.map((e) => [e.source, e.reason])).toEqual([["c", "rate_limited"]])
    expect(A.aggregate(SYMBOL, TICK, []).status).toBe("no_quorum")
  })

  it("accepts a smaller quorum, and counts a quorum below 1 as 1", () => {
    const two = A.aggregate(SYMBOL, TICK, [quote("a", 100), quote("b", 102)], { ...A.defaultPolicy, quorum: 2 })
    expect(two.status).toBe("ok")
    expect(two.price).toBe(101)
    const zero = A.aggregate(SYMBOL, TICK, [], { ...A.defaultPolicy, quorum: 0 })
    expect(zero.status).toBe("no_quorum")
    expect(zero.quorum).toBe(1)
  })

  it("keeps the freshest of a source's duplicate observations; a quote beats a failure", () => {
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 90, { quotedAt: TICK - 3000 }),
      quote("a", 100, { quotedAt: TICK - 1000 }),
      quote("a", 80, { quotedAt: TICK - 2000 }),
      failure("b", "timeout"),
      quote("b", 101),
      failure("b", "error"),
      failure("c", "timeout"),
      failure("c", "error", "the later failure"),
      quote("d", 99)
    ], { ...A.defaultPolicy, quorum: 1 })
    expect(result.contributions.map((c) => [c.source, c.price])).toEqual([["a", 100], ["b", 101], ["d", 99]])
    expect(result.exclusions).toEqual([{ source: "c", reason: "error", detail: "the later failure", price: null }])
  })

  it("ignores observations of other symbols", () => {
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 100),
      quote("b", 100),
      quote("c", 100),
      quote("a", 3500, { symbol: "ETHUSDT" }),
      { _tag: "Failure", failure: { source: "z", symbol: "ETHUSDT", kind: "error", message: "x", latencyMs: 1 } }
    ])
    expect(result.contributions.map((c) => c.price)).toEqual([100, 100, 100])
    expect(result.exclusions).toEqual([])
  })

  it("excludes a non-positive or non-finite price as an error", () => {
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 100),
      quote("b", 100),
      quote("c", 100),
      quote("zero", 0),
      quote("nan", Number.NaN),
      quote("inf", Number.POSITIVE_INFINITY)
    ])
    expect(result.status).toBe("ok")
    expect(result.exclusions.map((e) => [e.source, e.reason])).toEqual([["inf", "error"], ["nan", "error"], ["zero", "error"]])
    expect(result.price).toBe(100)
  })

  it("clamps the age of a quote stamped after it arrived at 0", () => {
    const result = A.aggregate(SYMBOL, TICK, [quote("a", 100, { quotedAt: TICK + 500, receivedAt: TICK + 400 })], {
      ...A.defaultPolicy,
      quorum: 1
    })
    expect(result.contributions[0]?.ageMs).toBe(0)
  })

  it("gives the same aggregate whatever the order of the observations", () => {
    const observations = [quote("c", 101), quote("a", 100), failure("e", "error"), quote("b", 103), quote("d", 500)]
    const forward = A.aggregate(SYMBOL, TICK, observations)
    expect(A.aggregate(SYMBOL, TICK, observations.slice().reverse())).toEqual(forward)
  })
})

// --- properties over arbitrary ticks ---

const failureKinds: ReadonlyArray<FailureKind> = ["timeout", "error", "rate_limited", "unsupported", "circuit_open"]

const arbitraryObservation: FastCheck.Arbitrary<Observation> = FastCheck.oneof(
  FastCheck.record({
    source: FastCheck.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
    price: FastCheck.oneof(
      FastCheck.double({ min: 99, max: 101, noNaN: true }),
      FastCheck.double({ min: 0.01, max: 1e6, noNaN: true })
    ),
    volume: FastCheck.option(FastCheck.double({ min: 0, max: 1e9, noNaN: true }), { nil: null }),
    age: FastCheck.integer({ min: -2000, max: 20_000 })
  }).map(({ age, price, source, volume }) => quote(source, price, { volume, quotedAt: TICK - age })),
  FastCheck.record({
    source: FastCheck.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
    kind: FastCheck.constantFrom(...failureKinds)
  }).map(({ kind, source }) => failure(source, kind))
)

describe("aggregate (properties)", () => {
  it.prop("lists every source exactly once and respects the quorum", {
    observations: FastCheck.array(arbitraryObservation, { maxLength: 20 }),
    quorum: FastCheck.integer({ min: 1, max: 6 })
  }, ({ observations, quorum }) => {
    const result = A.aggregate(SYMBOL, TICK, observations, { ...A.defaultPolicy, quorum })
    const listed = [...result.contributions.map((c) => c.source), ...result.exclusions.map((e) => e.source)]
    expect(listed.length).toBe(new Set(listed).size)
    expect(new Set(listed)).toEqual(sourcesOf(observations))
    expect(result.status).toBe(result.contributions.length >= quorum ? "ok" : "no_quorum")
    for (const c of result.contributions) expect(c.ageMs).toBeGreaterThanOrEqual(0)
    if (result.status === "no_quorum") {
      expect([result.price, result.mean, result.vwap, result.min, result.max, result.spread, result.dispersion])
        .toEqual([null, null, null, null, null, null, null])
    } else {
      const prices = result.contributions.map((c) => c.price)
      const lo = Math.min(...prices)
      const hi = Math.max(...prices)
      const slack = 1e-12 * hi
      expect(result.min).toBe(lo)
      expect(result.max).toBe(hi)
      expect(result.spread).toBe(hi - lo)
      for (const figure of [result.price, result.mean, result.vwap]) {
        if (figure === null) continue
        expect(figure).toBeGreaterThanOrEqual(lo - slack)
        expect(figure).toBeLessThanOrEqual(hi + slack)
      }
      expect(result.vwap === null).toBe(result.contributions.every((c) => c.volume === null || c.volume === 0))
      expect(result.dispersion).toBeGreaterThanOrEqual(0)
    }
  })

  it.prop("a failure is excluded with its kind", {
    observations: FastCheck.array(arbitraryObservation, { maxLength: 20 })
  }, ({ observations }) => {
    const result = A.aggregate(SYMBOL, TICK, observations)
    const quoted = new Set(observations.flatMap((o) => (o._tag === "Quote" ? [o.quote.source] : [])))
    for (const exclusion of result.exclusions) {
      if (quoted.has(exclusion.source)) {
        expect(["stale", "outlier", "error"]).toContain(exclusion.reason)
      } else {
        // the last failure of the source
        const last = observations.filter((o) => o._tag === "Failure" && o.failure.source === exclusion.source).at(-1)
        expect(last?._tag === "Failure" ? last.failure.kind : undefined).toBe(exclusion.reason)
      }
    }
  })

  it.prop("a single wild outlier among ≥3 agreeing sources is excluded and cannot move the median", {
    base: FastCheck.double({ min: 0.001, max: 1e6, noNaN: true }),
    offsets: FastCheck.array(FastCheck.double({ min: -0.001, max: 0.001, noNaN: true }), { minLength: 3, maxLength: 10 }),
    factor: FastCheck.oneof(
      FastCheck.double({ min: 1.05, max: 1000, noNaN: true }),
      FastCheck.double({ min: 0.001, max: 0.95, noNaN: true })
    ),
    at: FastCheck.nat()
  }, ({ at, base, factor, offsets }) => {
    const agreeing = offsets.map((o, i) => quote(`s${i}`, base * (1 + o)))
    const position = at % (agreeing.length + 1)
    const observations = [...agreeing.slice(0, position), quote("wild", base * factor), ...agreeing.slice(position)]
    const result = A.aggregate(SYMBOL, TICK, observations)
    const agreeingPrices = offsets.map((o) => base * (1 + o))
    expect(result.status).toBe("ok")
    expect(result.exclusions.map((e) => [e.source, e.reason])).toEqual([["wild", "outlier"]])
    expect(result.contributions).toHaveLength(agreeing.length)
    expect(result.price).toBeGreaterThanOrEqual(Math.min(...agreeingPrices))
    expect(result.price).toBeLessThanOrEqual(Math.max(...agreeingPrices))
  })

  it.prop("a quote is stale exactly when it is older than maxAgeMs at the tick", {
    maxAgeMs: FastCheck.integer({ min: 0, max: 120_000 }),
    excess: FastCheck.integer({ min: -5_000, max: 5_000 })
  }, ({ excess, maxAgeMs }) => {
    const age = maxAgeMs + excess
    const policy = { ...A.defaultPolicy, maxAgeMs }
    const result = A.aggregate(SYMBOL, TICK, [
      quote("a", 100, { quotedAt: TICK }),
      quote("b", 100, { quotedAt: TICK }),
      quote("c", 100, { quotedAt: TICK }),
      quote("x", 100, { quotedAt: TICK - age })
    ], policy)
    const stale = result.exclusions.some((e) => e.source === "x" && e.reason === "stale")
    const contributes = result.contributions.some((c) => c.source === "x")
    expect(stale).toBe(age > maxAgeMs)
    expect(contributes).toBe(age <= maxAgeMs)
  })

  it.prop("gives the same aggregate for any order of one observation per source", {
    pair: FastCheck.uniqueArray(arbitraryObservation, {
      maxLength: 8,
      selector: (o) => (o._tag === "Quote" ? o.quote.source : o.failure.source)
    }).chain((xs) =>
      FastCheck.tuple(FastCheck.constant(xs), FastCheck.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length }))
    )
  }, ({ pair: [xs, permuted] }) => {
    expect(A.aggregate(SYMBOL, TICK, permuted)).toEqual(A.aggregate(SYMBOL, TICK, xs))
  })
})
