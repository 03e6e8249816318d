import { describe, expect, it } from 'vitest'
import { compileExtraSpec, matchExtraSpec } from '../../../../../child-cell/scheduler/filters/extra-specs-ops.js'

describe('extra spec operators (Nova extra_specs_ops.match)', () => {
  it.each([
    // no operator: the whole requirement must equal the value
    ['1', '1', true],
    ['', '1', false],
    ['abc', 'abc', true],
    ['abc', 'xyz abc', false],
    // `=` means "at least" (numeric)
    ['123', '= 123', true],
    ['124', '= 123', true],
    ['34', '= 234', false],
    ['34', '=', false],
    // numeric comparisons
    ['123', '== 123', true],
    ['123.0', '== 123', true],
    ['124', '== 123', false],
    ['124', '!= 123', true],
    ['123', '!= 123', false],
    ['124', '>= 123', true],
    ['122', '>= 123', false],
    ['123', '<= 123', true],
    ['124', '<= 123', false],
    ['1e3', '>= 999', true],
    ['inf', '>= 1', true],
    [' 12 ', '== 12', true],
    // where Nova would raise, the requirement is simply not met
    ['abc', '>= 1', false],
    ['0x10', '>= 1', false],
    ['', '>= 0', false],
    ['abc', '!= 1', false],
    // string comparisons
    ['123', 's== 123', true],
    ['1234', 's== 123', false],
    ['1234', 's!= 123', true],
    ['123', 's>= 1000', true],
    ['1000', 's<= 123', true],
    ['abc', 's< abd', true],
    ['abd', 's> abc', true],
    ['abc', 's> abc', false],
    // substring
    ['12311321', '<in> 11', true],
    ['12310321', '<in> 11', false],
    ['avx avx2 sse', '<in> avx2', true],
    ['avx sse', '<all-in> avx sse', true],
    ['avx sse', '<all-in> avx avx2', false],
    // alternatives
    ['12', '<or> 11 <or> 12', true],
    ['13', '<or> 11 <or> 12', false],
    ['13', '<or> 11 <or> 12 <or>', false],
    ['11', '<or> 11', true],
    ['11', '<or>', false],
  ] as const)('%j against %j is %s', (value, req, want) => {
    expect(matchExtraSpec(value, req)).toBe(want)
  })

  it('compiles once and applies to many values', () => {
    const m = compileExtraSpec('<or> kvm <or> qemu')
    expect(['kvm', 'qemu', 'xen'].map(m)).toEqual([true, true, false])
  })
})
