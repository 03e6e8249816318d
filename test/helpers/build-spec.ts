import { randomUUID } from 'node:crypto'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'

/**
 * A well-formed build spec for tests: an m1.tiny of the cirros image for project `p`, user `u`,
 * with a fresh instance uuid unless `overrides` says otherwise.
 */
export function buildSpecFixture(overrides: Partial<BuildSpec> = {}): BuildSpec {
  return {
    instanceUuid: randomUUID(),
    name: 'vm',
    hostname: 'vm',
    projectId: 'p',
    userId: 'u',
    flavor: { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
    image: { id: 'img', name: 'cirros', properties: {} },
    availabilityZone: null,
    metadata: {},
    keyName: null,
    keyData: null,
    userData: null,
    description: null,
    reservationId: 'r-1',
    launchIndex: 0,
    schedulerHints: {},
    createdAt: Date.now(),
    ...overrides,
  }
}
