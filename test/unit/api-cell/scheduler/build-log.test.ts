import { describe, expect, it } from 'vitest'
import { BuildLog } from '../../../../api-cell/scheduler/build-log.js'

const U = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

describe('BuildLog', () => {
  it('keeps the refusals of a build with its outcome, newest build first', () => {
    let now = 1_000
    const log = new BuildLog({ now: () => now })
    log.refused(U(1), 'api!region-one', 'api!region-one!dc1: no valid host')
    now += 1
    log.ended(U(1), { outcome: 'placed', cellPath: 'api!region-two', host: 'r2-c1' })
    log.ended(U(2), { outcome: 'error', cellPath: 'cell0', host: null, reasons: ['api!region-two: no valid host'] })
    const all = log.recent({ limit: 10 })
    expect(all.map((b) => b.instance_uuid)).toEqual([U(2), U(1)])
    expect(all[1]).toMatchObject({ outcome: 'placed', cell_path: 'api!region-two', host: 'r2-c1', reasons: [] })
    expect(all[1]?.refusals).toEqual([{ cell_path: 'api!region-one', reason: 'api!region-one!dc1: no valid host', at: new Date(1_000).toISOString() }])
    expect(all[0]).toMatchObject({ outcome: 'error', cell_path: 'cell0', refusals: [] })
  })

  it.each([
    ['api!region-two', [2, 1]],
    ['api!region-one', [1]],
    ['api!region-one!dc1', [1]],
    ['api!region-one!dc2', []],
    ['api!region-o', []],
    ['cell0', [2]],
  ])('filters by cell %s: placed below it, refused by it or below it, or named by an ERROR reason', (cell, expected) => {
    const log = new BuildLog()
    log.refused(U(1), 'api!region-one', 'api!region-one!dc1: no valid host')
    log.ended(U(1), { outcome: 'placed', cellPath: 'api!region-two', host: 'r2-c1' })
    log.ended(U(2), { outcome: 'error', cellPath: 'cell0', host: null, reasons: ['api!region-two: no valid host'] })
    expect(log.recent({ cell, limit: 10 }).map((b) => b.instance_uuid)).toEqual(expected.map(U))
  })

  it('forgets the oldest builds past its size, and answers at most limit', () => {
    const log = new BuildLog({ size: 3 })
    for (let i = 1; i <= 5; i += 1) log.ended(U(i), { outcome: 'placed', cellPath: 'api!region-two', host: 'h' })
    expect(log.recent({ limit: 10 }).map((b) => b.instance_uuid)).toEqual([U(5), U(4), U(3)])
    expect(log.recent({ limit: 2 })).toHaveLength(2)
  })
})
