import { describe, expect, it } from 'vitest'
import { ComputeFilter } from '../../../../../child-cell/scheduler/filters/compute-filter.js'
import { host, keeps, spec } from '../fixtures.js'

describe('ComputeFilter', () => {
  const filter = ComputeFilter.fromOptions({})

  it.each([
    { case: 'up and enabled', serviceUp: true, serviceDisabled: false, reason: undefined },
    { case: 'down', serviceUp: false, serviceDisabled: false, reason: 'down' },
    { case: 'disabled', serviceUp: true, serviceDisabled: true, reason: 'disabled' },
    { case: 'down and disabled: disabled explains more', serviceUp: false, serviceDisabled: true, reason: 'disabled' },
  ])('$case', ({ serviceUp, serviceDisabled, reason }) => {
    const h = host({ serviceUp, serviceDisabled })
    expect(keeps(filter, [h], spec())).toEqual([reason === undefined])
    const v = filter.passes(h, spec())
    if (reason !== undefined) expect(v).toEqual({ pass: false, reason: expect.stringContaining(reason) })
  })
})
