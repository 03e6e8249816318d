import { describe, expect, it } from 'vitest'
import { RAMWeigher } from '../../../../../child-cell/scheduler/weighers/ram-weigher.js'
import { select } from '../../../../../shared/scheduling/pipeline.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { host, rawWeights, spec } from '../fixtures.js'

describe('RAMWeigher', () => {
  const hosts = [
    host({ host: 'empty', memoryMb: 8192 }),
    host({ host: 'half', memoryMb: 8192, memoryMbUsed: 4096 }),
    host({ host: 'ratio', memoryMb: 8192, ramAllocationRatio: 1.5, memoryMbUsed: 8192, reservedHostMemoryMb: 512 }),
  ]

  it('weighs free RAM after ratio and reserve', () => {
    expect(rawWeights(RAMWeigher.fromOptions({}), hosts, spec())).toEqual([8192, 4096, 3584])
  })

  it.each([
    { case: 'default multiplier 1.0 spreads', options: {}, multiplier: 1, order: ['empty', 'half', 'ratio'] },
    { case: 'a larger multiplier still spreads', options: { ram_weight_multiplier: 2.5 }, multiplier: 2.5, order: ['empty', 'half', 'ratio'] },
    { case: 'a negative multiplier stacks', options: { ram_weight_multiplier: -1.0 }, multiplier: -1, order: ['ratio', 'half', 'empty'] },
  ])('$case', ({ options, multiplier, order }) => {
    const w = RAMWeigher.fromOptions(options)
    expect(w.multiplier).toBe(multiplier)
    const { ranked } = select({ candidates: hosts, spec: spec(), filters: [], weighers: [w] })
    expect(ranked.map((r) => r.candidate.host)).toEqual(order)
  })

  it.each([
    { options: { ram_weight_multiplier: '2' } },
    { options: { ram_weight_multiplier: Number.NaN } },
    { options: { ram_weight_multipler: 2 } },
  ])('refuses bad options $options', ({ options }) => {
    expect(() => RAMWeigher.fromOptions(options)).toThrow(InvalidPluginOptionError)
  })
})
