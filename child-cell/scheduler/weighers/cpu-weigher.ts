import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { freeVcpus } from '../host-state.js'

/**
 * Nova's CPUWeigher: prefers hosts with more free vCPUs (vcpus x cpu_allocation_ratio - used, as in
 * Nova); a negative multiplier stacks.
 *
 * Options: `cpu_weight_multiplier` (default 1.0).
 */
export class CPUWeigher implements Weigher<HostState, RequestSpec> {
  readonly name = 'CPUWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): CPUWeigher {
    const o = readOptions({ pluginName: 'CPUWeigher', options, defaults: { cpu_weight_multiplier: 1.0 } })
    return new CPUWeigher({ multiplier: o.cpu_weight_multiplier })
  }

  weigh(host: Readonly<HostState>, _spec: Readonly<RequestSpec>): number {
    return freeVcpus(host)
  }

  weighAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, _spec: Readonly<RequestSpec>, out: Float64Array): void {
    for (let r = 0; r < count; r++) out[r] = freeVcpus(hosts[idx[r] as number] as HostState)
  }
}
