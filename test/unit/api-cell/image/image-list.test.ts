import { describe, expect, it } from 'vitest'
import { InvalidError } from '../../../../shared/errors.js'
import { selectPage } from '../../../../api-cell/image/image-list.js'
import type { Image } from '../../../../api-cell/image/image-model.js'
import { parseListQuery } from '../../../../api-cell/image/list-query.js'

const viewer = { projectId: 'A', isAdmin: false }

function img(n: number, over: Partial<Image> = {}): Image {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    name: `img-${n}`,
    status: 'active',
    visibility: 'public',
    containerFormat: 'bare',
    diskFormat: 'qcow2',
    size: n * 10,
    virtualSize: null,
    checksum: null,
    osHashAlgo: null,
    osHashValue: null,
    minDisk: 0,
    minRam: 0,
    protected: false,
    osHidden: false,
    owner: 'A',
    tags: [],
    properties: {},
    createdAt: 1000 + n,
    updatedAt: 1000 + n,
    ...over,
  }
}

describe('selectPage', () => {
  const all = [1, 2, 3, 4, 5].map((n) => img(n))

  it('sorts newest first by default and pages with a next marker only on full pages', () => {
    const p1 = selectPage(all, viewer, { limit: 2 })
    expect(p1.images.map((i) => i.name)).toEqual(['img-5', 'img-4'])
    expect(p1.nextMarker).toBe(all[3]?.id)
    const p2 = selectPage(all, viewer, { limit: 2, marker: p1.nextMarker ?? '' })
    expect(p2.images.map((i) => i.name)).toEqual(['img-3', 'img-2'])
    const p3 = selectPage(all, viewer, { limit: 2, marker: p2.nextMarker ?? '' })
    expect(p3.images.map((i) => i.name)).toEqual(['img-1'])
    expect(p3.nextMarker).toBeUndefined()
  })

  it('sorts by several keys with tie-breakers', () => {
    const same = [img(1, { name: 'b' }), img(2, { name: 'a' }), img(3, { name: 'b' })]
    expect(selectPage(same, viewer, { sort: [{ key: 'name', dir: 'asc' }] }).images.map((i) => i.size)).toEqual([20, 10, 30])
    expect(selectPage(same, viewer, { sort: [{ key: 'name', dir: 'desc' }] }).images.map((i) => i.size)).toEqual([30, 10, 20])
  })

  it('filters by tags, properties, size and hides hidden images by default', () => {
    const set = [
      img(1, { tags: ['x', 'y'] }),
      img(2, { tags: ['x'], properties: { os_distro: 'cirros' } }),
      img(3, { osHidden: true }),
    ]
    expect(selectPage(set, viewer, { tags: ['x', 'y'] }).images.map((i) => i.size)).toEqual([10])
    expect(selectPage(set, viewer, { properties: { os_distro: 'cirros' } }).images.map((i) => i.size)).toEqual([20])
    expect(selectPage(set, viewer, { sizeMin: 15 }).images.map((i) => i.size)).toEqual([20])
    expect(selectPage(set, viewer, {}).images).toHaveLength(2)
    expect(selectPage(set, viewer, { osHidden: true }).images.map((i) => i.size)).toEqual([30])
  })

  it('rejects a marker that is not in the listing', () => {
    expect(() => selectPage(all, viewer, { marker: 'nope' })).toThrow(InvalidError)
  })
})

describe('parseListQuery', () => {
  it('parses filters, paging, sorting and custom property filters', () => {
    expect(
      parseListQuery({
        name: 'cirros',
        visibility: 'public',
        limit: '10',
        marker: 'm',
        sort_key: ['name', 'size'],
        sort_dir: ['asc', 'desc'],
        tag: ['a', 'b'],
        os_distro: 'cirros',
        protected: 'false',
      }),
    ).toEqual({
      name: 'cirros',
      visibility: 'public',
      limit: 10,
      marker: 'm',
      sort: [
        { key: 'name', dir: 'asc' },
        { key: 'size', dir: 'desc' },
      ],
      tags: ['a', 'b'],
      properties: { os_distro: 'cirros' },
      protected: false,
    })
    expect(parseListQuery({ sort: 'name:asc,created_at' }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'created_at', dir: 'desc' },
    ])
    expect(parseListQuery({ limit: '5000' }).limit).toBe(1000)
  })

  it.each([
    [{ limit: '-1' }],
    [{ limit: 'ten' }],
    [{ sort_key: 'owner_secret' }],
    [{ sort_dir: 'sideways' }],
    [{ visibility: 'everyone' }],
    [{ status: 'exploded' }],
    [{ protected: 'maybe' }],
    [{ sort: 'name', sort_key: 'name' }],
  ])('rejects %j', (q) => {
    expect(() => parseListQuery(q)).toThrow(InvalidError)
  })
})
