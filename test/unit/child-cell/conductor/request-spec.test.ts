import { describe, expect, it } from 'vitest'
import { requestSpecOf } from '../../../../child-cell/conductor/operations/build.js'
import type { BuildSpec } from '../../../../shared/cell-link/build-spec.js'

const build = (overrides: Partial<BuildSpec> = {}): BuildSpec => ({
  instanceUuid: '00000000-0000-4000-8000-000000000001',
  name: 'vm',
  hostname: 'vm',
  projectId: 'p',
  userId: 'u',
  flavor: { id: '1', name: 'm1.tiny', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
  image: { id: 'img', name: 'cirros', properties: { hw_architecture: 'x86_64' } },
  availabilityZone: 'dc1',
  metadata: {},
  keyName: null,
  keyData: null,
  userData: null,
  description: null,
  reservationId: 'r-1',
  launchIndex: 0,
  schedulerHints: { group: 'g' },
  createdAt: 0,
  ...overrides,
})

describe('requestSpecOf', () => {
  it.each([
    { case: 'no group', group: undefined, want: undefined },
    {
      case: 'members become one host entry each',
      group: { uuid: 'g', policy: 'soft-anti-affinity' as const, members: [{ host: 'h1', cellPath: 'api!a' }, { host: 'h1', cellPath: 'api!a' }, { host: 'h2', cellPath: 'api!b' }] },
      want: { uuid: 'g', policy: 'soft-anti-affinity', hosts: ['h1', 'h1', 'h2'] },
    },
    {
      case: 'the anti-affinity rule travels',
      group: { uuid: 'g', policy: 'anti-affinity' as const, maxServerPerHost: 2, members: [] },
      want: { uuid: 'g', policy: 'anti-affinity', hosts: [], maxServerPerHost: 2 },
    },
  ])('$case', ({ group, want }) => {
    const r = requestSpecOf(build(group === undefined ? {} : { group }))
    expect(r.group).toEqual(want)
    expect(r.availabilityZone).toBe('dc1')
    expect(r.ignoreHosts).toEqual([])
  })

  it('carries the hosts already tried and the resolved hint hosts', () => {
    const r = requestSpecOf(build(), { ignoreHosts: ['h1'], hintHosts: { sameHost: ['h3'] } })
    expect(r.ignoreHosts).toEqual(['h1'])
    expect(r.hintHosts).toEqual({ sameHost: ['h3'] })
  })
})
