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
 * Speed: a decision over 10,000 hosts must stay under a millisecond. The loops run plugin by plugin
 * over blocks of a compacted index array and scratch weight arrays, with no allocation per
 * candidate; plugins that implement the batch forms `filterAll` / `weighAll` are called once per
 * block instead of once per candidate, and return shared verdict objects (see `memoizeLast`).
 */
import type { Filter, Weigher } from './plugin.js'
import { rankPositions } from './ranking.js'

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
   * Ranking everything means a full sort and a result object per survivor: at 10,000 hosts, about a
   * third more time per decision than ranking a few.
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

/**
 * Candidates are filtered and weighed a block at a time: every filter runs over one block before the
 * next block is read, so that a block's candidates stay in the CPU cache from one filter to the
 * next. At 10,000 hosts (a few MB of objects) this saves about a tenth of a decision. The outcome is
 * the same as running each filter over all candidates, since filters are pure.
 */
const BLOCK = 512

// Scratch space shared by all decisions (select is synchronous); grown on demand. `busy` guards the
// unlikely case of a plugin calling select() from inside a decision.
interface Scratch {
  idx: Int32Array
  total: Float64Array
  /** One raw-weight array per weigher. */
  raws: Float64Array[]
}
let scratch: Scratch = newScratch(1024)
let busy = false

function newScratch(size: number): Scratch {
  return { idx: new Int32Array(size), total: new Float64Array(size), raws: [] }
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

function decide<C, S>(args: SelectArgs<C, S>, work: Scratch): Selection<C> {
  const { candidates } = args
  const n = candidates.length
  const rejected: Rejection<C>[] = []
  const removed = args.filters.map(() => 0)
  const m = filterStage(args, work.idx, removed, args.explain === true ? rejected : undefined)
  const rejections: Record<string, number> = {}
  // Names are unique when the list comes from buildFilters; a repeated name adds up.
  args.filters.forEach((f, i) => (rejections[f.name] = (rejections[f.name] ?? 0) + (removed[i] as number)))

  const { idx, total } = work
  weighStage(args, work, m)

  const wantedSubset = Math.max(1, Math.floor(args.subsetSize ?? 1))
  const wantedLimit = args.limit === undefined ? m : Math.max(1, Math.floor(args.limit))
  const order = rankPositions(total, m, Math.min(m, Math.max(wantedLimit, wantedSubset)))
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

/**
 * Leaves the survivors' indices in `idx[0..m)`, in candidate order, and returns `m`. Adds to
 * `removed[f]` the candidates filter `f` rejected; with `rejected`, records each rejection (and calls
 * `passes` one candidate at a time, since only it gives reasons).
 */
function filterStage<C, S>(args: SelectArgs<C, S>, idx: Int32Array, removed: number[], rejected: Rejection<C>[] | undefined): number {
  const { candidates, spec } = args
  const n = candidates.length
  // The filters that apply to this request, and where each one's count goes in `removed`.
  const active: Filter<C, S>[] = []
  const slot: number[] = []
  args.filters.forEach((f, i) => {
    if (f.appliesTo === undefined || f.appliesTo(spec)) {
      active.push(f)
      slot.push(i)
    }
  })
  let m = 0
  for (let start = 0; start < n; start += BLOCK) {
    // This block's survivors live in idx[m..m+len): never ahead of the blocks still to come.
    let len = Math.min(BLOCK, n - start)
    for (let k = 0; k < len; k++) idx[m + k] = start + k
    const block = idx.subarray(m, m + len)
    for (let f = 0; f < active.length && len > 0; f++) {
      const filter = active[f] as Filter<C, S>
      let kept = 0
      if (filter.filterAll !== undefined && rejected === undefined) {
        kept = filter.filterAll(candidates, block, len, spec)
      } else {
        for (let r = 0; r < len; r++) {
          const ci = block[r] as number
          const candidate = candidates[ci] as C
          const verdict = filter.passes(candidate, spec)
          if (verdict.pass) block[kept++] = ci
          else rejected?.push({ candidate, filter: filter.name, reason: verdict.reason })
        }
      }
      const at = slot[f] as number
      removed[at] = (removed[at] as number) + len - kept
      len = kept
    }
    m += len
  }
  return m
}

/** Sums, into `total[0..m)`, each weigher's normalised raw weights times its multiplier. */
function weighStage<C, S>(args: SelectArgs<C, S>, work: Scratch, m: number): void {
  const { candidates, spec } = args
  const { idx, total } = work
  total.fill(0, 0, m)
  if (m < 2) return // one candidate: every weight normalises to 0
  const active = args.weighers.filter((w) => w.multiplier !== 0 && (w.appliesTo === undefined || w.appliesTo(spec)))
  while (work.raws.length < active.length) work.raws.push(new Float64Array(idx.length))
  for (let start = 0; start < m; start += BLOCK) {
    const end = Math.min(m, start + BLOCK)
    const block = idx.subarray(start, end)
    for (let w = 0; w < active.length; w++) {
      const weigher = active[w] as Weigher<C, S>
      const raw = work.raws[w] as Float64Array
      if (weigher.weighAll !== undefined) {
        weigher.weighAll(candidates, block, end - start, spec, raw.subarray(start, end))
      } else {
        for (let r = start; r < end; r++) raw[r] = weigher.weigh(candidates[idx[r] as number] as C, spec)
      }
    }
  }
  for (let w = 0; w < active.length; w++) {
    const weigher = active[w] as Weigher<C, S>
    const raw = work.raws[w] as Float64Array
    let min = Infinity
    let max = -Infinity
    for (let r = 0; r < m; r++) {
      const x = raw[r] as number
      if (x < min) min = x
      if (x > max) max = x
    }
    const lo = weigher.minval ?? min
    const hi = weigher.maxval ?? max
    if (hi === lo) continue // Nova: all equal normalises to 0
    // multiplier x (w - lo) / (hi - lo), with the division hoisted out of the loop.
    const factor = weigher.multiplier / (hi - lo)
    for (let r = 0; r < m; r++) total[r] = (total[r] as number) + ((raw[r] as number) - lo) * factor
  }
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
