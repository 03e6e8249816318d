import { describe, expect, it } from 'vitest'
import { CellDisabledFilter } from '../../../../../shared/scheduling/cell-filters/cell-disabled-filter.js'
import { cell, request } from '../fixtures.js'

describe('CellDisabledFilter', () => {
  const filter = CellDisabledFilter.fromOptions({})

  it.each([
    { case: 'enabled and up', disabled: false, up: true, reason: undefined },
    { case: 'disabled', disabled: true, up: true, reason: 'disabled' },
    { case: 'down (stale report)', disabled: false, up: false, reason: 'down' },
    { case: 'both', disabled: true, up: false, reason: 'disabled' },
  ])('$case', ({ disabled, up, reason }) => {
    const v = filter.passes(cell({ disabled, up }), request())
    expect(v).toEqual(reason === undefined ? { pass: true } : { pass: false, reason: expect.stringContaining(reason) })
  })
})
