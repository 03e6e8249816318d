import { describe, expect, it } from 'vitest'
import { CPUWeigher } from '../../../../../child-cell/scheduler/weighers/cpu-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { host, rawWeights, spec } from '../fixtures.js'

describe('CPUWeigher', () => {
  const hosts = [
    host({ host: 'small', vcpus: 4, cpuAllocationRatio: 2, vcpusUsed: 3 }),
    host({ host: 'big', vcpus: 16, cpuAllocationRatio: 1, vcpusUsed: 4 }),
    host({ host: 'full', vcpus: 4, cpuAllocationRatio: 1, vcpusUsed: 4 }),
  ]

  it('weighs free vCPUs after the allocation ratio', () => {
    expect(rawWeights(CPUWeigher.fromOptions({}), hosts, spec())).toEqual([5, 12, 0])
  })

  it.each([
    { options: {}, order: ['big', 'small', 'full'] },
    { options: { cpu_weight_multiplier: -1 }, order: ['full', 'small', 'big'] },
  ])('ranks with cpu_weight_multiplier $options', ({ options, order }) => {
    const { ranked } = select({ candidates: hosts, spec: spec(), filters: [], weighers: [CPUWeigher.fromOptions(options)] })
    expect(ranked.map((r) => r.candidate.host)).toEqual(order)
  })
})
