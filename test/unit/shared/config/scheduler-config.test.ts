import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { hostPluginsOf } from '../../../../child-cell/scheduler/plugins.js'
import { cellPluginsOf, DEFAULT_SCHEDULER_CONFIG, loadSchedulerConfig, parseSchedulerConfig } from '../../../../shared/config/scheduler-config.js'
import { federationConfig } from '../../../../shared/config/federation.js'
import { UnknownPluginError } from '../../../../shared/scheduling/registry.js'

describe('scheduler configuration', () => {
  it('defaults to Nova: host_subset_size 1, max_attempts 3, every built-in plugin', () => {
    const cfg = parseSchedulerConfig('', 'scheduler.yaml')
    expect(cfg).toEqual(DEFAULT_SCHEDULER_CONFIG)
    expect(hostPluginsOf(cfg).filters.map((f) => f.name)).toContain('RetryFilter')
    expect(cellPluginsOf(cfg).filters.map((f) => f.name)).toContain('CellServerGroupFilter')
  })

  it('reads filters, weighers and options by name, in order', () => {
    const cfg = parseSchedulerConfig(
      [
        'host:',
        '  enabled_filters: [RetryFilter, RamFilter]',
        '  weighers: [RAMWeigher]',
        '  options: { RAMWeigher: { ram_weight_multiplier: -1.0 } }',
        '  host_subset_size: 3',
        '  max_attempts: 5',
        'cell:',
        '  enabled_filters: [CellDisabledFilter]',
        '  weighers: [CellWeightOffsetWeigher]',
        '  options: { CellWeightOffsetWeigher: { offset_weight_multiplier: 7 } }',
        '  max_attempts: 2',
        'workers: 2',
      ].join('\n'),
      'scheduler.yaml',
    )
    const host = hostPluginsOf(cfg)
    expect(host.filters.map((f) => f.name)).toEqual(['RetryFilter', 'RamFilter'])
    expect(host.weighers.map((w) => [w.name, w.multiplier])).toEqual([['RAMWeigher', -1]])
    expect(cellPluginsOf(cfg).weighers.map((w) => [w.name, w.multiplier])).toEqual([['CellWeightOffsetWeigher', 7]])
    expect([cfg.hostSubsetSize, cfg.maxAttempts, cfg.maxCellAttempts, cfg.workers]).toEqual([3, 5, 2, 2])
  })

  it.each([
    { case: 'an unknown cell filter', text: 'cell:\n  enabled_filters: [NoSuchFilter]', error: /NoSuchFilter/ },
    { case: 'options for an unknown cell plugin', text: 'cell:\n  options: { Nope: { x: 1 } }', error: /Nope/ },
    { case: 'a mistyped cell option', text: 'cell:\n  options: { CellFreeCapacityWeigher: { capacity_weight_multiplier: "big" } }', error: /capacity_weight_multiplier/ },
    { case: 'an unknown key', text: 'host:\n  max_attempt: 3', error: /max_attempt/ },
    { case: 'a zero subset', text: 'host:\n  host_subset_size: 0', error: /host_subset_size/ },
  ])('refuses $case at start-up', ({ text, error }) => {
    expect(() => parseSchedulerConfig(text, 'scheduler.yaml')).toThrow(error)
  })

  it('refuses an unknown host filter or weigher, or options for an unknown host plugin, when the scheduler is built', () => {
    expect(() => hostPluginsOf(parseSchedulerConfig('host:\n  enabled_filters: [RamFilter, NoSuchFilter]', 'f'))).toThrow(UnknownPluginError)
    expect(() => hostPluginsOf(parseSchedulerConfig('host:\n  weighers: [NoSuchWeigher]', 'f'))).toThrow(UnknownPluginError)
    expect(() => hostPluginsOf(parseSchedulerConfig('host:\n  options: { Nope: { x: 1 } }', 'f'))).toThrow(/Nope/)
  })

  it('loads the file named by --scheduler-config, with --scheduler-workers over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sched-cfg-'))
    const file = join(dir, 'scheduler.yaml')
    writeFileSync(file, 'workers: 3\nhost:\n  max_attempts: 4\n')
    const cfg = federationConfig('embedded', { 'state-dir': dir, 'scheduler-config': file, 'scheduler-workers': '2' })
    expect([cfg.scheduler.maxAttempts, cfg.scheduler.workers]).toEqual([4, 2])
    expect(() => federationConfig('embedded', { 'state-dir': dir, 'scheduler-config': join(dir, 'missing.yaml') })).toThrow(/does not exist/)
    expect(() => federationConfig('embedded', { 'state-dir': dir, 'scheduler-workers': '0' })).toThrow(/scheduler-workers/)
    expect(loadSchedulerConfig({ path: undefined, fallbackPath: join(dir, 'none.yaml') })).toEqual(DEFAULT_SCHEDULER_CONFIG)
  })
})
