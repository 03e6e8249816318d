import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import type { Database } from '../../shared/db/database.js'
import { systemContext } from '../../shared/context.js'
import { UnauthorizedError } from '../../shared/errors.js'
import {
  bootstrapIdentity,
  identityMigrations,
  identityRouter,
  KyselyRevocationStore,
  TokenService,
} from '../../api-cell/identity/index.js'
import type { BootstrapResult, CatalogConfig, IdentityTables } from '../../api-cell/identity/index.js'

/** A cheap scrypt cost: the default one is exercised by the unit tests. */
const FAST = { log2N: 10, r: 8, p: 1 }
const ADMIN_PASSWORD = 'Adm1n-pass'
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

let database: Database<IdentityTables>
let server: Server
let url: string
let boot: BootstrapResult
let tokens: TokenService
const secret = randomBytes(32)
let adminToken: string

interface Reply {
  status: number
  headers: Headers
  body: any
}

async function call(method: string, path: string, opts: { token?: string; subject?: string; body?: unknown; raw?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {}
  if (opts.token !== undefined) headers['X-Auth-Token'] = opts.token
  if (opts.subject !== undefined) headers['X-Subject-Token'] = opts.subject
  if (opts.body !== undefined || opts.raw !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(opts.raw !== undefined ? { body: opts.raw } : opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
}

function passwordAuth(user: Record<string, unknown>, scope?: unknown): unknown {
  return {
    auth: {
      identity: { methods: ['password'], password: { user } },
      ...(scope === undefined ? {} : { scope }),
    },
  }
}

/** The exact body python-openstackclient sends (observed). */
const observedAdminAuth = {
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { password: ADMIN_PASSWORD, name: 'admin', domain: { name: 'Default' } } },
    },
    scope: { project: { name: 'admin', domain: { name: 'Default' } } },
  },
}

beforeAll(async () => {
  database = await openDatabase<IdentityTables>('sqlite::memory:')
  await migrateToLatest(database.db, identityMigrations)
  boot = await bootstrapIdentity(database.db, { adminPassword: ADMIN_PASSWORD, passwordCost: FAST })
  tokens = new TokenService({ secret, revocations: new KyselyRevocationStore(database.db) })
  await tokens.loadRevocations(systemContext())
  const app = express()
  server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const catalog: CatalogConfig = {
    regions: ['region-one', 'region-two'],
    identityUrl: `${url}/v3`,
    imageUrl: 'http://127.0.0.1:9292',
    computeUrls: { 'region-one': 'http://127.0.0.1:8774/regions/region-one/v2.1', 'region-two': 'http://127.0.0.1:8774/regions/region-two/v2.1' },
  }
  app.use(identityRouter({ db: database.db, tokens, catalog, publicUrl: url, passwordCost: FAST }))
  const res = await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })
  adminToken = res.headers.get('x-subject-token') ?? ''
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await database.close()
})

describe('identity: version discovery', () => {
  it('answers the unversioned root with 300 and the v3 document under /v3 and /v3/', async () => {
    const root = await call('GET', '/')
    expect(root.status).toBe(300)
    expect(root.body.versions.values[0]).toMatchObject({ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: `${url}/v3/` }] })
    for (const path of ['/v3', '/v3/']) {
      const v3 = await call('GET', path)
      expect(v3.status).toBe(200)
      expect(v3.body.version.links).toEqual([{ rel: 'self', href: `${url}/v3/` }])
      expect(v3.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/)
    }
  })
})

