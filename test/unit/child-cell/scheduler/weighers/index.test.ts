import { describe, expect, it } from 'vitest'
import { DEFAULT_HOST_WEIGHERS, hostWeigherRegistry } from '../../../../../child-cell/scheduler/weighers/index.js'
import { buildWeighers } from '../../../../../shared/scheduling/registry.js'

describe('host weigher registry', () => {
  it('registers Nova names, each weigher calling itself by its registered name', () => {
    expect([...hostWeigherRegistry.names].sort()).toEqual([
      'CPUWeigher',
      'DiskWeigher',
      'RAMWeigher',
      'ServerGroupSoftAffinityWeigher',
      'ServerGroupSoftAntiAffinityWeigher',
    ])
    for (const name of hostWeigherRegistry.names) expect(hostWeigherRegistry.factory(name)?.({}).name).toBe(name)
  })

  it('passes each weigher its own options', () => {
    const [ram, cpu] = buildWeighers(hostWeigherRegistry, ['RAMWeigher', 'CPUWeigher'], {
      RAMWeigher: { ram_weight_multiplier: -1 },
      CPUWeigher: { cpu_weight_multiplier: 0.5 },
    })
    expect([ram?.multiplier, cpu?.multiplier]).toEqual([-1, 0.5])
    expect(buildWeighers(hostWeigherRegistry, DEFAULT_HOST_WEIGHERS)).toHaveLength(5)
  })
})
