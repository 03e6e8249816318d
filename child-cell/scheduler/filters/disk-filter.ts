import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { FlavorSpec, HostState, RequestSpec } from '../host-state.js'
import { freeDiskGb, requestedDiskGb } from '../host-state.js'

/**
 * Nova's DiskFilter: keeps hosts with enough free local disk for the flavor's root, ephemeral and
 * swap disks ({@link requestedDiskGb}), counting the host's `disk_allocation_ratio` and reserved disk
 * ({@link freeDiskGb}).
 *
 * As with RamFilter, a single instance may use the over-commit, to agree with capacity reports and
 * claims.
 *
 * Options: none; the ratio and reserve are per host.
 */
export class DiskFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'DiskFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): DiskFilter {
    readOptions({ pluginName: 'DiskFilter', options, defaults: {} })
    return new DiskFilter()
  }

  readonly #need = memoizeLast((flavor: FlavorSpec) => {
    const gb = requestedDiskGb(flavor)
    return { gb, verdict: reject(`Insufficient usable disk: ${gb} GB requested (after disk_allocation_ratio and reserve)`) }
  })

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    const need = this.#need(spec.flavor)
    return freeDiskGb(host) >= need.gb ? PASS : need.verdict
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const need = requestedDiskGb(spec.flavor)
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (freeDiskGb(hosts[i] as HostState) >= need) idx[kept++] = i
    }
    return kept
  }
}