describe('identity: token issue', () => {
  it('answers the observed password request with 201, X-Subject-Token and Keystone\'s body', async () => {
    const res = await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-subject-token')).toMatch(/^v1\./)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const t = res.body.token
    expect(Object.keys(t).sort()).toEqual(
      ['audit_ids', 'catalog', 'expires_at', 'is_domain', 'issued_at', 'methods', 'project', 'roles', 'user'].sort(),
    )
    expect(t.expires_at).toMatch(TIME)
    expect(t.issued_at).toMatch(TIME)
    expect(Date.parse(t.expires_at) - Date.parse(t.issued_at)).toBe(3600_000)
    expect(t.methods).toEqual(['password'])
    expect(t.user).toEqual({ domain: { id: 'default', name: 'Default' }, id: boot.adminUserId, name: 'admin', password_expires_at: null })
    expect(t.project).toEqual({ domain: { id: 'default', name: 'Default' }, id: boot.adminProjectId, name: 'admin' })
    expect(t.is_domain).toBe(false)
    expect(t.roles.map((r: { name: string }) => r.name).sort()).toEqual(['admin', 'member', 'reader'])
    expect(t.roles.find((r: { name: string }) => r.name === 'admin').id).toBe(boot.roleIds.admin)
    expect(t.audit_ids).toHaveLength(1)
  })

  it('lists identity, compute and image with public/internal/admin endpoints in every region', async () => {
    const res = await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })
    const catalog = res.body.token.catalog as { type: string; name: string; id: string; endpoints: any[] }[]
    expect(catalog.map((s) => `${s.type}:${s.name}`)).toEqual(['identity:keystone', 'compute:nova', 'image:glance'])
    const compute = catalog.find((s) => s.type === 'compute')
    for (const region of ['region-one', 'region-two']) {
      for (const iface of ['public', 'internal', 'admin']) {
        const e = compute?.endpoints.find((x) => x.region === region && x.interface === iface)
        expect(e).toMatchObject({ region, region_id: region, url: `http://127.0.0.1:8774/regions/${region}/v2.1` })
        expect(e.id).toMatch(/^[0-9a-f]{32}$/)
      }
    }
    const identity = catalog.find((s) => s.type === 'identity')
    expect(identity?.endpoints.filter((e) => e.url === `${url}/v3`)).toHaveLength(6)
  })

  it('omits the catalog with ?nocatalog', async () => {
    const res = await call('POST', '/v3/auth/tokens?nocatalog', { body: observedAdminAuth })
    expect(res.status).toBe(201)
    expect(res.body.token.catalog).toBeUndefined()
    expect(res.body.token.project.name).toBe('admin')
  })

  it('authenticates by user id (with a domain alongside, as Tempest sends) and scopes by project id', async () => {
    const res = await call('POST', '/v3/auth/tokens', {
      body: passwordAuth({ id: boot.adminUserId, password: ADMIN_PASSWORD, domain: { id: 'default' } }, { project: { id: boot.adminProjectId } }),
    })
    expect(res.status).toBe(201)
    expect(res.body.token.project.id).toBe(boot.adminProjectId)
    expect(res.body.token.user.name).toBe('admin')
  })

  it('issues an unscoped token without project, roles or catalog', async () => {
    const res = await call('POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { id: 'default' } }) })
    expect(res.status).toBe(201)
    expect(Object.keys(res.body.token).sort()).toEqual(['audit_ids', 'expires_at', 'issued_at', 'methods', 'user'])
  })

  it('issues a system-scoped token to the bootstrap admin and refuses a domain scope without a domain role', async () => {
    const system = await call('POST', '/v3/auth/tokens', {
      body: passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Default' } }, { system: { all: true } }),
    })
    expect(system.status).toBe(201)
    expect(system.body.token.system).toEqual({ all: true })
    expect(system.body.token.project).toBeUndefined()
    const domain = await call('POST', '/v3/auth/tokens', {
      body: passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Default' } }, { domain: { id: 'default' } }),
    })
    expect(domain.status).toBe(401)
  })

  it('rescopes an unscoped token with the token method', async () => {
    const unscoped = await call('POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { id: 'default' } }) })
    const parent = unscoped.headers.get('x-subject-token') ?? ''
    const res = await call('POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['token'], token: { id: parent } }, scope: { project: { id: boot.adminProjectId } } } },
    })
    expect(res.status).toBe(201)
    expect(res.body.token.project.id).toBe(boot.adminProjectId)
    expect(res.body.token.audit_ids[1]).toBe(unscoped.body.token.audit_ids[0])
    expect(res.body.token.expires_at).toBe(unscoped.body.token.expires_at)
  })

  it.each([
    ['a wrong password', passwordAuth({ name: 'admin', password: 'wrong', domain: { name: 'Default' } })],
    ['an unknown user', passwordAuth({ name: 'nobody', password: ADMIN_PASSWORD, domain: { name: 'Default' } })],
    ['an unknown user id', passwordAuth({ id: 'f'.repeat(32), password: ADMIN_PASSWORD })],
    ['an unknown domain', passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Nope' } })],
    ['an unknown project', passwordAuth({ name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Default' } }, { project: { id: 'nope' } })],
    ['an unsupported method', { auth: { identity: { methods: ['totp'], totp: {} } } }],
  ])('answers %s with 401 in Keystone\'s error shape', async (_name, body) => {
    const res = await call('POST', '/v3/auth/tokens', { body })
    expect(res.status).toBe(401)
    expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: expect.any(String) } })
    expect(res.headers.get('x-subject-token')).toBeNull()
  })

  it.each([
    ['invalid JSON', { raw: '{"auth": ' }],
    ['a missing auth', { body: { nope: 1 } }],
    ['a name without domain', { body: passwordAuth({ name: 'admin', password: ADMIN_PASSWORD }) }],
    ['no body at all', {}],
  ])('answers %s with 400 in Keystone\'s error shape', async (_name, opts) => {
    const res = await call('POST', '/v3/auth/tokens', opts)
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ code: 400, title: 'Bad Request' })
    expect(res.headers.get('x-openstack-request-id')).toMatch(/^req-/)
  })
})

