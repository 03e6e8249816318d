/**
 * One scheduling decision: filter the candidates, weigh the survivors, rank them (Nova's
 * `FilterScheduler._get_sorted_hosts`). The same code ranks compute hosts inside a leaf cell and child
 * cells at every parent.
 *
 * Semantics, as in Nova:
 * - filters run in the order given; a candidate rejected by one filter is shown to no later filter;
 * - each weigher's raw weights are normalised over the surviving candidates to [0,1] with
 *   `(w - min) / (max - min)` (all equal -> 0; a weigher may fix `minval`/`maxval`), multiplied by the
 *   weigher's multiplier and summed; higher wins; ties keep the candidates' input order;
 * - `subsetSize` (Nova's `host_subset_size`) picks the winner at random among the best N, to spread
 *   concurrent requests that would otherwise all race for the same host; the rest keep their order.
 *
 * Speed: a decision over 10,000 hosts must stay well under a millisecond. The loops run plugin by
 * plugin over a compacted index array and a scratch weight array, so that there is no allocation per
 * candidate; plugins help by returning shared verdict objects (see `memoizeLast` in plugin.ts).
 */
import type { Filter, Weigher } from './plugin.js'

/** What {@link select} needs. */
export interface SelectArgs<C, S> {
  readonly candidates: readonly C[]
  readonly spec: Readonly<S>
  /** In the order they run. */
  readonly filters: readonly Filter<C, S>[]
  readonly weighers: readonly Weigher<C, S>[]
  /** Nova's `host_subset_size`: the winner is drawn among the best N. Default 1 (deterministic). */
  readonly subsetSize?: number
  /**
   * Rank only the best `limit` candidates (the winner and its alternates). Default: all that pass.
   * Ranking everything means a full sort, by far the most expensive step with thousands of hosts.
   */
  readonly limit?: number
  /** A uniform random number in [0,1), for `subsetSize` > 1. Default `Math.random`; inject in tests. */
  readonly random?: () => number
  /** Also record every rejection with its reason (costly at scale: for diagnostics and tests). */
  readonly explain?: boolean
}

/** A candidate that passed every filter, with its summed, normalised weight. */
export interface Ranked<C> {
  readonly candidate: C
  readonly weight: number
}

/** Why one candidate was dropped (only with `explain`). */
export interface Rejection<C> {
  readonly candidate: C
  readonly filter: string
  readonly reason: string
}

/** The outcome of one decision. */
export interface Selection<C> {
  /** Best first: `ranked[0]` is the choice, the others are alternates in order. Empty: no valid host. */
  readonly ranked: readonly Ranked<C>[]
  /** How many candidates were considered. */
  readonly considered: number
  /** How many passed every filter (can exceed `ranked.length` when `limit` is set). */
  readonly passed: number
  /** Candidates removed per filter, every filter listed in run order (0 when it removed none). */
  readonly rejections: Readonly<Record<string, number>>
  /** Every rejection with its reason when `explain` was set, else empty. */
  readonly rejected: readonly Rejection<C>[]
}

/** Nova's NoValidHost explanation, the start of {@link noValidHostReason}. */
export const NOT_ENOUGH_HOSTS = 'There are not enough hosts available.'

// Scratch space shared by all decisions (select is synchronous); grown on demand. `busy` guards the
// unlikely case of a plugin calling select() from inside a decision.
let scratchIdx = new Int32Array(1024)
let scratchRaw = new Float64Array(1024)
let scratchTotal = new Float64Array(1024)
let busy = false

function ensureScratch(n: number): void {
  if (scratchIdx.length >= n) return
  let size = scratchIdx.length
  while (size < n) size *= 2
  scratchIdx = new Int32Array(size)
  scratchRaw = new Float64Array(size)
  scratchTotal = new Float64Array(size)
}

/**
 * Filters, weighs and ranks `candidates` for `spec`. Never throws for an expected outcome: no
 * survivor gives an empty `ranked` (see {@link noValidHostReason}).
 *
 * @example
 * const { ranked } = select({ candidates: hosts, spec, filters, weighers, subsetSize: 2 })
 * const chosen = ranked[0]?.candidate // then claim it; on a lost race try ranked[1], ...
 */
export function select<C, S>(args: SelectArgs<C, S>): Selection<C> {
  const n = args.candidates.length
  const nested = busy
  let idx: Int32Array, raw: Float64Array, total: Float64Array
  if (nested) {
    idx = new Int32Array(n)
    raw = new Float64Array(n)
    total = new Float64Array(n)
  } else {
    ensureScratch(n)
    idx = scratchIdx
    raw = scratchRaw
    total = scratchTotal
    busy = true
  }
  try {
    return decide(args, idx, raw, total)
  } finally {
    if (!nested) busy = false
  }
}

