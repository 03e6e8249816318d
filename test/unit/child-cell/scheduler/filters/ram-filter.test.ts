import { describe, expect, it } from 'vitest'
import { RamFilter } from '../../../../../child-cell/scheduler/filters/ram-filter.js'
import { flavor, host, keeps, spec } from '../fixtures.js'

describe('RamFilter', () => {
  const filter = RamFilter.fromOptions({})

  it.each([
    { case: 'exactly the free memory fits', memoryMb: 8192, ratio: 1, reserved: 0, used: 0, want: 8192, pass: true },
    { case: 'one MB more does not', memoryMb: 8192, ratio: 1, reserved: 0, used: 0, want: 8193, pass: false },
    { case: 'used memory is counted', memoryMb: 8192, ratio: 1, reserved: 0, used: 4096, want: 4097, pass: false },
    { case: 'reserved memory is counted', memoryMb: 8192, ratio: 1, reserved: 512, used: 0, want: 7681, pass: false },
    { case: 'ratio 1.5 over-commits', memoryMb: 8192, ratio: 1.5, reserved: 0, used: 8192, want: 4096, pass: true },
    { case: 'ratio 1.5 has limits', memoryMb: 8192, ratio: 1.5, reserved: 0, used: 8192, want: 4097, pass: false },
    { case: 'one instance may use the over-commit', memoryMb: 4096, ratio: 2, reserved: 0, used: 0, want: 8192, pass: true },
  ])('$case', ({ memoryMb, ratio, reserved, used, want, pass }) => {
    const h = host({ memoryMb, ramAllocationRatio: ratio, reservedHostMemoryMb: reserved, memoryMbUsed: used })
    expect(keeps(filter, [h], spec({ flavor: flavor({ memoryMb: want }) }))).toEqual([pass])
  })

  it('gives the requested memory in its reason', () => {
    expect(filter.passes(host(), spec({ flavor: flavor({ memoryMb: 9000 }) }))).toEqual({
      pass: false,
      reason: expect.stringContaining('9000 MB requested'),
    })
  })

  it('agrees with itself over a batch', () => {
    const hosts = [host({ memoryMbUsed: 8000 }), host(), host({ memoryMb: 1024 })]
    expect(keeps(filter, hosts, spec({ flavor: flavor({ memoryMb: 2048 }) }))).toEqual([false, true, false])
  })
})