describe('identity: token validation and revocation', () => {
  it('validates with GET and HEAD, then revokes with DELETE', async () => {
    const issued = await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })
    const subject = issued.headers.get('x-subject-token') ?? ''
    const got = await call('GET', '/v3/auth/tokens', { token: adminToken, subject })
    expect(got.status).toBe(200)
    expect(got.headers.get('x-subject-token')).toBe(subject)
    expect(got.body.token.audit_ids).toEqual(issued.body.token.audit_ids)
    expect(got.body.token.expires_at).toBe(issued.body.token.expires_at)
    const head = await fetch(`${url}/v3/auth/tokens`, { method: 'HEAD', headers: { 'X-Auth-Token': adminToken, 'X-Subject-Token': subject } })
    expect(head.status).toBe(200)

    expect((await call('DELETE', '/v3/auth/tokens', { token: adminToken, subject })).status).toBe(204)
    const after = await call('GET', '/v3/auth/tokens', { token: adminToken, subject })
    expect(after.status).toBe(404)
    expect(after.body.error.title).toBe('Not Found')
    const used = await call('GET', '/v3/regions', { token: subject })
    expect(used.status).toBe(401)
    expect(used.headers.get('www-authenticate')).toBe(`Keystone uri="${url}"`)
  })

  it('keeps a revocation after a restart of the token service', async () => {
    const issued = await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })
    const subject = issued.headers.get('x-subject-token') ?? ''
    expect((await call('DELETE', '/v3/auth/tokens', { token: subject, subject })).status).toBe(204)
    // Same key, fresh memory: only the revocations table knows.
    const restarted = new TokenService({ secret, revocations: new KyselyRevocationStore(database.db) })
    expect(restarted.validate(subject).auditIds).toEqual(issued.body.token.audit_ids)
    await restarted.loadRevocations(systemContext())
    expect(() => restarted.validate(subject)).toThrow(UnauthorizedError)
  })

  it('requires a token on protected routes', async () => {
    const res = await call('GET', '/v3/projects')
    expect(res.status).toBe(401)
    expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } })
  })
})

describe('identity: catalog views', () => {
  it('lists and shows regions from the catalog config', async () => {
    const list = await call('GET', '/v3/regions', { token: adminToken })
    expect(list.status).toBe(200)
    expect(list.body.regions.map((r: { id: string }) => r.id)).toEqual(['region-one', 'region-two'])
    expect((await call('GET', '/v3/regions/region-two', { token: adminToken })).body.region.id).toBe('region-two')
    expect((await call('GET', '/v3/regions/region-nine', { token: adminToken })).status).toBe(404)
  })

  it('lists services and endpoints filtered by interface', async () => {
    const services = await call('GET', '/v3/services', { token: adminToken })
    expect(services.body.services.map((s: { type: string }) => s.type)).toEqual(['identity', 'compute', 'image'])
    const compute = services.body.services[1]
    expect((await call('GET', `/v3/services/${compute.id}`, { token: adminToken })).body.service).toEqual(compute)
    expect((await call('GET', '/v3/services/nope', { token: adminToken })).status).toBe(404)
    const endpoints = await call('GET', '/v3/endpoints?interface=public', { token: adminToken })
    expect(endpoints.body.endpoints).toHaveLength(6)
    expect(endpoints.body.endpoints.every((e: { interface: string }) => e.interface === 'public')).toBe(true)
  })
})