function decide<C, S>(args: SelectArgs<C, S>, idx: Int32Array, raw: Float64Array, total: Float64Array): Selection<C> {
  const { candidates, spec } = args
  const n = candidates.length
  const rejections: Record<string, number> = {}
  const rejected: Rejection<C>[] = []
  const explain = args.explain === true

  // Filtering: survivors are idx[0..m), compacted in place after each filter.
  for (let i = 0; i < n; i++) idx[i] = i
  let m = n
  for (const filter of args.filters) {
    if (m === 0 || (filter.appliesTo !== undefined && !filter.appliesTo(spec))) {
      rejections[filter.name] = 0
      continue
    }
    let kept = 0
    for (let r = 0; r < m; r++) {
      const ci = idx[r] as number
      const candidate = candidates[ci] as C
      const verdict = filter.passes(candidate, spec)
      if (verdict.pass) idx[kept++] = ci
      else if (explain) rejected.push({ candidate, filter: filter.name, reason: verdict.reason })
    }
    rejections[filter.name] = m - kept
    m = kept
  }

  // Weighing: total[r] is the weight of survivor idx[r].
  total.fill(0, 0, m)
  if (m > 1) {
    for (const weigher of args.weighers) {
      if (weigher.multiplier === 0 || (weigher.appliesTo !== undefined && !weigher.appliesTo(spec))) continue
      let min = Infinity
      let max = -Infinity
      for (let r = 0; r < m; r++) {
        const w = weigher.weigh(candidates[idx[r] as number] as C, spec)
        raw[r] = w
        if (w < min) min = w
        if (w > max) max = w
      }
      const lo = weigher.minval ?? min
      const hi = weigher.maxval ?? max
      if (hi === lo) continue // Nova: all equal normalises to 0
      const range = hi - lo
      const multiplier = weigher.multiplier
      for (let r = 0; r < m; r++) total[r] = (total[r] as number) + multiplier * (((raw[r] as number) - lo) / range)
    }
  }

  const wantedSubset = Math.max(1, Math.floor(args.subsetSize ?? 1))
  const wantedLimit = args.limit === undefined ? m : Math.max(1, Math.floor(args.limit))
  const order = rank(total, m, Math.min(m, Math.max(wantedLimit, wantedSubset)))
  const subset = Math.min(order.length, wantedSubset)
  if (subset > 1) {
    // Nova: random.choice among the best N, moved to the front; the others keep their order.
    const pick = Math.min(subset - 1, Math.floor((args.random ?? Math.random)() * subset))
    const [chosen] = order.splice(pick, 1)
    order.unshift(chosen as number)
  }
  const limit = Math.min(order.length, wantedLimit)
  const ranked = new Array<Ranked<C>>(limit)
  for (let k = 0; k < limit; k++) {
    const r = order[k] as number
    ranked[k] = { candidate: candidates[idx[r] as number] as C, weight: total[r] as number }
  }
  return { ranked, considered: n, passed: m, rejections, rejected }
}

/** Positions in `total[0..m)` of the best `k`, best first, ties in position order. */
function rank(total: Float64Array, m: number, k: number): number[] {
  if (k <= 0) return []
  if (k >= m || k > 32) {
    const order = new Array<number>(m)
    for (let r = 0; r < m; r++) order[r] = r
    // Array#sort is stable, so equal weights keep their input order.
    order.sort((a, b) => (total[b] as number) - (total[a] as number))
    if (k < m) order.length = k
    return order
  }
  // Few wanted out of many: keep a sorted top-k by insertion (O(m) when k is small).
  const best = new Array<number>(k)
  let size = 0
  for (let r = 0; r < m; r++) {
    const w = total[r] as number
    if (size === k && !(w > (total[best[k - 1] as number] as number))) continue
    let j = size < k ? size++ : k - 1
    // Strictly-less shifts keep earlier candidates ahead of later ones with an equal weight.
    while (j > 0 && (total[best[j - 1] as number] as number) < w) {
      best[j] = best[j - 1] as number
      j--
    }
    best[j] = r
  }
  return best
}

/**
 * Nova's NoValidHost text for a decision that kept nobody: "There are not enough hosts available."
 * followed by what each filter did, as Nova logs it, for the filters that ran (a filter that found no
 * candidate left did not run).
 *
 * @example
 * noValidHostReason(selection)
 * // 'There are not enough hosts available. Filter results: RetryFilter: (start: 3, end: 3),
 * //  RamFilter: (start: 3, end: 0)'
 */
export function noValidHostReason(selection: Pick<Selection<unknown>, 'considered' | 'rejections'>): string {
  const parts: string[] = []
  let left = selection.considered
  for (const [name, removed] of Object.entries(selection.rejections)) {
    if (left === 0) break
    parts.push(`${name}: (start: ${left}, end: ${left - removed})`)
    left -= removed
  }
  return parts.length === 0 ? NOT_ENOUGH_HOSTS : `${NOT_ENOUGH_HOSTS} Filter results: ${parts.join(', ')}`
}
