import { describe, expect, it } from 'vitest'
import { CoreFilter } from '../../../../../child-cell/scheduler/filters/core-filter.js'
import { InvalidPluginOptionError } from '../../../../../shared/scheduling/registry.js'
import { flavor, host, keeps, spec } from '../fixtures.js'

describe('CoreFilter', () => {
  const filter = CoreFilter.fromOptions({})

  it.each([
    { case: '4 cores, ratio 2: 8 vCPUs fit', vcpus: 4, ratio: 2, used: 0, want: 8, pass: true },
    { case: '4 cores, ratio 2: 9 vCPUs do not', vcpus: 4, ratio: 2, used: 0, want: 9, pass: false },
    { case: '4 cores, ratio 2, 3 used: 5 more fit', vcpus: 4, ratio: 2, used: 3, want: 5, pass: true },
    { case: '4 cores, ratio 2, 3 used: 6 more do not', vcpus: 4, ratio: 2, used: 3, want: 6, pass: false },
    { case: '4 cores, ratio 1: 4 fit', vcpus: 4, ratio: 1, used: 0, want: 4, pass: true },
    { case: '4 cores, ratio 1: 5 do not', vcpus: 4, ratio: 1, used: 0, want: 5, pass: false },
    { case: 'fractional ratio 1.5 on 4 cores: 6 fit', vcpus: 4, ratio: 1.5, used: 0, want: 6, pass: true },
    { case: 'over-committed host: nothing fits', vcpus: 4, ratio: 1, used: 6, want: 1, pass: false },
    { case: 'a host reporting 0 vCPUs has no room', vcpus: 0, ratio: 16, used: 0, want: 1, pass: false },
  ])('$case', ({ vcpus, ratio, used, want, pass }) => {
    const h = host({ vcpus, cpuAllocationRatio: ratio, vcpusUsed: used })
    expect(keeps(filter, [h], spec({ flavor: flavor({ vcpus: want }) }))).toEqual([pass])
  })

  it('gives the requested vCPUs in its reason', () => {
    const v = filter.passes(host({ vcpus: 1 }), spec({ flavor: flavor({ vcpus: 3 }) }))
    expect(v).toEqual({ pass: false, reason: expect.stringContaining('3 requested') })
  })

  it('keeps only the hosts with room, in order, in one batch', () => {
    const hosts = [host({ host: 'a', vcpusUsed: 4 }), host({ host: 'b' }), host({ host: 'c', vcpusUsed: 3 }), host({ host: 'd' })]
    expect(keeps(filter, hosts, spec({ flavor: flavor({ vcpus: 2 }) }))).toEqual([false, true, false, true])
  })

  it('reads no options', () => {
    expect(() => CoreFilter.fromOptions({ cpu_allocation_ratio: 2 })).toThrow(InvalidPluginOptionError)
    expect(filter.name).toBe('CoreFilter')
  })
})
