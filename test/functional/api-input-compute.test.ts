import { RE2JS } from 're2js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

const EVIL_NAME = `${'a'.repeat(30)}!`

/** Findings of issue #10 part 3 against the compute API: each bad input is a Nova 4xx and changes nothing. */
describe('compute API: hostile input', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let member: ProjectUser
  let nova: string
  let imageRef: string
  let serverId: string

  const fault = (r: { status: number; body: any }, status: number, name: string): void => {
    expect(r.status).toBe(status)
    expect(Object.keys(r.body)).toEqual([name])
    expect(r.body[name].code).toBe(status)
    expect(typeof r.body[name].message).toBe('string')
  }

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    member = await createProjectUser(fed.api.urls.identity, admin, 'hostile-member')
    nova = endpoint(member.session, 'compute', 'region-one')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const created = await call(member.session, 'POST', `${nova}/servers`, { server: { name: EVIL_NAME, imageRef, flavorRef: '1', metadata: { a: '1' } } })
    expect(created.status).toBe(202)
    serverId = created.body.server.id
    await waitForStatus(member.session, nova, serverId, 'ACTIVE')
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('runs a catastrophic-backtracking name pattern in linear time, with the answer a linear engine gives, while serving others', async () => {
    const names = async (q: string): Promise<string[]> => {
      const r = await call(member.session, 'GET', `${nova}/servers?${q}`)
      expect(r.status).toBe(200)
      return r.body.servers.map((s: { name: string }) => s.name)
    }
    // The evil query and an ordinary one in flight together: both are answered.
    const [evil, plain] = await Promise.all([names('name=(a%2B)%2B%24'), names('limit=5')])
    expect(evil).toEqual([EVIL_NAME].filter((n) => RE2JS.compile('(a+)+$').test(n)))
    expect(evil).toEqual([])
    expect(plain).toEqual([EVIL_NAME])
    // re.search semantics: unanchored, anchors and classes as in Python.
    expect(await names('name=(a%2B)%2B!')).toEqual([EVIL_NAME])
    expect(await names('name=a%7B30%7D!%24')).toEqual([EVIL_NAME])
    expect(await names('name=%5Ea!')).toEqual([])
  })

  it.each([
    ['an unbalanced group', '('],
    ['a backreference (not linear-time)', '(a)%5C1'],
    ['a lookahead (not linear-time)', 'a(%3F%3Db)'],
    ['a pattern longer than 1024 characters', 'a'.repeat(1025)],
  ])('rejects %s in the name filter with 400', async (_what, pattern) => {
    fault(await call(member.session, 'GET', `${nova}/servers?name=${pattern}`), 400, 'badRequest')
  })

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'no_such_key'])('answers sort_key=%s with 400', async (key) => {
    fault(await call(member.session, 'GET', `${nova}/servers/detail?sort_key=${key}`), 400, 'badRequest')
  })

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('answers a server action named %s with 400', async (action) => {
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/action`, `{"${action}": {}}`), 400, 'badRequest')
  })

  it.each(['/servers/%ff', '/servers/%zz', '/servers/%', '/servers/%ed%a0%80', '/flavors/%c0%af', '/servers?name=%ff', '/servers/detail?sort_key=%ff', '/os-keypairs/%e0'])(
    'answers malformed percent-encoding in %s with 400',
    async (path) => {
      fault(await call(member.session, 'GET', `${nova}${path}`), 400, 'badRequest')
    },
  )

  it.each([
    ['accessIPv6', 'not-an-ip'],
    ['accessIPv6', 'fe80::1%eth0'],
    ['accessIPv6', '1.2.3.4'],
    ['accessIPv4', '::1'],
    ['accessIPv4', '256.1.1.1'],
  ])('refuses %s=%s on create, update and rebuild with 400, leaving the server as it was', async (field, value) => {
    fault(await call(member.session, 'POST', `${nova}/servers`, { server: { name: 'ip', imageRef, flavorRef: '1', [field]: value } }), 400, 'badRequest')
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { [field]: value } }), 400, 'badRequest')
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/action`, { rebuild: { imageRef, [field]: value } }), 400, 'badRequest')
    const shown = await call(member.session, 'GET', `${nova}/servers/${serverId}`)
    expect(shown.body.server.accessIPv4).toBe('')
    expect(shown.body.server.accessIPv6).toBe('')
  })

  it('stores a valid accessIPv6 in canonical form on update', async () => {
    const r = await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { accessIPv6: '2001:db8:0:0:0:0:0:1' } })
    expect(r.status).toBe(200)
    expect(r.body.server.accessIPv6).toBe('2001:db8::1')
    expect((await call(member.session, 'PUT', `${nova}/servers/${serverId}`, { server: { accessIPv6: '' } })).status).toBe(200)
  })

  const many = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))
  const metadataCases: Array<[string, unknown, number, string]> = [
    ['129 items (quota 128)', many(129), 403, 'forbidden'],
    ['10,000 items', many(10_000), 403, 'forbidden'],
    ['an empty key', { '': 'v' }, 400, 'badRequest'],
    ['a 256-character key', { ['k'.repeat(256)]: 'v' }, 400, 'badRequest'],
    ['a key with NUL', { 'a\u0000b': 'v' }, 400, 'badRequest'],
    ['a key outside [a-zA-Z0-9-_:. ]', { 'a/b': 'v' }, 400, 'badRequest'],
    ['a __proto__ key', JSON.parse('{"__proto__": "v"}'), 400, 'badRequest'],
    ['a 256-character value', { k: 'v'.repeat(256) }, 400, 'badRequest'],
    ['a non-string value', { k: 1 }, 400, 'badRequest'],
    ['an array', ['a'], 400, 'badRequest'],
  ]

  it.each(metadataCases)('refuses metadata with %s on create, rebuild, PUT and POST metadata, changing nothing', async (_what, metadata, status, name) => {
    const before = (await call(member.session, 'GET', `${nova}/servers`)).body.servers.length
    fault(await call(member.session, 'POST', `${nova}/servers`, { server: { name: 'md', imageRef, flavorRef: '1', metadata } }), status, name)
    expect((await call(member.session, 'GET', `${nova}/servers`)).body.servers.length).toBe(before)
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/action`, { rebuild: { imageRef, metadata } }), status, name)
    fault(await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata }), status, name)
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, { metadata }), status, name)
    expect((await call(member.session, 'GET', `${nova}/servers/${serverId}/metadata`)).body.metadata).toEqual({ a: '1' })
  })

  it('counts merged metadata against the quota on POST /servers/{id}/metadata, and takes exactly 128', async () => {
    const merged = await call(member.session, 'POST', `${nova}/servers/${serverId}/metadata`, { metadata: many(128) })
    fault(merged, 403, 'forbidden')
    expect(merged.body.forbidden.message).toBe('Maximum number of metadata items exceeds 128')
    const replaced = await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata: many(128) })
    expect(replaced.status).toBe(200)
    expect(Object.keys(replaced.body.metadata)).toHaveLength(128)
    expect((await call(member.session, 'PUT', `${nova}/servers/${serverId}/metadata`, { metadata: { a: '1' } })).status).toBe(200)
  })

  it.each([
    ['server create', 'POST', '/servers', (n: string) => ({ server: { name: n, imageRef, flavorRef: '1' } })],
    ['server update', 'PUT', '/servers/{id}', (n: string) => ({ server: { name: n } })],
    ['server hostname', 'PUT', '/servers/{id}', (n: string) => ({ server: { hostname: n } })],
    ['server rebuild', 'POST', '/servers/{id}/action', (n: string) => ({ rebuild: { imageRef, name: n } })],
    ['keypair', 'POST', '/os-keypairs', (n: string) => ({ keypair: { name: n } })],
    ['server group', 'POST', '/os-server-groups', (n: string) => ({ server_group: { name: n, policies: ['affinity'] } })],
  ] as const)('refuses NUL and other control characters in a %s name with 400', async (_what, method, path, body) => {
    for (const bad of ['a\u0000b', 'tab\u0007bell', 'esc\u001b[0m', 'del\u007f']) {
      fault(await call(member.session, method, `${nova}${path.replace('{id}', serverId)}`, body(bad)), 400, 'badRequest')
    }
    expect((await call(member.session, 'GET', `${nova}/servers/${serverId}`)).body.server.name).toBe(EVIL_NAME)
  })

  it('refuses a multi-create whose numbered names (name-N) would pass 255 characters with 400, creating nothing', async () => {
    const before = (await call(member.session, 'GET', `${nova}/servers`)).body.servers.length
    fault(await call(member.session, 'POST', `${nova}/servers`, { server: { name: 'n'.repeat(254), imageRef, flavorRef: '1', min_count: 2 } }), 400, 'badRequest')
    expect((await call(member.session, 'GET', `${nova}/servers`)).body.servers.length).toBe(before)
  })

  it('refuses NUL in a flavor name (admin) with 400', async () => {
    const adminNova = endpoint(admin, 'compute', 'region-one')
    fault(await call(admin, 'POST', `${adminNova}/flavors`, { flavor: { name: 'f\u0000', ram: 64, vcpus: 1, disk: 1 } }), 400, 'badRequest')
  })

  it.each([
    ['a __proto__ key', '{"extra_specs": {"__proto__": "x"}}'],
    ['a key with NUL', '{"extra_specs": {"a\\u0000": "x"}}'],
    ['an empty key', '{"extra_specs": {"": "x"}}'],
    ['a 256-character value', JSON.stringify({ extra_specs: { k: 'v'.repeat(256) } })],
  ])('refuses flavor extra specs with %s with 400, changing nothing', async (_what, body) => {
    const adminNova = endpoint(admin, 'compute', 'region-one')
    fault(await call(admin, 'POST', `${adminNova}/flavors/1/os-extra_specs`, body), 400, 'badRequest')
    expect((await call(admin, 'GET', `${adminNova}/flavors/1/os-extra_specs`)).body.extra_specs).toEqual({})
  })

  it('answers a locked_reason that is not a short string with 400', async () => {
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/action`, { lock: { locked_reason: { x: 1 } } }, mv('2.73')), 400, 'badRequest')
    fault(await call(member.session, 'POST', `${nova}/servers/${serverId}/action`, { lock: { locked_reason: 'r'.repeat(256) } }, mv('2.73')), 400, 'badRequest')
  })
})
