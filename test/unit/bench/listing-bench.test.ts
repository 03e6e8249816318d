import { describe, expect, it } from 'vitest'
import type { Paged } from '../../../bench/listing-bench.js'
import { benchListing, LISTING_TINY } from '../../../bench/listing-bench.js'

/**
 * A tiny-size smoke run of `npm run bench -- listing` (200 servers over 3 leaves, pages of 50), so
 * that the scenario does not rot: the bulk path fills real leaf cells and the API's index through
 * the tree, and every listing pages through the real HTTP stack. Shape only: no timing asserted.
 */
describe('listing bench (tiny smoke run)', () => {
  it('lists every server once, pages chained by markers, filters included', async () => {
    const seen = new Map<string, { p: Paged; expected: number }>()
    const f = await benchListing(LISTING_TINY, (key, p, expected) => seen.set(key, { p, expected }))
    expect([...seen.keys()].sort()).toEqual(
      ['detail', 'list', 'filter.name', 'filter.nameExact', 'filter.statusActive', 'filter.statusError', 'filter.changesSince', 'filter.allTenantsProject'].sort(),
    )
    for (const [key, { p, expected }] of seen) {
      expect(p.chained, key).toBe(true)
      expect(p.ids.length, key).toBe(expected)
      expect(new Set(p.ids).size, `${key}: a server listed twice`).toBe(p.ids.length)
    }
    const all = seen.get('detail')?.p.ids ?? []
    expect(all.length).toBe(LISTING_TINY.servers)
    expect(new Set(seen.get('list')?.p.ids)).toEqual(new Set(all))
    // 200 servers in pages of 50: four full pages, then an empty one that ends the chain.
    expect(f['detail.pages']).toBe(5)
    for (const k of ['detail.page.p50Ms', 'list.page.p95Ms', 'detail.firstPage.p50Ms', 'filter.name.firstPage.p50Ms', 'filter.changesSince.page.p50Ms']) {
      expect(typeof f[k], k).toBe('number')
    }
  }, 180_000)
})
