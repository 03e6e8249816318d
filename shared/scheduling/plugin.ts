/**
 * The plugin machinery shared by the host scheduler in a leaf cell and the cell scheduler at every
 * parent (after Nova's filter scheduler and the Kubernetes scheduler framework).
 *
 * Filters and weighers are pure and synchronous; their configuration arrives through their factory.
 * A filter never throws for an expected rejection: it returns `{ pass: false, reason }`.
 */

/** A filter's answer. */
export type Verdict = { readonly pass: true } | { readonly pass: false; readonly reason: string }

/** Keeps or rejects one candidate for one request. */
export interface Filter<C, S> {
  readonly name: string
  passes(candidate: Readonly<C>, spec: Readonly<S>): Verdict
  /**
   * Optional pre-check, called once per request (the Kubernetes framework's PreFilter "Skip"): `false`
   * promises that `passes` would keep every candidate for this spec, so the pipeline does not call
   * it. Absent means the filter always applies. A shortcut, never a change of outcome.
   */
  appliesTo?(spec: Readonly<S>): boolean
  /**
   * Optional batch form of `passes` (Nova's `filter_all`): of the candidates
   * `candidates[indices[0]] .. candidates[indices[count - 1]]`, keeps those that pass by compacting
   * `indices` in place (order kept) and returns how many it kept. It must agree with `passes` for
   * every candidate; the pipeline still calls `passes` when it is asked to explain rejections. It
   * exists for speed: with thousands of hosts, one virtual call per candidate per filter is most of
   * the cost of a decision, and a loop inside the filter lets the engine inline the check.
   */
  filterAll?(candidates: readonly Readonly<C>[], indices: Int32Array, count: number, spec: Readonly<S>): number
}

/** Gives a raw weight; the framework normalises raw weights to [0,1] over the candidates, then
 * multiplies by `multiplier` and sums over weighers. Higher wins. */
export interface Weigher<C, S> {
  readonly name: string
  readonly multiplier: number
  weigh(candidate: Readonly<C>, spec: Readonly<S>): number
  /**
   * Optional fixed bounds for normalisation (Nova's `BaseWeigher.minval`/`maxval`): when set, raw
   * weights are normalised against them rather than against the observed minimum/maximum, so that a
   * weigher with an absolute scale (say, report staleness) is not stretched over tiny differences.
   */
  readonly minval?: number
  readonly maxval?: number
  /**
   * Optional pre-check, called once per request: `false` promises that `weigh` would give every
   * candidate the same raw weight (which normalises to 0), so the pipeline does not call it.
   */
  appliesTo?(spec: Readonly<S>): boolean
  /**
   * Optional batch form of `weigh` (Nova's `weigh_objects`): writes the raw weight of
   * `candidates[indices[r]]` into `out[r]` for every `r < count`. Must agree with `weigh`.
   */
  weighAll?(candidates: readonly Readonly<C>[], indices: Int32Array, count: number, spec: Readonly<S>, out: Float64Array): void
}

/** Builds a plugin from its (already validated) options. */
export type PluginFactory<P> = (options: Readonly<Record<string, unknown>>) => P

/** The pass verdict, shared so that filters do not allocate one per call. */
export const PASS: Verdict = Object.freeze({ pass: true })

/** A rejection with a reason. */
export function reject(reason: string): Verdict {
  return { pass: false, reason }
}

/**
 * Memoises a pure per-request computation on the identity of its input, keeping only the last one.
 * Filters use it to parse a request once per decision rather than once per candidate: the pipeline
 * calls `passes` for every candidate with the same spec object, so the identity check (one pointer
 * comparison) almost always hits. Inputs must not be mutated after they are first seen, which the
 * `Readonly` contract of `passes` already demands.
 *
 * @example
 * const parse = memoizeLast((specs: Readonly<Record<string, string>>) => compile(specs))
 * parse(spec.flavor.extraSpecs) // computed once, then reused while the same object is passed
 */
export function memoizeLast<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  let lastKey: K | undefined
  let lastValue: V | undefined
  return (key) => {
    if (key !== lastKey) {
      lastValue = compute(key)
      lastKey = key
    }
    return lastValue as V
  }
}
