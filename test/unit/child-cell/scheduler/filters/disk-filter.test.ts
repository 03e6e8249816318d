import { describe, expect, it } from 'vitest'
import { DiskFilter } from '../../../../../child-cell/scheduler/filters/disk-filter.js'
import { flavor, host, keeps, spec } from '../fixtures.js'

describe('DiskFilter', () => {
  const filter = DiskFilter.fromOptions({})
  // root 50 + ephemeral 30 + swap 1025 MB (rounded up to 2 GB) = 82 GB
  const big = flavor({ rootGb: 50, ephemeralGb: 30, swapMb: 1025 })

  it.each([
    { case: 'root + ephemeral + swap fit exactly', localGb: 82, ratio: 1, reserved: 0, used: 0, pass: true },
    { case: 'one GB short', localGb: 81, ratio: 1, reserved: 0, used: 0, pass: false },
    { case: 'used disk is counted', localGb: 100, ratio: 1, reserved: 0, used: 19, pass: false },
    { case: 'reserved disk is counted', localGb: 100, ratio: 1, reserved: 19, used: 0, pass: false },
    { case: 'ratio 2 over-commits', localGb: 50, ratio: 2, reserved: 0, used: 18, pass: true },
    { case: 'ratio 2 has limits', localGb: 50, ratio: 2, reserved: 0, used: 19, pass: false },
  ])('$case', ({ localGb, ratio, reserved, used, pass }) => {
    const h = host({ localGb, diskAllocationRatio: ratio, reservedHostDiskGb: reserved, localGbUsed: used })
    expect(keeps(filter, [h], spec({ flavor: big }))).toEqual([pass])
  })

  it('gives the disk it needed in its reason', () => {
    expect(filter.passes(host({ localGb: 10 }), spec({ flavor: big }))).toEqual({ pass: false, reason: expect.stringContaining('82 GB') })
  })
})
