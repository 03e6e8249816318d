import type { CellCandidate, CellRequest } from '../../../../shared/scheduling/cell-candidate.js'

/** An enabled, fresh child cell with room for 10 `f1` (3 per host) and two x86_64 QEMU hosts. */
export function cell(overrides: Partial<CellCandidate> = {}): CellCandidate {
  return {
    path: 'api!r1',
    name: 'r1',
    disabled: false,
    up: true,
    weightOffset: 0,
    reportAgeMs: 1000,
    availabilityZones: ['nova'],
    hostKinds: [{ cpuArch: 'x86_64', hypervisorType: 'QEMU', hypervisorVersions: [6002000] }],
    flavorFits: { f1: { count: 10, maxPerHost: 3 } },
    freeRamMb: 16384,
    freeVcpus: 16,
    freeDiskGb: 200,
    largestHostFree: { memoryMb: 8192, vcpus: 8, diskGb: 100 },
    hostsUp: 2,
    ...overrides,
  }
}

/** A non-admin request for flavor `f1` (2 GB, 2 vCPUs, 20 GB) without zone, image needs or hints. */
export function request(overrides: Partial<CellRequest> = {}): CellRequest {
  return {
    flavor: { id: 'f1', memoryMb: 2048, vcpus: 2, diskGb: 20 },
    imageProperties: {},
    hints: {},
    isAdmin: false,
    triedCells: [],
    ...overrides,
  }
}
