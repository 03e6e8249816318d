import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../../shared/cell-link/build-spec.js'
import { reconcileChild } from '../../../../shared/cell-link/anti-entropy.js'
import type { InstanceEvent, InstanceVersion, InstanceVersionPage } from '../../../../shared/cell-link/types.js'

const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`

/** A subtree of `n` instances (version i % 5 + 1), served page by page as a child would. */
function subtree(n: number) {
  const all: InstanceVersion[] = Array.from({ length: n }, (_, i) => ({ uuid: uuid(i), version: (i % 5) + 1, cellPath: i % 2 === 0 ? 'api!r!a' : 'api!r!b' }))
  const pages: InstanceVersionPage[] = []
  return {
    pages,
    link: {
      listInstanceVersions: async (_ctx: unknown, p: InstanceVersionPage) => {
        pages.push(p)
        return all.filter((v) => v.uuid > p.afterUuid).slice(0, p.limit)
      },
      getInstances: async (_ctx: unknown, a: { cellPath: string; uuids: readonly string[] }) =>
        all
          .filter((v) => v.cellPath === a.cellPath && a.uuids.includes(v.uuid))
          .map((v) => ({ uuid: v.uuid, version: v.version, cellPath: v.cellPath, flavor: { id: '1' }, deleted: false }) as unknown as InstanceRecord),
    },
  }
}

describe('reconcileChild', () => {
  it.each([
    [0, 3, 1],
    [7, 3, 3],
    [9, 3, 4],
    [10, 1000, 1],
  ])('visits every instance of %i in pages of %i (%i pages)', async (n, pageSize, pages) => {
    const t = subtree(n)
    // The parent's index knows the even instances at their version, the odd ones one version older.
    const index = new Map<string, number>()
    for (let i = 0; i < n; i += 1) index.set(uuid(i), (i % 5) + 1 - (i % 2))
    const repaired: InstanceEvent[] = []
    const res = await reconcileChild({
      childPath: 'api!r',
      link: t.link,
      pageSize,
      target: {
        differing: async (_c, page) => page.filter((v) => (index.get(v.uuid) ?? -1) !== v.version),
        repair: async (_c, events) => {
          repaired.push(...events)
          return events.length
        },
      },
    })
    expect(t.pages).toHaveLength(pages)
    expect(res.checked).toBe(n)
    const odd = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1)
    expect(res.differing).toBe(odd.length)
    expect(res.repaired).toBe(odd.length)
    expect(repaired.map((e) => e.instanceUuid).sort()).toEqual(odd.map(uuid))
    expect(repaired.every((e) => e.version === index.get(e.instanceUuid)! + 1 && e.cellPath === 'api!r!b')).toBe(true)
  })

  it('leaves a build handed back up (deleted in ERROR at the leaf) to its event', async () => {
    const rec = (u: string, vmState: string, deleted: boolean) => ({ uuid: u, version: 3, cellPath: 'api!r!a', vmState, deleted, flavor: { id: '1' } }) as unknown as InstanceRecord
    const records = [rec(uuid(1), 'error', true), rec(uuid(2), 'deleted', true), rec(uuid(3), 'error', false)]
    const repaired: string[] = []
    const res = await reconcileChild({
      childPath: 'api!r',
      link: {
        listInstanceVersions: async (_c, p) => (p.afterUuid === '' ? records.map((r) => ({ uuid: r.uuid, version: 3, cellPath: 'api!r!a' })) : []),
        getInstances: async (_c, a) => records.filter((r) => a.uuids.includes(r.uuid)),
      },
      target: {
        differing: async (_c, page) => [...page],
        repair: async (_c, events) => {
          repaired.push(...events.map((e) => e.instanceUuid))
          return events.length
        },
      },
    })
    expect(res.differing).toBe(3)
    expect(repaired.sort()).toEqual([uuid(2), uuid(3)])
  })
})
