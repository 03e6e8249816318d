import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'

/**
 * Nova's AvailabilityZoneFilter: when the request names an availability zone, keeps only the hosts
 * in it. A request without a zone keeps every host (the API has already applied
 * `default_schedule_zone`, if the operator set one).
 *
 * Options: none.
 */
export class AvailabilityZoneFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'AvailabilityZoneFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): AvailabilityZoneFilter {
    readOptions({ pluginName: 'AvailabilityZoneFilter', options, defaults: {} })
    return new AvailabilityZoneFilter()
  }

  readonly #rejection = memoizeLast((spec: Readonly<RequestSpec>) =>
    reject(`Availability zone '${spec.availabilityZone ?? ''}' requested; the host is in another zone`),
  )

  appliesTo(spec: Readonly<RequestSpec>): boolean {
    return spec.availabilityZone !== undefined
  }

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const zone = spec.availabilityZone
    return zone === undefined || host.availabilityZone === zone ? PASS : this.#rejection(spec)
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const zone = spec.availabilityZone
    if (zone === undefined) return count
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if ((hosts[i] as HostState).availabilityZone === zone) idx[kept++] = i
    }
    return kept
  }
}
