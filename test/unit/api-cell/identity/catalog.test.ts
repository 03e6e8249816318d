import { describe, expect, it } from 'vitest'
import { buildCatalog, parentRegionOf, stableId } from '../../../../api-cell/identity/catalog.js'
import type { CatalogConfig } from '../../../../api-cell/identity/catalog.js'
import { keystoneTime } from '../../../../api-cell/identity/views.js'

const config: CatalogConfig = {
  regions: ['region-one', 'region-two'],
  identityUrl: 'http://api:5000/v3/',
  imageUrl: 'http://api:9292',
  computeUrls: { 'region-one': 'http://api:8774/regions/region-one/v2.1', 'region-two': 'http://api:8774/regions/region-two/v2.1' },
}

describe('buildCatalog', () => {
  it('publishes identity, compute and image on three interfaces in every region', () => {
    const catalog = buildCatalog(config)
    expect(catalog.map((s) => [s.type, s.name])).toEqual([
      ['identity', 'keystone'],
      ['compute', 'nova'],
      ['image', 'glance'],
    ])
    for (const s of catalog) {
      expect(s.endpoints).toHaveLength(6)
      for (const region of config.regions) {
        const here = s.endpoints.filter((e) => e.region === region)
        expect(here.map((e) => e.interface).sort()).toEqual(['admin', 'internal', 'public'])
        for (const e of here) expect(e.region_id).toBe(region)
      }
    }
    const compute = catalog.find((s) => s.type === 'compute')
    expect(compute?.endpoints.find((e) => e.region === 'region-two' && e.interface === 'public')?.url).toBe(
      'http://api:8774/regions/region-two/v2.1',
    )
    expect(catalog[0]?.endpoints[0]?.url).toBe('http://api:5000/v3')
  })

  it('derives the same ids every time, different ids for different names', () => {
    const a = buildCatalog(config)
    const b = buildCatalog({ ...config })
    expect(a.map((s) => s.id)).toEqual(b.map((s) => s.id))
    expect(a[1]?.endpoints.map((e) => e.id)).toEqual(b[1]?.endpoints.map((e) => e.id))
    const ids = a.flatMap((s) => [s.id, ...s.endpoints.map((e) => e.id)])
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(stableId('service', 'compute')).toBe(a[1]?.id)
  })

  it('skips compute in a region without a compute URL', () => {
    const catalog = buildCatalog({ ...config, computeUrls: { 'region-one': 'http://api:8774/v2.1' } })
    expect(catalog.find((s) => s.type === 'compute')?.endpoints.map((e) => e.region)).toEqual(['region-one', 'region-one', 'region-one'])
  })

  it('lists the federation-wide region first, as the parent of every region, with the global compute endpoint', () => {
    const federated: CatalogConfig = {
      ...config,
      regions: ['federation', 'region-one', 'region-two'],
      parentRegions: { 'region-one': 'federation', 'region-two': 'federation' },
      computeUrls: { federation: 'http://api:8774/v2.1', ...config.computeUrls },
    }
    const compute = buildCatalog(federated).find((s) => s.type === 'compute')
    // A client given no region name takes the first endpoint of its interface: the global one.
    expect(compute?.endpoints.find((e) => e.interface === 'public')).toMatchObject({ region: 'federation', url: 'http://api:8774/v2.1' })
    expect(federated.regions.map((r) => parentRegionOf(federated, r))).toEqual([null, 'federation', 'federation'])
    // Inherited property names are no region's parent.
    expect(parentRegionOf(federated, 'constructor')).toBeNull()
  })

  it.each([
    ['no region', { ...config, regions: [] }],
    ['a parent region not in regions', { ...config, parentRegions: { 'region-one': 'elsewhere' } }],
    ['a region with a parent not in regions', { ...config, parentRegions: { elsewhere: 'region-one' } }],
    ['a region that is its own parent', { ...config, parentRegions: { 'region-one': 'region-one' } }],
    ['a compute region not in regions', { ...config, computeUrls: { elsewhere: 'http://x:1/v2.1' } }],
    ['a bad URL', { ...config, imageUrl: 'not a url' }],
    ['duplicate regions', { ...config, regions: ['a', 'a'] }],
  ])('rejects %s', (_name, bad) => {
    expect(() => buildCatalog(bad)).toThrow(/invalid catalog config/)
  })
})

describe('keystoneTime', () => {
  it('formats with microseconds as Tempest parses it', () => {
    expect(keystoneTime(Date.UTC(2026, 0, 1, 12, 0, 0))).toBe('2026-01-01T12:00:00.000000Z')
    expect(keystoneTime(Date.UTC(2026, 0, 1, 12, 0, 0, 123))).toBe('2026-01-01T12:00:00.123000Z')
  })
})
