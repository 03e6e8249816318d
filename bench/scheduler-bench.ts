/**
 * Host scheduling decisions per second: synthetic compute hosts through every built-in host filter
 * and weigher (the default lists) in the shared pipeline. Benchmarks print, tests never assert on
 * time.
 *
 * Each decision gets a fresh request (new objects, as the scheduler receives them) so that per-request
 * parsing is counted. Requests alternate between a hard anti-affinity group and a soft-anti-affinity
 * one, so both the hard filter and the soft weigher run. Every filter that can apply together does:
 * RetryFilter, AvailabilityZoneFilter, ComputeFilter, RamFilter, CoreFilter, DiskFilter,
 * ComputeCapabilitiesFilter, ImagePropertiesFilter, ServerGroupAntiAffinityFilter,
 * DifferentHostFilter. SameHostFilter and ServerGroupAffinityFilter would cut the candidates to a
 * handful, so the requests leave them idle (they stay enabled). `npm run bench -- scheduler` runs
 * it (bench/run.ts), with the tree and claim benchmarks of placement-bench.ts.
 */
import { DEFAULT_HOST_FILTERS, hostFilterRegistry } from '../child-cell/scheduler/filters/index.js'
import type { HostState, RequestSpec } from '../child-cell/scheduler/host-state.js'
import { DEFAULT_HOST_WEIGHERS, hostWeigherRegistry } from '../child-cell/scheduler/weighers/index.js'
import { select } from '../shared/scheduling/pipeline.js'
import { buildFilters, buildWeighers } from '../shared/scheduling/registry.js'

/** Figures for one run. */
export interface BenchFigures {
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/** A small deterministic PRNG (mulberry32), so that every run sees the same hosts. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A copy of `s` as a database driver would return it: a flat, non-interned string. */
function fromDb(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string
}

/** `count` synthetic hosts: mixed sizes and usage, ~10% in another zone, ~1% down, ~1% disabled. */
export function syntheticHosts(count: number, seed = 42): HostState[] {
  const rand = prng(seed)
  const hosts: HostState[] = []
  for (let i = 0; i < count; i++) {
    const vcpus = [16, 32, 64][Math.floor(rand() * 3)] as number
    const memoryMb = vcpus * 4096
    const localGb = vcpus * 50
    const arm = rand() < 0.05
    hosts.push({
      host: fromDb(`compute-${String(i).padStart(5, '0')}`),
      nodeId: i + 1,
      availabilityZone: fromDb(rand() < 0.9 ? 'nova' : 'edge'),
      vcpus,
      vcpusUsed: Math.floor(rand() * vcpus * 4),
      memoryMb,
      memoryMbUsed: Math.floor(rand() * memoryMb * 1.5),
      localGb,
      localGbUsed: Math.floor(rand() * localGb),
      reservedHostMemoryMb: 512,
      reservedHostDiskGb: 0,
      cpuAllocationRatio: 4,
      ramAllocationRatio: 1.5,
      diskAllocationRatio: 1,
      serviceUp: rand() > 0.01,
      serviceDisabled: rand() < 0.01,
      instances: Math.floor(rand() * 40),
      hypervisorType: fromDb('QEMU'),
      hypervisorVersion: rand() < 0.5 ? 6002000 : 8000000,
      cpuArch: fromDb(arm ? 'aarch64' : 'x86_64'),
      capabilities: { cpu_vendor: fromDb(arm ? 'ARM' : 'Intel'), numa_nodes: fromDb('2') },
      generation: 1,
    })
  }
  return hosts
}

/**
 * A fresh request, as the scheduler would receive it: m1.large with capability extra specs, image
 * properties, a zone, a tried host, different_host hints and a 20-member (soft-)anti-affinity group.
 */
export function request(i: number, hosts: readonly HostState[]): RequestSpec {
  const pick = (k: number): string => (hosts[(i * 7919 + k * 104729) % hosts.length] as HostState).host
  const soft = i % 2 === 1
  return {
    instanceUuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    projectId: 'bench',
    flavor: {
      id: 'm1.large',
      name: 'm1.large',
      memoryMb: 8192,
      vcpus: 4,
      rootGb: 80,
      ephemeralGb: 0,
      swapMb: 0,
      extraSpecs: {
        'capabilities:cpu_arch': 's== x86_64',
        'capabilities:hypervisor_type': '<or> QEMU <or> KVM',
        'capabilities:numa_nodes': '>= 2',
        'hw:cpu_policy': 'shared',
      },
    },
    image: {
      id: 'cirros',
      properties: { hw_architecture: 'x86_64', img_hv_type: 'qemu', hw_vm_mode: 'hvm', img_hv_requested_version: '>=6.0' },
    },
    availabilityZone: 'nova',
    ignoreHosts: [pick(1)],
    schedulerHints: { different_host: ['a', 'b', 'c'] },
    group: {
      uuid: 'group-1',
      policy: soft ? 'soft-anti-affinity' : 'anti-affinity',
      hosts: Array.from({ length: 20 }, (_, k) => pick(k + 10)),
    },
    hintHosts: { differentHost: [pick(2), pick(3), pick(4)] },
  }
}

/**
 * Runs `iterations` decisions over `hosts` synthetic hosts (after a warm-up of the same length, capped
 * at 2,000) and reports decisions per second of scheduler time and the p50/p99 latency of one
 * decision.
 *
 * `limit`: how many ranked hosts each decision returns; default 8, the winner and the alternates the
 * cell scheduler asks for to retry a lost claim. `'all'` ranks every surviving host (a full sort).
 */
export function benchDecisions(args: {
  hosts: number
  iterations: number
  limit?: number | 'all'
  subsetSize?: number
}): BenchFigures {
  const hosts = syntheticHosts(args.hosts)
  const filters = buildFilters(hostFilterRegistry, DEFAULT_HOST_FILTERS)
  const weighers = buildWeighers(hostWeigherRegistry, DEFAULT_HOST_WEIGHERS)
  const rand = prng(7)
  const run = (i: number): number => {
    const spec = request(i, hosts)
    const t0 = performance.now()
    const { ranked } = select({
      candidates: hosts,
      spec,
      filters,
      weighers,
      subsetSize: args.subsetSize ?? 1,
      random: rand,
      ...(args.limit === 'all' ? {} : { limit: args.limit ?? 8 }),
    })
    const elapsed = performance.now() - t0
    if (ranked.length === 0) throw new Error('benchmark hosts left no valid host')
    return elapsed
  }
  for (let i = 0; i < Math.min(args.iterations, 2000); i++) run(i)
  const times = new Float64Array(args.iterations)
  let total = 0
  for (let i = 0; i < args.iterations; i++) {
    times[i] = run(i)
    total += times[i] as number
  }
  times.sort()
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0
  // Decisions per second of scheduler time (building the synthetic requests is not counted).
  return { perSecond: args.iterations / (total / 1000), p50Ms: at(0.5), p99Ms: at(0.99) }
}
