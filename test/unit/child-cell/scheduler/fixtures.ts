import { expect } from 'vitest'
import type { FlavorSpec, HostState, RequestSpec } from '../../../../child-cell/scheduler/host-state.js'
import type { Filter, Weigher } from '../../../../shared/scheduling/plugin.js'

/** A 4-core, 8 GB, 100 GB host, empty, up and enabled, ratios 1. */
export function host(overrides: Partial<HostState> = {}): HostState {
  return {
    host: 'h1',
    nodeId: 1,
    availabilityZone: 'nova',
    vcpus: 4,
    vcpusUsed: 0,
    memoryMb: 8192,
    memoryMbUsed: 0,
    localGb: 100,
    localGbUsed: 0,
    reservedHostMemoryMb: 0,
    reservedHostDiskGb: 0,
    cpuAllocationRatio: 1,
    ramAllocationRatio: 1,
    diskAllocationRatio: 1,
    serviceUp: true,
    serviceDisabled: false,
    instances: 0,
    hypervisorType: 'QEMU',
    hypervisorVersion: 6002000,
    cpuArch: 'x86_64',
    capabilities: {},
    generation: 1,
    ...overrides,
  }
}

/** A 1 vCPU, 512 MB, 1 GB flavor without extra specs. */
export function flavor(overrides: Partial<FlavorSpec> = {}): FlavorSpec {
  return { id: 'f1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {}, ...overrides }
}

/** A request for {@link flavor} with no image properties, zone, group or hints. */
export function spec(overrides: Partial<RequestSpec> = {}): RequestSpec {
  return {
    instanceUuid: '00000000-0000-4000-8000-000000000001',
    projectId: 'p1',
    flavor: flavor(),
    image: { id: 'img', properties: {} },
    ignoreHosts: [],
    schedulerHints: {},
    ...overrides,
  }
}

/**
 * Whether `filter` keeps each host, checked three ways that must agree: `passes` one by one,
 * `filterAll` on the whole list (when the filter has it), and `appliesTo` (false must mean all pass).
 */
export function keeps(filter: Filter<HostState, RequestSpec>, hosts: readonly HostState[], s: RequestSpec): boolean[] {
  const one = hosts.map((h) => filter.passes(h, s).pass)
  if (filter.filterAll !== undefined) {
    const idx = Int32Array.from(hosts.keys())
    const kept = filter.filterAll(hosts, idx, hosts.length, s)
    const batch = hosts.map((_, i) => Array.from(idx.subarray(0, kept)).includes(i))
    expect(batch, `${filter.name}.filterAll agrees with passes`).toEqual(one)
  }
  if (filter.appliesTo !== undefined && !filter.appliesTo(s)) {
    expect(one.every(Boolean), `${filter.name}.appliesTo() = false, yet it rejects`).toBe(true)
  }
  return one
}

/** The raw weights of `hosts`, checked to agree between `weigh` and `weighAll`. */
export function rawWeights(weigher: Weigher<HostState, RequestSpec>, hosts: readonly HostState[], s: RequestSpec): number[] {
  const one = hosts.map((h) => weigher.weigh(h, s))
  if (weigher.weighAll !== undefined) {
    const out = new Float64Array(hosts.length)
    weigher.weighAll(hosts, Int32Array.from(hosts.keys()), hosts.length, s, out)
    expect(Array.from(out), `${weigher.name}.weighAll agrees with weigh`).toEqual(one)
  }
  if (weigher.appliesTo !== undefined && !weigher.appliesTo(s)) {
    expect(new Set(one).size <= 1, `${weigher.name}.appliesTo() = false, yet weights differ`).toBe(true)
  }
  return one
}
