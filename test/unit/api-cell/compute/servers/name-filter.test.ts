import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidError } from '../../../../../shared/errors.js'
import { nameFilter } from '../../../../../api-cell/compute/servers/name-filter.js'

/** The `name` filter: Python `re.search` semantics for ordinary patterns, linear time for all. */
describe('nameFilter', () => {
  it.each([
    ['vm', 'my-vm-1', true],
    ['^vm', 'my-vm-1', false],
    ['^my', 'my-vm-1', true],
    ['1$', 'my-vm-1', true],
    ['vm-[0-9]+', 'my-vm-12', true],
    ['VM', 'my-vm', false],
    ['(?i)VM', 'my-vm', true],
    ['a|b', 'xbx', true],
    ['\\d{2}', 'a1b', false],
    ['', 'anything', true],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(nameFilter(pattern)(name)).toBe(expected)
  })

  it('answers a catastrophic-backtracking pattern as a linear engine does', () => {
    const evil = `${'a'.repeat(5000)}!`
    expect(nameFilter('(a+)+$')(evil)).toBe(false)
    expect(nameFilter('(a|aa)+!')(evil)).toBe(true)
    expect(nameFilter('(a*)*b')(evil)).toBe(false)
  })

  // Test-only RegExp: patterns from a closed alphabet without nested quantifiers cannot backtrack badly.
  it('agrees with JavaScript RegExp on ordinary patterns without nested quantifiers', () => {
    const pattern = fc.array(fc.constantFrom('a', 'b', '.', '[ab]', 'a?', 'b*', '^', '$', '\\d', 'x+'), { maxLength: 6 }).map((p) => p.join(''))
    fc.assert(
      fc.property(pattern, fc.string({ maxLength: 12 }), (p, s) => nameFilter(p)(s) === new RegExp(p).test(s)),
      { seed: 3, numRuns: 300 },
    )
  })

  it.each(['(', '[a', '(a)\\1', 'a(?=b)', 'a(?!b)', '(?<=a)b', 'x'.repeat(1025), 'a{1000}'.repeat(146), 'a{600}b{600}', 'a{0,1001}', '\\pL{1001}'])(
    'refuses %s with a 400',
    (pattern) => {
      expect(() => nameFilter(pattern)).toThrow(InvalidError)
    },
  )

  it('still takes counted repetitions up to the bound', () => {
    expect(nameFilter('a{255}')('a'.repeat(255))).toBe(true)
    expect(nameFilter('^x{2,3}$')('xxx')).toBe(true)
    expect(nameFilter('\\{1\\}')('{1}')).toBe(true)
  })
})
