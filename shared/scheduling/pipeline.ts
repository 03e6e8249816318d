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
interface Scratch {
  idx: Int32Array
  raw: Float64Array
  total: Float64Array
}
let scratch: Scratch = newScratch(1024)
let busy = false

function newScratch(size: number): Scratch {
  return { idx: new Int32Array(size), raw: new Float64Array(size), total: new Float64Array(size) }
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
  if (busy) return decide(args, newScratch(n))
  if (scratch.idx.length < n) {
    let size = scratch.idx.length
    while (size < n) size *= 2
    scratch = newScratch(size)
  }
  busy = true
  try {
    return decide(args, scratch)
  } finally {
    busy = false
  }
}

function decide<C, S>(args: SelectArgs<C, S>, { idx, raw, total }: Scratch): Selection<C> {
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
    if (filter.filterAll !== undefined && !explain) {
      kept = filter.filterAll(candidates, idx, m, spec)
    } else {
      for (let r = 0; r < m; r++) {
        const ci = idx[r] as number
        const candidate = candidates[ci] as C
        const verdict = filter.passes(candidate, spec)
        if (verdict.pass) idx[kept++] = ci
        else if (explain) rejected.push({ candidate, filter: filter.name, reason: verdict.reason })
      }
    }
    rejections[filter.name] = m - kept
    m = kept
  }

  // Weighing: total[r] is the weight of survivor idx[r].
  total.fill(0, 0, m)
  if (m > 1) {
    for (const weigher of args.weighers) {
      if (weigher.multiplier === 0 || (weigher.appliesTo !== undefined && !weigher.appliesTo(spec))) continue
      if (weigher.weighAll !== undefined) {
        weigher.weighAll(candidates, idx, m, spec, raw)
      } else {
        for (let r = 0; r < m; r++) raw[r] = weigher.weigh(candidates[idx[r] as number] as C, spec)
      }
      let min = Infinity
      let max = -Infinity
      for (let r = 0; r < m; r++) {
        const w = raw[r] as number
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
    const chosen = order[pick] as number
    order.copyWithin(1, 0, pick)
    order[0] = chosen
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
function rank(total: Float64Array, m: number, k: number): Int32Array {
  if (k <= 0) return new Int32Array(0)
  if (k <= 32 && k < m) return topK(total, m, k)
  const order = m > 64 ? radixOrder(total, m) : comparatorOrder(total, m)
  return k < m ? order.subarray(0, k) : order
}

/** Few wanted out of many: a sorted top-k kept by insertion (O(m) when k is small). */
function topK(total: Float64Array, m: number, k: number): Int32Array {
  const best = new Int32Array(k)
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

function comparatorOrder(total: Float64Array, m: number): Int32Array {
  const order = Array.from({ length: m }, (_, r) => r)
  // Array#sort is stable, so equal weights keep their input order.
  order.sort((a, b) => (total[b] as number) - (total[a] as number))
  return Int32Array.from(order)
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
let radixKeys = new Float64Array(1024)
let radixA = new Int32Array(1024)
let radixB = new Int32Array(1024)
const radixCounts = new Uint32Array(8 * 256)

/**
 * All of `total[0..m)` best first, ties in position order: a stable LSD radix sort on the bits of
 * each weight (negated, so that ascending order is best first). Sorting 10,000 weights this way takes
 * a tenth of what a comparator sort does.
 */
function radixOrder(total: Float64Array, m: number): Int32Array {
  if (radixKeys.length < m) {
    radixKeys = new Float64Array(total.length)
    radixA = new Int32Array(total.length)
    radixB = new Int32Array(total.length)
  }
  const keys = new Uint32Array(radixKeys.buffer, 0, 2 * m)
  const hiAt = LITTLE_ENDIAN ? 1 : 0
  const loAt = 1 - hiAt
  for (let r = 0; r < m; r++) radixKeys[r] = -(total[r] as number) + 0 // + 0 turns -0 into 0
  // Map IEEE-754 bit patterns to unsigned integers in numeric order, then count digits of all passes.
  radixCounts.fill(0)
  for (let r = 0; r < m; r++) {
    let hi = keys[2 * r + hiAt] as number
    let lo = keys[2 * r + loAt] as number
    if ((hi & 0x80000000) !== 0) {
      hi = ~hi >>> 0
      lo = ~lo >>> 0
    } else {
      hi = (hi | 0x80000000) >>> 0
    }
    keys[2 * r + hiAt] = hi
    keys[2 * r + loAt] = lo
    for (let p = 0; p < 4; p++) {
      radixCounts[p * 256 + ((lo >>> (8 * p)) & 255)]! += 1
      radixCounts[(p + 4) * 256 + ((hi >>> (8 * p)) & 255)]! += 1
    }
  }
  let from = radixA
  let to = radixB
  for (let r = 0; r < m; r++) from[r] = r
  for (let p = 0; p < 8; p++) {
    const base = p * 256
    const word = p < 4 ? loAt : hiAt
    const shift = 8 * (p & 3)
    let sum = 0
    let skip = false
    for (let d = 0; d < 256; d++) {
      const c = radixCounts[base + d] as number
      if (c === m) skip = true
      radixCounts[base + d] = sum
      sum += c
    }
    if (skip) continue // every key has the same digit here
    for (let r = 0; r < m; r++) {
      const pos = from[r] as number
      const digit = ((keys[2 * pos + word] as number) >>> shift) & 255
      to[radixCounts[base + digit]!++] = pos
    }
    const t = from
    from = to
    to = t
  }
  return from.slice(0, m)
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
