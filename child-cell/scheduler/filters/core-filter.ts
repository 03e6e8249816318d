import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { FlavorSpec, HostState, RequestSpec } from '../host-state.js'
import { freeVcpus } from '../host-state.js'

/**
 * Nova's CoreFilter: keeps hosts with enough free vCPUs, counting the host's `cpu_allocation_ratio`
 * ({@link freeVcpus}: vcpus x ratio - used). A 4-core host with ratio 2 takes at most 8 vCPUs in
 * total: with 3 already used, a 5-vCPU flavor fits and a 6-vCPU one does not.
 *
 * Two deliberate differences from Nova, both so that the filter agrees with the cell's capacity
 * reports and the atomic claim: one instance may use the over-commit (Nova refused a flavor with
 * more vCPUs than the host has cores), and a host reporting 0 vCPUs has no room (Nova let it pass, a
 * XenServer work-around).
 *
 * Options: none; the ratio is per host, in its compute node record.
 */
export class CoreFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'CoreFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): CoreFilter {
    readOptions({ pluginName: 'CoreFilter', options, defaults: {} })
    return new CoreFilter()
  }

  readonly #rejection = memoizeLast((flavor: FlavorSpec) =>
    reject(`Insufficient free vCPUs: ${flavor.vcpus} requested (after cpu_allocation_ratio)`),
  )

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    return freeVcpus(host) >= spec.flavor.vcpus ? PASS : this.#rejection(spec.flavor)
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const need = spec.flavor.vcpus
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (freeVcpus(hosts[i] as HostState) >= need) idx[kept++] = i
    }
    return kept
  }
}
