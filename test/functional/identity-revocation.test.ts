import { describe, expect, it } from 'vitest'
import { systemContext } from '../../shared/context.js'
import { Authenticator } from '../../api-cell/identity/authenticator.js'
import { IdentityStore } from '../../api-cell/identity/identity-store.js'
import type { RoleRow } from '../../api-cell/identity/identity-store.js'
import { bootstrapIdentity } from '../../api-cell/identity/index.js'
import type { AssignmentTarget } from '../../api-cell/identity/schema.js'
import { ADMIN_PASSWORD, FAST, fixture } from '../helpers/identity-fixture.js'
import type { Fixture, Reply } from '../helpers/identity-fixture.js'

/**
 * Every write that takes something away from a user revokes the tokens that still carry it, over the
 * real router, store and SQLite database. Each case builds its own identity service.
 */

/** `true` while `token` is accepted (as a caller's token, and as a subject token). */
async function alive(f: Fixture, token: string): Promise<boolean> {
  const asCaller = await f.call('GET', '/v3/auth/tokens', { token, subject: token })
  const asSubject = await f.call('GET', '/v3/auth/tokens', { token: f.admin, subject: token })
  expect(asCaller.status === 200).toBe(asSubject.status === 200)
  return asCaller.status === 200
}

describe('identity: removing a grant revokes the tokens that carry it', () => {
  it.each(['project', 'domain'] as const)('a %s grant', async (target: AssignmentTarget) => {
    const f = await fixture()
    const m = await f.member(`m-${target}`)
    const targetId = target === 'project' ? m.projectId : 'default'
    const grant = `/v3/${target}s/${targetId}/users/${m.userId}/roles/${f.boot.roleIds.admin}`
    expect((await f.call('PUT', grant, { token: f.admin })).status).toBe(204)
    const scope = target === 'project' ? { project: { id: m.projectId } } : { domain: { id: 'default' } }
    const issued = await f.login({ id: m.userId, password: `pw-m-${target}` }, scope)
    expect(issued.status).toBe(201)
    expect(issued.body.token.roles.map((r: { name: string }) => r.name)).toContain('admin')
    const adminToken = issued.headers.get('x-subject-token') ?? ''
    expect(await alive(f, adminToken)).toBe(true)

    expect((await f.call('DELETE', grant, { token: f.admin })).status).toBe(204)
    expect(await alive(f, adminToken)).toBe(false)
    // The attack of the finding: the old token grants its owner admin again. Refused, nothing written.
    expect((await f.call('PUT', grant, { token: adminToken })).status).toBe(401)
    expect((await f.call('GET', grant, { token: f.admin })).status).toBe(404)
    // Other users' tokens live on.
    expect(await alive(f, f.admin)).toBe(true)
  })
})

