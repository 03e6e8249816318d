import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login } from '../helpers/os-client.js'
import { rawRequest } from '../helpers/raw-http.js'

type Api = 'identity' | 'compute' | 'image'

/** Checks a fault body of `api`'s shape: Nova's `{"<name>": {code, message}}`, Keystone's and our Glance's `{"error": {code, title, message}}`. */
function expectFault(api: Api, status: number, body: any): void {
  if (api === 'compute') {
    const [name, ...more] = Object.keys(body)
    expect(more).toEqual([])
    expect(body[name!]).toMatchObject({ code: status, message: expect.any(String) })
  } else {
    expect(Object.keys(body)).toEqual(['error'])
    expect(body.error).toMatchObject({ code: status, title: expect.any(String), message: expect.any(String) })
  }
}

/** HTTP-level findings: Node's parser errors, bad encodings and bodies answered in each API's fault shape. */
describe('API listeners: malformed HTTP and bodies', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let urls: Record<Api, string>
  const prefix: Record<Api, string> = { identity: '/v3/projects', compute: '/v2.1/servers', image: '/v2/images' }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    urls = fed.api.urls
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  const apis: Api[] = ['identity', 'compute', 'image']
  const raw = async (api: Api, request: string): Promise<{ status: number; body: any; type: string }> => {
    const r = await rawRequest(urls[api], request)
    return { status: r.status, body: JSON.parse(r.body), type: r.headers['content-type'] ?? '' }
  }

  it.each(apis)('%s: a malformed request line is a 400 with a JSON fault body', async (api) => {
    const r = await raw(api, 'GET /\u0001bad HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(r.status).toBe(400)
    expect(r.type).toMatch(/^application\/json/)
    expectFault(api, 400, r.body)
    const r2 = await raw(api, 'THIS IS NOT HTTP\r\n\r\n')
    expect(r2.status).toBe(400)
    expectFault(api, 400, r2.body)
  })

  it.each(apis)('%s: headers past the limit are a 431 with a JSON fault body', async (api) => {
    const r = await raw(api, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`)
    expect(r.status).toBe(431)
    expectFault(api, 431, r.body)
  })

  it.each(apis)('%s: malformed chunked encoding is a 400 with a JSON fault body', async (api) => {
    const r = await raw(api, `POST ${prefix[api]} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${admin.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`)
    expect(r.status).toBe(400)
    expectFault(api, 400, r.body)
  })

  it.each(apis)('%s: invalid JSON, too deep JSON and too large bodies are 4xx in the API shape', async (api) => {
    const url = `${urls[api]}${prefix[api]}`
    const bad = await call(admin, 'POST', url, '{"x": ', { 'content-type': 'application/json' })
    expect(bad.status).toBe(400)
    expectFault(api, 400, bad.body)
    const deep = await call(admin, 'POST', url, `${'['.repeat(5000)}${']'.repeat(5000)}`, { 'content-type': 'application/json' })
    expect(deep.status).toBe(400)
    expectFault(api, 400, deep.body)
    const deepObject = await call(admin, 'POST', url, `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`, { 'content-type': 'application/json' })
    expect(deepObject.status).toBe(400)
    expectFault(api, 400, deepObject.body)
    const big = await call(admin, 'POST', url, `{"x": "${'a'.repeat(1_100_000)}"}`, { 'content-type': 'application/json' })
    expect(big.status).toBe(413)
    expectFault(api, 413, big.body)
  })

  it.each(apis)('%s: malformed percent-encoding in the path or the query is a 400', async (api) => {
    for (const path of [`${prefix[api]}/%ff`, `${prefix[api]}/%zz`, `${prefix[api]}?name=%ff`, `${prefix[api]}?%e0=1`]) {
      const r = await call(admin, 'GET', `${urls[api]}${path}`)
      expect(r.status).toBe(400)
      expectFault(api, 400, r.body)
    }
  })

  it('cell admin API: malformed percent-encoding is a 400 in its (Keystone) shape', async () => {
    const r = await call(admin, 'GET', `${urls.compute}/cell-admin/v1/cells/%ff`)
    expect(r.status).toBe(400)
    expectFault('identity', 400, r.body)
  })

  it('the compute listener answers parser errors of cell admin requests in the admin (Keystone) shape, others in Nova\'s', async () => {
    const admin431 = await raw('compute', `GET /cell-admin/v1/cells?x=${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(admin431.status).toBe(431)
    expectFault('identity', 431, admin431.body)
    const nova431 = await raw('compute', `GET /v2.1/servers?x=${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(nova431.status).toBe(431)
    expect(Object.keys(nova431.body)).toEqual(['computeFault'])
    expectFault('compute', 431, nova431.body)
  })

  it('every listener still serves ordinary requests afterwards', async () => {
    expect((await call(admin, 'GET', `${urls.identity}/v3/projects`)).status).toBe(200)
    expect((await call(admin, 'GET', `${urls.compute}/v2.1/servers`)).status).toBe(200)
    expect((await call(admin, 'GET', `${urls.image}/v2/images`)).status).toBe(200)
  })
})
