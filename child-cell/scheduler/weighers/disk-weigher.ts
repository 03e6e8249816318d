import type { Weigher } from '../../../shared/scheduling/plugin.js'
import { readOptions } from '../../../shared/scheduling/registry.js'
import type { HostState, RequestSpec } from '../host-state.js'
import { freeDiskGb } from '../host-state.js'

/**
 * Nova's DiskWeigher: prefers hosts with more free local disk (ratio and reserve applied); a negative
 * multiplier stacks.
 *
 * Options: `disk_weight_multiplier` (default 1.0).
 */
export class DiskWeigher implements Weigher<HostState, RequestSpec> {
  readonly name = 'DiskWeigher'
  readonly multiplier: number

  constructor(args: { readonly multiplier: number }) {
    this.multiplier = args.multiplier
  }

  /** Builds the weigher from its options. */
  static fromOptions(options: Readonly<Record<string, unknown>>): DiskWeigher {
    const o = readOptions({ pluginName: 'DiskWeigher', options, defaults: { disk_weight_multiplier: 1.0 } })
    return new DiskWeigher({ multiplier: o.disk_weight_multiplier })
  }

  weigh(host: Readonly<HostState>, _spec: Readonly<RequestSpec>): number {
    return freeDiskGb(host)
  }

  weighAll(hosts: readonly Readonly<HostState>[], idx: Int32Array, count: number, _spec: Readonly<RequestSpec>, out: Float64Array): void {
    for (let r = 0; r < count; r++) out[r] = freeDiskGb(hosts[idx[r] as number] as HostState)
  }
}