describe('identity: every other privilege-reducing write revokes', () => {
  const cases: Array<[string, (f: Fixture, m: { userId: string; projectId: string }) => Promise<Reply>]> = [
    ['disabling the user', (f, m) => f.call('PATCH', `/v3/users/${m.userId}`, { token: f.admin, body: { user: { enabled: false } } })],
    ['changing its password', (f, m) => f.call('PATCH', `/v3/users/${m.userId}`, { token: f.admin, body: { user: { password: 'other' } } })],
    ['deleting the user', (f, m) => f.call('DELETE', `/v3/users/${m.userId}`, { token: f.admin })],
    ['disabling the project', (f, m) => f.call('PATCH', `/v3/projects/${m.projectId}`, { token: f.admin, body: { project: { enabled: false } } })],
    ['deleting the project', (f, m) => f.call('DELETE', `/v3/projects/${m.projectId}`, { token: f.admin })],
    ['deleting the role it holds', (f) => f.call('DELETE', `/v3/roles/${f.boot.roleIds.member}`, { token: f.admin })],
    ['deleting a role it only holds by implication', (f) => f.call('DELETE', `/v3/roles/${f.boot.roleIds.reader}`, { token: f.admin })],
  ]

  it.each(cases)('%s', async (_name, change) => {
    const f = await fixture()
    const m = await f.member('victim')
    const bystander = await f.member('bystander')
    expect(await alive(f, m.token)).toBe(true)
    const res = await change(f, m)
    expect(res.status).toBeLessThan(300)
    expect(await alive(f, m.token)).toBe(false)
    // A role deletion touches everyone holding it; other changes only the victim.
    expect(await alive(f, bystander.token)).toBe(!_name.startsWith('deleting the role') && !_name.startsWith('deleting a role'))
  })

  it('a renamed user or project keeps its tokens (Keystone does not revoke on rename)', async () => {
    const f = await fixture()
    const m = await f.member('renamed')
    expect((await f.call('PATCH', `/v3/users/${m.userId}`, { token: f.admin, body: { user: { name: 'renamed-2' } } })).status).toBe(200)
    expect((await f.call('PATCH', `/v3/projects/${m.projectId}`, { token: f.admin, body: { project: { description: 'x' } } })).status).toBe(200)
    expect(await alive(f, m.token)).toBe(true)
  })

  it('a custom role: deleting it revokes its holders only', async () => {
    const f = await fixture()
    const holder = await f.member('holder')
    const other = await f.member('other')
    const role = await f.call('POST', '/v3/roles', { token: f.admin, body: { role: { name: 'auditor' } } })
    const roleId = role.body.role.id as string
    expect((await f.call('PUT', `/v3/projects/${holder.projectId}/users/${holder.userId}/roles/${roleId}`, { token: f.admin })).status).toBe(204)
    const t = await f.login({ id: holder.userId, password: 'pw-holder' }, { project: { id: holder.projectId } })
    const withRole = t.headers.get('x-subject-token') ?? ''
    expect(t.body.token.roles.map((r: { name: string }) => r.name)).toContain('auditor')
    expect((await f.call('DELETE', `/v3/roles/${roleId}`, { token: f.admin })).status).toBe(204)
    expect(await alive(f, withRole)).toBe(false)
    expect(await alive(f, other.token)).toBe(true)
    expect(await alive(f, f.admin)).toBe(true)
  })
})

describe('identity: bootstrap and revocation', () => {
  it('a restart with the same admin password keeps admin tokens; a new password revokes them', async () => {
    const f = await fixture()
    await bootstrapIdentity(f.database.db, { adminPassword: ADMIN_PASSWORD, passwordCost: FAST })
    await f.tokens.loadRevocations(systemContext())
    expect(await alive(f, f.admin)).toBe(true)
    await bootstrapIdentity(f.database.db, { adminPassword: 'changed-by-operator', passwordCost: FAST })
    // Written by another "process" (no token service of its own): seen on the next refresh.
    await f.tokens.loadRevocations(systemContext())
    const fresh = await f.login({ name: 'admin', domain: { id: 'default' }, password: 'changed-by-operator' })
    expect(fresh.status).toBe(201)
    const token = fresh.headers.get('x-subject-token') ?? ''
    expect((await f.call('GET', '/v3/auth/tokens', { token, subject: token })).status).toBe(200)
    expect((await f.call('GET', '/v3/auth/tokens', { token: f.admin, subject: f.admin })).status).toBe(401)
    expect((await f.call('GET', '/v3/auth/tokens', { token, subject: f.admin })).status).toBe(404)
  })
})

describe('identity: a revocation during authentication', () => {
  it('is not outlived by a token built from roles read before it', async () => {
    const f = await fixture()
    const m = await f.member('racer')
    const revoker = f.tokens
    const ctx = systemContext()
    let raced = false
    // A store whose first role read is followed, before the token is signed, by the grant's removal.
    class RacingStore extends IdentityStore {
      override async rolesOn(c: typeof ctx, userId: string, type: AssignmentTarget, id: string): Promise<RoleRow[]> {
        const roles = await super.rolesOn(c, userId, type, id)
        if (!raced) {
          raced = true
          await new IdentityStore(f.database.db, { revoker, passwordCost: FAST }).revokeGrant(ctx, {
            userId: m.userId,
            targetType: 'project',
            targetId: m.projectId,
            roleId: f.boot.roleIds.member,
          })
        }
        return roles
      }
    }
    const authenticator = new Authenticator(new RacingStore(f.database.db, { revoker, passwordCost: FAST }), f.tokens)
    const request = {
      auth: { identity: { methods: ['password'], password: { user: { id: m.userId, password: 'pw-racer' } } }, scope: { project: { id: m.projectId } } },
    }
    // The first read saw the member role; the retry sees none and is refused: no token carries it.
    await expect(authenticator.authenticate(ctx, request)).rejects.toMatchObject({ status: 401 })
    expect(raced).toBe(true)
  })
})
