import type { Filter, Verdict } from '../../../shared/scheduling/plugin.js'
import { PASS, memoizeLast, reject } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { FlavorSpec, HostState, RequestSpec } from '../host-state.js'
import { freeMemoryMb } from '../host-state.js'

/**
 * Nova's RamFilter: keeps hosts with enough free RAM for the flavor, counting the host's
 * `ram_allocation_ratio` and reserved memory ({@link freeMemoryMb}): free = memory x ratio - reserved -
 * used.
 *
 * Unlike Nova, a single instance may use the over-commit (Nova also refused a flavor larger than the
 * host's physical memory): this keeps the filter in step with the cell's capacity reports and with
 * the atomic claim, which both use {@link freeMemoryMb}.
 *
 * Options: none; the ratio and reserve are per host, in its compute node record.
 */
export class RamFilter implements Filter<HostState, RequestSpec> {
  readonly name = 'RamFilter'

  /** Builds the filter from its options (it reads none). */
  static fromOptions(options: Readonly<Record<string, unknown>>): RamFilter {
    readOptions({ pluginName: 'RamFilter', options, defaults: {} })
    return new RamFilter()
  }

  readonly #rejection = memoizeLast((flavor: FlavorSpec) =>
    reject(`Insufficient usable RAM: ${flavor.memoryMb} MB requested (after ram_allocation_ratio and reserve)`),
  )

  passes(host: Readonly<HostState>, spec: Readonly<RequestSpec>): Verdict {
    return freeMemoryMb(host) >= spec.flavor.memoryMb ? PASS : this.#rejection(spec.flavor)
  }

  filterAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, spec: Readonly<RequestSpec>): number {
    const need = spec.flavor.memoryMb
    let kept = 0
    for (let r = 0; r < count; r++) {
      const i = idx[r] as number
      if (freeMemoryMb(hosts[i] as HostState) >= need) idx[kept++] = i
    }
    return kept
  }
}
