import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { freeMemoryMb } from '../host-state.js'

/**
 * Nova's RAMWeigher: prefers hosts with more free RAM, which spreads instances. A negative
 * multiplier prefers the fullest hosts instead, which stacks them (and keeps whole hosts free for
 * big flavors).
 *
 * The raw weight is {@link freeMemoryMb} (ratio and reserve applied, as the filters and claims see
 * it); Nova used the physical free RAM, which differs only between hosts with different ratios.
 *
 * Options: `ram_weight_multiplier` (default 1.0).
 */
export class RAMWeigher implements Weigher<HostState, RequestSpec> {
  readonly name = 'RAMWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): RAMWeigher {
    const o = readOptions({ pluginName: 'RAMWeigher', options, defaults: { ram_weight_multiplier: 1.0 } })
    return new RAMWeigher({ multiplier: o.ram_weight_multiplier })
  }

  weigh(host: Readonly<HostState>, _spec: Readonly<RequestSpec>): number {
    return freeMemoryMb(host)
  }

  weighAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, _spec: Readonly<RequestSpec>, out: Float64Array): void {
    for (let r = 0; r < count; r++) out[r] = freeMemoryMb(hosts[idx[r] as number] as HostState)
  }
}
