import { describe, expect, it } from 'vitest'
import { ADMIN_PASSWORD, fixture } from '../helpers/identity-fixture.js'
import type { Fixture, Reply } from '../helpers/identity-fixture.js'

/**
 * Token requests for what we do not implement (trusts, application credentials, OAuth1, TOTP, any
 * scope we do not know) are refused in Keystone's error shape, and issue nothing; tampered tokens are
 * refused over HTTP.
 */

const adminUser = { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD }

function issueBody(identity: Record<string, unknown>, scope?: unknown): unknown {
  return { auth: { identity, ...(scope === undefined ? {} : { scope }) } }
}

function expectKeystoneError(res: Reply, status: number): void {
  expect(res.status).toBe(status)
  expect(res.body).toEqual({ error: { code: status, title: expect.any(String), message: expect.any(String) } })
  expect(res.headers.get('x-subject-token')).toBeNull()
}

async function issue(f: Fixture, body: unknown): Promise<Reply> {
  return f.call('POST', '/v3/auth/tokens', { body })
}

describe('identity: unsupported scopes are refused', () => {
  const password = { methods: ['password'], password: { user: adminUser } }

  it.each([
    ['a trust with a bogus id', { 'OS-TRUST:trust': { id: 'f00dfeedf00dfeedf00dfeedf00dfeed' } }],
    ['a trust without an id', { 'OS-TRUST:trust': {} }],
  ])('%s: 401, as Keystone answers a trust it cannot find', async (_name, scope) => {
    const f = await fixture()
    const res = await issue(f, issueBody(password, scope))
    expectKeystoneError(res, 401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Keystone uri=/)
  })

  it('a trust scope on the token method: 401 as well', async () => {
    const f = await fixture()
    const res = await issue(f, issueBody({ methods: ['token'], token: { id: f.admin } }, { 'OS-TRUST:trust': { id: 'x' } }))
    expectKeystoneError(res, 401)
  })

  it.each([
    ['an empty scope', {}],
    ['an unknown scope kind', { 'OS-FOO:bar': { id: 'x' } }],
    ['a system-wide kind that does not exist', { everything: true }],
    ['two kinds at once', { project: { name: 'admin', domain: { id: 'default' } }, domain: { id: 'default' } }],
    ['a trust next to a project', { project: { name: 'admin', domain: { id: 'default' } }, 'OS-TRUST:trust': { id: 'x' } }],
    ['a scope of the wrong type', 42],
    ['a scope string other than unscoped', 'system'],
  ])('%s: 400', async (_name, scope) => {
    const f = await fixture()
    expectKeystoneError(await issue(f, issueBody(password, scope)), 400)
  })

  it('checks the scope before the password, as Keystone: a bad scope is 400 even with a wrong password', async () => {
    const f = await fixture()
    const wrong = { methods: ['password'], password: { user: { ...adminUser, password: 'wrong' } } }
    expectKeystoneError(await issue(f, issueBody(wrong, {})), 400)
    expectKeystoneError(await issue(f, issueBody(wrong, { 'OS-TRUST:trust': { id: 'x' } })), 401)
  })

  it.each([
    ['application_credential', { application_credential: { id: 'x', secret: 'y' } }],
    ['totp', { totp: { user: { id: 'x', passcode: '123456' } } }],
    ['oauth1', {}],
    ['mapped', {}],
    ['external', {}],
  ])('the %s method: 401, unsupported method', async (method, extra) => {
    const f = await fixture()
    const res = await issue(f, issueBody({ methods: [method], ...extra }))
    expectKeystoneError(res, 401)
    const mixed = await issue(f, issueBody({ ...password, methods: ['password', method], ...extra }))
    expectKeystoneError(mixed, 401)
  })

  it('still issues what we support: project, domain, system, "unscoped" and legacy {"unscoped": {}}', async () => {
    const f = await fixture()
    const project = await issue(f, issueBody(password, { project: { name: 'admin', domain: { id: 'default' } } }))
    expect(project.status).toBe(201)
    expect(project.body.token.project.name).toBe('admin')
    const system = await issue(f, issueBody(password, { system: { all: true } }))
    expect(system.status).toBe(201)
    expect(system.body.token.system).toEqual({ all: true })
    for (const scope of ['unscoped', { unscoped: {} }]) {
      const res = await issue(f, issueBody(password, scope))
      expect(res.status).toBe(201)
      expect(res.body.token.project).toBeUndefined()
      expect(res.body.token.roles).toBeUndefined()
    }
  })
})

describe('identity: tampered tokens over HTTP', () => {
  it('refuses a token with anything appended, re-padded or re-cased, as caller (401) and as subject (404)', async () => {
    const f = await fixture()
    const [v, payload, sig] = f.admin.split('.') as [string, string, string]
    const last = sig.slice(-1)
    const siblings = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const lastIndex = siblings.indexOf(last)
    const sameBytes = [0, 1, 2, 3].map((low) => siblings[(lastIndex & ~3) | low] ?? '').filter((c) => c !== last)
    const tampered = [
      `${f.admin}=`,
      `${f.admin}==`,
      `${f.admin}A`,
      `${f.admin}%20`,
      `${f.admin}.`,
      `${v}.${payload}.${sig}!`,
      `V1.${payload}.${sig}`,
      f.admin.replace(/-/g, '+').replace(/_/g, '/'),
      ...sameBytes.map((c) => `${v}.${payload}.${sig.slice(0, -1)}${c}`),
    ].filter((t) => t !== f.admin)
    expect(tampered.length).toBeGreaterThan(9)
    for (const t of tampered) {
      expect((await f.call('GET', '/v3/projects', { token: t })).status, t).toBe(401)
      expect((await f.call('GET', '/v3/auth/tokens', { token: f.admin, subject: t })).status, t).toBe(404)
      const rescoped = await issue(f, issueBody({ methods: ['token'], token: { id: t } }))
      expectKeystoneError(rescoped, 401)
    }
    expect((await f.call('GET', '/v3/projects', { token: f.admin })).status).toBe(200)
  })
})
