import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor } from '../helpers/os-client.js'

/** Listing reads the API cell's index: filters, sorting and paging with markers. */
describe('server listing: paging and sorting', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let url: string
  const names = ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    url = endpoint(admin, 'compute', 'region-one')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    for (const name of names) {
      expect((await call(admin, 'POST', `${url}/servers`, { server: { name, imageRef, flavorRef: '1' } })).status).toBe(202)
    }
    await waitFor('all active', async () => {
      const l = await call(admin, 'GET', `${url}/servers/detail?status=ACTIVE`)
      return l.body.servers.length === names.length ? true : undefined
    })
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  /** Follows `servers_links` from the first page; returns the names in order. */
  async function walk(query: string): Promise<{ names: string[]; pages: number }> {
    const out: string[] = []
    let next: string | undefined = `${url}/servers?${query}`
    let pages = 0
    while (next !== undefined) {
      const r = await call(admin, 'GET', next)
      expect(r.status).toBe(200)
      pages += 1
      out.push(...r.body.servers.map((s: any) => s.name))
      next = r.body.servers_links?.find((l: any) => l.rel === 'next')?.href
      if (pages > 10) throw new Error('paging does not end')
    }
    return { names: out, pages }
  }

  it.each([
    ['sort_key=display_name&sort_dir=asc&limit=2', [...names], 3],
    ['sort_key=display_name&sort_dir=desc&limit=2', [...names].reverse(), 3],
    ['sort_key=display_name&sort_dir=asc&limit=5', [...names], 2],
    ['sort_key=display_name&sort_dir=asc&limit=2&name=pg-[bcd]', ['pg-b', 'pg-c', 'pg-d'], 2],
    ['sort_key=host&sort_dir=asc&limit=3', null, 2],
  ])('pages %s through every server exactly once', async (query, expected, pages) => {
    const got = await walk(query)
    if (expected !== null) expect(got.names).toEqual(expected)
    else expect([...got.names].sort()).toEqual(names)
    expect(got.pages).toBe(pages)
  })

  it('refuses an unknown marker and a bad limit with 400', async () => {
    expect((await call(admin, 'GET', `${url}/servers?marker=00000000-0000-0000-0000-000000000000`)).status).toBe(400)
    expect((await call(admin, 'GET', `${url}/servers?limit=-1`)).status).toBe(400)
    expect((await call(admin, 'GET', `${url}/servers?sort_key=nope`)).status).toBe(400)
  })
})
