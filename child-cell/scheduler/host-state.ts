/**
 * What the host scheduler knows about one compute node when it decides, and what it is asked.
 * Units: memory in MB, disk in GB, CPU in vCPUs. `*Used` counts claims in the cell DB.
 */
export interface HostState {
  readonly host: string
  readonly nodeId: number
  readonly availabilityZone: string
  readonly vcpus: number
  readonly vcpusUsed: number
  readonly memoryMb: number
  readonly memoryMbUsed: number
  readonly localGb: number
  readonly localGbUsed: number
  readonly reservedHostMemoryMb: number
  readonly reservedHostDiskGb: number
  readonly cpuAllocationRatio: number
  readonly ramAllocationRatio: number
  readonly diskAllocationRatio: number
  /** The compute service reported within the service-down time. */
  readonly serviceUp: boolean
  readonly serviceDisabled: boolean
  readonly instances: number
  readonly hypervisorType: string
  readonly hypervisorVersion: number
  readonly cpuArch: string
  /** Free-form capabilities matched by ComputeCapabilitiesFilter (`cpu_arch`, `hypervisor_type`, ...). */
  readonly capabilities: Readonly<Record<string, string>>
  /** Monotonic per node; bumped by every claim. */
  readonly generation: number
}

/** The flavor as the scheduler sees it. */
export interface FlavorSpec {
  readonly id: string
  readonly name: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly rootGb: number
  readonly ephemeralGb: number
  readonly swapMb: number
  readonly extraSpecs: Readonly<Record<string, string>>
}

/** One build as the scheduler sees it (Nova's RequestSpec). */
export interface RequestSpec {
  readonly instanceUuid: string
  readonly projectId: string
  readonly flavor: FlavorSpec
  readonly image: { readonly id: string; readonly properties: Readonly<Record<string, string>> }
  readonly availabilityZone?: string
  /** Hosts already tried for this build (RetryFilter). */
  readonly ignoreHosts: readonly string[]
  readonly schedulerHints: Readonly<Record<string, unknown>>
  /** Server group membership, with the hosts its other members already use. */
  readonly group?: {
    readonly uuid: string
    readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity'
    /** One entry per other member (a host running two members appears twice). */
    readonly hosts: readonly string[]
    /** Anti-affinity: members allowed per host (Nova's `max_server_per_host` rule, 2.64). Default 1. */
    readonly maxServerPerHost?: number
  }
  /**
   * The hosts of the instances named by the `same_host` / `different_host` scheduler hints, resolved
   * by the caller before scheduling (filters are pure and look nothing up). An absent list means the
   * hint was not given (the filter keeps every host); an empty `sameHost` list means the named
   * instances run nowhere, which leaves no host, as in Nova.
   */
  readonly hintHosts?: { readonly sameHost?: readonly string[]; readonly differentHost?: readonly string[] }
  /** Host aggregates with their hosts and metadata (the aggregate filters read them). Absent: none. */
  readonly aggregates?: ReadonlyArray<{ readonly hosts: readonly string[]; readonly metadata: Readonly<Record<string, string>> }>
}

/** Disk a flavor needs on the host, in GB (root + ephemeral + swap rounded up). */
export function requestedDiskGb(flavor: FlavorSpec): number {
  return flavor.rootGb + flavor.ephemeralGb + Math.ceil(flavor.swapMb / 1024)
}

/** Free capacity with allocation ratios and reserves applied. Negative means over-committed. */
export function freeCapacity(h: HostState): { memoryMb: number; vcpus: number; diskGb: number } {
  return { memoryMb: freeMemoryMb(h), vcpus: freeVcpus(h), diskGb: freeDiskGb(h) }
}

/** The memory part of {@link freeCapacity}, without allocating (the scheduler's hot loop uses it). */
export function freeMemoryMb(h: HostState): number {
  return h.memoryMb * h.ramAllocationRatio - h.reservedHostMemoryMb - h.memoryMbUsed
}

/** The vCPU part of {@link freeCapacity}: a 4-core host with ratio 2 and 3 vCPUs used has 5 free. */
export function freeVcpus(h: HostState): number {
  return h.vcpus * h.cpuAllocationRatio - h.vcpusUsed
}

/** The disk part of {@link freeCapacity}. */
export function freeDiskGb(h: HostState): number {
  return h.localGb * h.diskAllocationRatio - h.reservedHostDiskGb - h.localGbUsed
}
