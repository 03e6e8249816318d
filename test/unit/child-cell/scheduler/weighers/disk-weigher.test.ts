import { describe, expect, it } from 'vitest'
import { DiskWeigher } from '../../../../../child-cell/scheduler/weighers/disk-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { host, rawWeights, spec } from '../fixtures.js'

describe('DiskWeigher', () => {
  const hosts = [
    host({ host: 'a', localGb: 100, localGbUsed: 90 }),
    host({ host: 'b', localGb: 100, reservedHostDiskGb: 20 }),
    host({ host: 'c', localGb: 100, diskAllocationRatio: 2, localGbUsed: 150 }),
  ]

  it('weighs free disk after ratio and reserve', () => {
    expect(rawWeights(DiskWeigher.fromOptions({}), hosts, spec())).toEqual([10, 80, 50])
  })

  it.each([
    { options: {}, order: ['b', 'c', 'a'] },
    { options: { disk_weight_multiplier: -2 }, order: ['a', 'c', 'b'] },
  ])('ranks with disk_weight_multiplier $options', ({ options, order }) => {
    const { ranked } = select({ candidates: hosts, spec: spec(), filters: [], weighers: [DiskWeigher.fromOptions(options)] })
    expect(ranked.map((r) => r.candidate.host)).toEqual(order)
  })
})
