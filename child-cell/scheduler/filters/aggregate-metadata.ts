import { memoizeLast } from '../../../shared/scheduling/plugin.js'
import type { RequestSpec } from '../host-state.js'

/** For each host, the metadata maps of the aggregates it belongs to. */
export type HostAggregates = ReadonlyMap<string, ReadonlyArray<Readonly<Record<string, string>>>>

/**
 * The aggregates of a request indexed by host, computed once per request spec (filters are pure:
 * the aggregates arrive with the build, see `BuildSpec.aggregates`).
 */
export function hostAggregatesOf(): (spec: Readonly<RequestSpec>) => HostAggregates {
  return memoizeLast((spec: Readonly<RequestSpec>) => {
    const byHost = new Map<string, Array<Readonly<Record<string, string>>>>()
    for (const a of spec.aggregates ?? []) {
      for (const h of a.hosts) {
        const list = byHost.get(h)
        if (list === undefined) byHost.set(h, [a.metadata])
        else list.push(a.metadata)
      }
    }
    return byHost
  })
}

/** The values of `key` over a host's aggregates (Nova's `aggregate_values_from_key`). */
export function valuesOf(metadata: ReadonlyArray<Readonly<Record<string, string>>>, key: string): Set<string> {
  const out = new Set<string>()
  for (const m of metadata) if (Object.hasOwn(m, key)) out.add(m[key] as string)
  return out
}
