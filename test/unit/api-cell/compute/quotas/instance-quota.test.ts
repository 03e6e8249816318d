import { describe, expect, it } from 'vitest'
import { OverQuotaError } from '../../../../../shared/errors.js'
import type { InstanceQuotaRequest, QuotaBound } from '../../../../../api-cell/compute/quotas/instance-quota.js'
import { allowedInstances } from '../../../../../api-cell/compute/quotas/instance-quota.js'

const bound = (limit: number, used: number): QuotaBound[] => [{ limit, used }]
const req = (over: Partial<InstanceQuotaRequest> = {}): InstanceQuotaRequest => ({
  bounds: { instances: bound(10, 0), cores: bound(20, 0), ram: bound(51200, 0) },
  vcpus: 1,
  memoryMb: 512,
  minCount: 1,
  maxCount: 1,
  ...over,
})

describe('allowedInstances (Nova check_num_instances_quota)', () => {
  it.each([
    ['everything fits', req({ maxCount: 3 }), 3],
    ['max reduced to what fits, still >= min', req({ maxCount: 5, bounds: { instances: bound(10, 7), cores: bound(20, 0), ram: bound(51200, 0) } }), 3],
    ['cores bind before instances', req({ vcpus: 4, maxCount: 10 }), 5],
    ['ram binds', req({ memoryMb: 20000, maxCount: 4 }), 2],
    ['unlimited (-1) never binds', req({ maxCount: 50, bounds: { instances: bound(-1, 999), cores: bound(-1, 0), ram: bound(-1, 0) } }), 50],
    ['the tighter of project and user bounds wins', req({ maxCount: 4, bounds: { instances: [{ limit: 10, used: 0 }, { limit: 3, used: 1 }], cores: bound(20, 0), ram: bound(51200, 0) } }), 2],
  ])('%s', (_what, r, expected) => {
    expect(allowedInstances(r)).toBe(expected)
  })

  it('refuses with Nova\'s message when even min_count does not fit', () => {
    const r = req({ bounds: { instances: bound(10, 10), cores: bound(20, 10), ram: bound(51200, 5120) } })
    expect(() => allowedInstances(r)).toThrow(OverQuotaError)
    expect(() => allowedInstances(r)).toThrow('Quota exceeded for instances: Requested 1, but already used 10 of 10 instances')
  })

  it('lists every resource over quota, sorted, with min-max requested instances', () => {
    const r = req({ vcpus: 4, memoryMb: 1024, minCount: 2, maxCount: 3, bounds: { instances: bound(3, 2), cores: bound(8, 4), ram: bound(51200, 0) } })
    let err: unknown
    try {
      allowedInstances(r)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(OverQuotaError)
    expect((err as OverQuotaError).status).toBe(403)
    expect((err as OverQuotaError).message).toBe('Quota exceeded for cores, instances: Requested 12, 2-3, but already used 4, 2 of 8, 3 cores, instances')
  })

  it('reports real usage when it already exceeds a lowered limit', () => {
    expect(() => allowedInstances(req({ bounds: { instances: bound(2, 5), cores: bound(20, 0), ram: bound(51200, 0) } }))).toThrow(
      'Quota exceeded for instances: Requested 1, but already used 5 of 2 instances',
    )
  })
})