describe('identity: Tempest dynamic credentials and policy', () => {
  it('creates a project and a member user, lets them in, keeps them out of admin APIs, then deletes both', async () => {
    const domains = await call('GET', '/v3/domains?name=Default', { token: adminToken })
    expect(domains.status).toBe(200)
    expect(domains.body.domains).toHaveLength(1)
    expect(domains.body.domains[0]).toMatchObject({ id: 'default', name: 'Default', enabled: true })

    const project = await call('POST', '/v3/projects', {
      token: adminToken,
      body: { project: { name: 'tempest-p1', description: 'tempest', domain_id: 'default' } },
    })
    expect(project.status).toBe(201)
    const p = project.body.project
    expect(p).toMatchObject({ name: 'tempest-p1', domain_id: 'default', parent_id: 'default', is_domain: false, enabled: true })
    expect(p.links.self).toBe(`${url}/v3/projects/${p.id}`)
    expect((await call('POST', '/v3/projects', { token: adminToken, body: { project: { name: 'tempest-p1' } } })).status).toBe(409)

    const user = await call('POST', '/v3/users', {
      token: adminToken,
      body: { user: { name: 'tempest-u1', password: 'pw-u1', project_id: p.id, email: 'u1@example.org', domain_id: 'default' } },
    })
    expect(user.status).toBe(201)
    const u = user.body.user
    expect(u).toMatchObject({ name: 'tempest-u1', domain_id: 'default', enabled: true, email: 'u1@example.org', project_id: p.id })
    expect(u.password).toBeUndefined()
    expect(JSON.stringify(user.body)).not.toContain('scrypt')

    const roles = await call('GET', '/v3/roles', { token: adminToken })
    const member = roles.body.roles.find((r: { name: string }) => r.name === 'member')
    expect(roles.body.roles.map((r: { name: string }) => r.name).sort()).toEqual(['admin', 'member', 'reader'])
    expect((await call('GET', '/v3/roles?name=reader', { token: adminToken })).body.roles).toHaveLength(1)

    expect((await call('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${member.id}`, { token: adminToken })).status).toBe(204)
    expect((await call('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${member.id}`, { token: adminToken })).status).toBe(204)
    expect((await call('GET', `/v3/projects/${p.id}/users/${u.id}/roles/${member.id}`, { token: adminToken })).status).toBe(204)
    expect((await call('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/nope`, { token: adminToken })).status).toBe(404)

    const assignments = await call('GET', `/v3/role_assignments?user.id=${u.id}&scope.project.id=${p.id}&include_names`, { token: adminToken })
    expect(assignments.body.role_assignments).toEqual([
      {
        role: { id: member.id, name: 'member' },
        user: { id: u.id, name: 'tempest-u1' },
        scope: { project: { id: p.id, name: 'tempest-p1' } },
        links: { assignment: `${url}/v3/projects/${p.id}/users/${u.id}/roles/${member.id}` },
      },
    ])

    const login = await call('POST', '/v3/auth/tokens', {
      body: passwordAuth({ name: 'tempest-u1', password: 'pw-u1', domain: { id: 'default' } }, { project: { name: 'tempest-p1', domain: { id: 'default' } } }),
    })
    expect(login.status).toBe(201)
    expect(login.body.token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader'])
    const userToken = login.headers.get('x-subject-token') ?? ''

    for (const [method, path, body] of [
      ['GET', '/v3/projects', undefined],
      ['GET', '/v3/users', undefined],
      ['POST', '/v3/users', { user: { name: 'x' } }],
      ['POST', '/v3/projects', { project: { name: 'x' } }],
      ['POST', '/v3/roles', { role: { name: 'x' } }],
      ['GET', '/v3/domains', undefined],
      ['DELETE', `/v3/projects/${boot.adminProjectId}`, undefined],
      ['PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${boot.roleIds.admin}`, undefined],
      ['GET', `/v3/projects/${boot.adminProjectId}`, undefined],
      ['GET', '/v3/role_assignments', undefined],
    ] as const) {
      const res = await call(method, path, { token: userToken, ...(body === undefined ? {} : { body }) })
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(res.body.error).toMatchObject({ code: 403, title: 'Forbidden' })
    }
    // Own things are visible.
    expect((await call('GET', `/v3/projects/${p.id}`, { token: userToken })).status).toBe(200)
    expect((await call('GET', `/v3/users/${u.id}`, { token: userToken })).status).toBe(200)
    const mine = await call('GET', `/v3/users/${u.id}/projects`, { token: userToken })
    expect(mine.body.projects.map((x: { id: string }) => x.id)).toEqual([p.id])
    const authProjects = await call('GET', '/v3/auth/projects', { token: userToken })
    expect(authProjects.body.projects.map((x: { id: string }) => x.id)).toEqual([p.id])
    expect((await call('GET', '/v3/auth/tokens', { token: userToken, subject: adminToken })).status).toBe(403)
    expect((await call('GET', '/v3/auth/tokens', { token: userToken, subject: userToken })).status).toBe(200)

    expect((await call('DELETE', `/v3/users/${u.id}`, { token: adminToken })).status).toBe(204)
    expect((await call('GET', `/v3/users/${u.id}`, { token: adminToken })).status).toBe(404)
    expect((await call('GET', '/v3/regions', { token: userToken })).status).toBe(401) // its tokens died with it
    expect((await call('DELETE', `/v3/users/${u.id}`, { token: adminToken })).status).toBe(404)

    expect((await call('DELETE', `/v3/projects/${p.id}`, { token: adminToken })).status).toBe(204)
    const gone = await call('GET', `/v3/projects/${p.id}`, { token: adminToken })
    expect(gone.status).toBe(404)
    expect(gone.body).toEqual({ error: { code: 404, title: 'Not Found', message: `Could not find project: ${p.id}.` } })
  })

  it('creates roles (201) and refuses duplicates (409)', async () => {
    const created = await call('POST', '/v3/roles', { token: adminToken, body: { role: { name: 'tempest-role' } } })
    expect(created.status).toBe(201)
    expect(created.body.role).toMatchObject({ name: 'tempest-role', domain_id: null })
    expect((await call('POST', '/v3/roles', { token: adminToken, body: { role: { name: 'tempest-role' } } })).status).toBe(409)
    expect((await call('POST', '/v3/roles', { token: adminToken, body: { role: {} } })).status).toBe(400)
  })

  it('resolves a project by name the way `openstack quota show NAME` does', async () => {
    expect((await call('GET', '/v3/projects/admin', { token: adminToken })).status).toBe(404)
    const byName = await call('GET', '/v3/projects?name=admin', { token: adminToken })
    expect(byName.body.projects.map((x: { id: string }) => x.id)).toEqual([boot.adminProjectId])
  })

  it('disabling a user refuses new tokens and kills the live ones', async () => {
    const created = await call('POST', '/v3/users', {
      token: adminToken,
      body: { user: { name: 'to-disable', password: 'pw', default_project_id: boot.adminProjectId } },
    })
    const id = created.body.user.id as string
    await call('PUT', `/v3/projects/${boot.adminProjectId}/users/${id}/roles/${boot.roleIds.reader}`, { token: adminToken })
    const body = passwordAuth({ id, password: 'pw' })
    const before = await call('POST', '/v3/auth/tokens', { body })
    expect(before.status).toBe(201)
    expect(before.body.token.project.id).toBe(boot.adminProjectId) // default project used when no scope is given
    const live = before.headers.get('x-subject-token') ?? ''
    const patched = await call('PATCH', `/v3/users/${id}`, { token: adminToken, body: { user: { enabled: false } } })
    expect(patched.status).toBe(200)
    expect(patched.body.user.enabled).toBe(false)
    expect((await call('POST', '/v3/auth/tokens', { body })).status).toBe(401)
    expect((await call('GET', '/v3/regions', { token: live })).status).toBe(401)
  })

  it('answers unknown routes with a Keystone 404', async () => {
    const res = await call('GET', '/v3/nothing-here', { token: adminToken })
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe(404)
  })
})

describe('identity: bootstrap', () => {
  it('is idempotent and resets the admin password', async () => {
    const again = await bootstrapIdentity(database.db, { adminPassword: 'new-pass', passwordCost: FAST })
    expect(again).toMatchObject({ adminUserId: boot.adminUserId, adminProjectId: boot.adminProjectId, createdAdmin: false, roleIds: boot.roleIds })
    expect(await database.db.selectFrom('users').select('id').where('name', '=', 'admin').execute()).toHaveLength(1)
    expect(await database.db.selectFrom('role_assignments').selectAll().where('user_id', '=', boot.adminUserId).execute()).toHaveLength(2)
    expect((await call('POST', '/v3/auth/tokens', { body: observedAdminAuth })).status).toBe(401)
    const fresh = JSON.parse(JSON.stringify(observedAdminAuth).replace(ADMIN_PASSWORD, 'new-pass'))
    expect((await call('POST', '/v3/auth/tokens', { body: fresh })).status).toBe(201)
    await bootstrapIdentity(database.db, { adminPassword: ADMIN_PASSWORD, passwordCost: FAST })
  })
})
