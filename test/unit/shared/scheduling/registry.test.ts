import { describe, expect, it } from 'vitest'
import { InternalError } from '../../../../shared/errors.js'
import type { Filter, PluginFactory, Weigher } from '../../../../shared/scheduling/plugin.js'
import { PASS } from '../../../../shared/scheduling/plugin.js'
import {
  buildFilters,
  buildWeighers,
  createRegistry,
  DuplicatePluginError,
  InvalidPluginOptionError,
  readOptions,
  UnknownPluginError,
} from '../../../../shared/scheduling/registry.js'

type F = Filter<number, null>
type W = Weigher<number, null>

const filterNamed =
  (name: string): PluginFactory<F> =>
  (options) => ({ name, passes: () => PASS, ...(Object.keys(options).length > 0 ? { options } : {}) }) as F
const weigherNamed =
  (name: string, multiplier = 1): PluginFactory<W> =>
  () => ({ name, multiplier, weigh: () => 0 })

const filters = createRegistry<F>({ kind: 'filter', entries: { AFilter: filterNamed('AFilter'), BFilter: filterNamed('BFilter') } })

describe('createRegistry', () => {
  it('keeps names in registration order and finds factories', () => {
    expect(filters.names).toEqual(['AFilter', 'BFilter'])
    expect(filters.factory('BFilter')?.({}).name).toBe('BFilter')
    expect(filters.factory('CFilter')).toBeUndefined()
    expect(filters.factory('toString')).toBeUndefined()
  })

  it.each([
    { case: 'a name twice in a list', entries: [['AFilter', filterNamed('AFilter')], ['AFilter', filterNamed('AFilter')]] as const, base: undefined },
    { case: 'a name already in the base registry', entries: { BFilter: filterNamed('BFilter') }, base: filters },
  ])('rejects $case', ({ entries, base }) => {
    const build = () => createRegistry<F>({ kind: 'filter', entries, ...(base === undefined ? {} : { base }) })
    expect(build).toThrow(DuplicatePluginError)
    expect(build).toThrow(/'(AFilter|BFilter)' is registered more than once/)
  })

  it('extends a base registry with new names', () => {
    const more = createRegistry<F>({ kind: 'filter', entries: [['CFilter', filterNamed('CFilter')]], base: filters })
    expect(more.names).toEqual(['AFilter', 'BFilter', 'CFilter'])
  })
})

describe('buildFilters / buildWeighers', () => {
  it('builds the enabled plugins in the order given', () => {
    expect(buildFilters(filters, ['BFilter', 'AFilter']).map((f) => f.name)).toEqual(['BFilter', 'AFilter'])
    expect(buildFilters(filters, [])).toEqual([])
  })

  it('passes each plugin its own options', () => {
    const [a, b] = buildFilters(filters, ['AFilter', 'BFilter'], { AFilter: { x: 1 } })
    expect(a).toMatchObject({ options: { x: 1 } })
    expect(b).not.toHaveProperty('options')
  })

  it.each<{ case: string; enabled: string[]; options: Record<string, Record<string, unknown>>; error: new (...a: never[]) => Error; message: RegExp }>([
    { case: 'an unknown enabled name', enabled: ['AFilter', 'TypoFilter'], options: {}, error: UnknownPluginError, message: /Unknown scheduler filter 'TypoFilter'; available filters: AFilter, BFilter/ },
    { case: 'a name enabled twice', enabled: ['AFilter', 'AFilter'], options: {}, error: DuplicatePluginError, message: /'AFilter' is enabled more than once/ },
    { case: 'options for an unknown plugin', enabled: ['AFilter'], options: { TypoFilter: {} }, error: UnknownPluginError, message: /'TypoFilter'/ },
  ])('fails at start-up on $case', ({ enabled, options, error, message }) => {
    const build = () => buildFilters(filters, enabled, options)
    expect(build).toThrow(error)
    expect(build).toThrow(message)
  })

  it('refuses a plugin that calls itself by another name', () => {
    const liar = createRegistry<F>({ kind: 'filter', entries: { AFilter: filterNamed('OtherFilter') } })
    expect(() => buildFilters(liar, ['AFilter'])).toThrow(InternalError)
  })

  it('refuses a weigher whose multiplier is not finite', () => {
    const weighers = createRegistry<W>({ kind: 'weigher', entries: { Good: weigherNamed('Good', 2), Bad: weigherNamed('Bad', Number.POSITIVE_INFINITY) } })
    expect(buildWeighers(weighers, ['Good']).map((w) => w.multiplier)).toEqual([2])
    expect(() => buildWeighers(weighers, ['Bad'])).toThrow(InvalidPluginOptionError)
    expect(() => buildWeighers(weighers, ['Nope'])).toThrow(/Unknown scheduler weigher 'Nope'/)
  })
})

describe('readOptions', () => {
  const defaults = { ratio: 1.0, name: 'x', on: false }

  it.each([
    { case: 'defaults', options: {}, want: { ratio: 1, name: 'x', on: false } },
    { case: 'overrides', options: { ratio: -2.5, on: true }, want: { ratio: -2.5, name: 'x', on: true } },
  ])('$case', ({ options, want }) => {
    const got = readOptions({ pluginName: 'P', options, defaults })
    expect(got).toEqual(want)
    expect(Object.isFrozen(got)).toBe(true)
  })

  it.each([
    { case: 'an unknown key', options: { ratoi: 2 }, message: /option 'ratoi' is not read by this plugin \(it reads: ratio, name, on\)/ },
    { case: 'a string for a number', options: { ratio: '2' }, message: /option 'ratio' must be a finite number, got "2"/ },
    { case: 'NaN', options: { ratio: Number.NaN }, message: /must be a finite number/ },
    { case: 'a number for a boolean', options: { on: 1 }, message: /option 'on' must be a boolean/ },
  ])('refuses $case', ({ options, message }) => {
    expect(() => readOptions({ pluginName: 'P', options, defaults })).toThrow(InvalidPluginOptionError)
    expect(() => readOptions({ pluginName: 'P', options, defaults })).toThrow(message)
  })
})
