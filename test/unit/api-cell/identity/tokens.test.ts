import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'
import type { Database } from '../../../../shared/db/database.js'
import { systemContext } from '../../../../shared/context.js'
import { UnauthorizedError } from '../../../../shared/errors.js'
import { identityMigrations } from '../../../../api-cell/identity/migrations.js'
import { KyselyRevocationStore } from '../../../../api-cell/identity/revocation-store.js'
import type { IdentityTables } from '../../../../api-cell/identity/schema.js'
import { TokenService } from '../../../../api-cell/identity/tokens.js'
import type { IssueArgs } from '../../../../api-cell/identity/tokens.js'

const ctx = systemContext()
const user = { id: 'u1', name: 'alice', domainId: 'default', domainName: 'Default' }
const projectArgs: IssueArgs = {
  user,
  scope: { kind: 'project', id: 'p1', name: 'demo', domainId: 'default', domainName: 'Default' },
  roles: [{ id: 'r1', name: 'member' }],
  methods: ['password'],
}

class FakeClock {
  t = 1_700_000_000_000
  readonly now = (): number => this.t
}

function service(opts: { secret?: Buffer; clock?: FakeClock; ttlSeconds?: number } = {}): TokenService {
  const clock = opts.clock ?? new FakeClock()
  return new TokenService({ secret: opts.secret ?? Buffer.alloc(32, 7), ttlSeconds: opts.ttlSeconds ?? 3600, clock: clock.now })
}

describe('TokenService', () => {
  it('round-trips every field of a project-scoped token', () => {
    const tokens = service()
    const { token, data } = tokens.issue(projectArgs)
    expect(token.startsWith('v1.')).toBe(true)
    const back = tokens.validate(token)
    expect(back).toEqual(data)
    expect(back.scope).toEqual(projectArgs.scope)
    expect(back.roles).toEqual([{ id: 'r1', name: 'member' }])
    expect(back.expiresAt - back.issuedAt).toBe(3600 * 1000)
    expect(back.auditIds).toHaveLength(1)
    expect(back.auditIds[0]).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it.each([
    [{ kind: 'domain', id: 'default', name: 'Default' }],
    [{ kind: 'system' }],
    [{ kind: 'unscoped' }],
  ] as const)('round-trips scope %j', (scope) => {
    const tokens = service()
    const { token } = tokens.issue({ ...projectArgs, scope })
    const back = tokens.validate(token)
    expect(back.scope).toEqual(scope)
    if (scope.kind === 'unscoped') expect(back.roles).toEqual([])
  })

  it('gives every token its own audit id', () => {
    const tokens = service()
    const a = tokens.issue(projectArgs).data.auditIds[0]
    const b = tokens.issue(projectArgs).data.auditIds[0]
    expect(a).not.toBe(b)
  })

  it('rejects an expired token, and accepts it until the last millisecond', () => {
    const clock = new FakeClock()
    const tokens = service({ clock, ttlSeconds: 60 })
    const { token } = tokens.issue(projectArgs)
    clock.t += 60_000 - 1
    expect(tokens.validate(token).user.id).toBe('u1')
    clock.t += 1
    expect(() => tokens.validate(token)).toThrow(UnauthorizedError)
  })

  it('rejects a tampered payload, a tampered signature and garbage', () => {
    const tokens = service()
    const { token } = tokens.issue(projectArgs)
    const [v, payload, sig] = token.split('.') as [string, string, string]
    const forged = Buffer.from(
      Buffer.from(payload, 'base64url').toString('utf8').replace('"member"', '"admin"'),
    ).toString('base64url')
    expect(forged).not.toBe(payload)
    expect(() => tokens.validate(`${v}.${forged}.${sig}`)).toThrow(UnauthorizedError)
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
    expect(() => tokens.validate(`${v}.${payload}.${flipped}`)).toThrow(UnauthorizedError)
    for (const bad of ['', 'abc', 'v1..', 'v2.x.y', `${v}.${payload}`]) expect(() => tokens.validate(bad)).toThrow(UnauthorizedError)
  })

  it('rejects a token signed with another key, accepts one signed with a previous key', () => {
    const oldKey = randomBytes(32)
    const old = new TokenService({ secret: oldKey })
    const { token } = old.issue(projectArgs)
    expect(() => new TokenService({ secret: randomBytes(32) }).validate(token)).toThrow(UnauthorizedError)
    const rotated = new TokenService({ secret: randomBytes(32), previousSecrets: [oldKey] })
    expect(rotated.validate(token).user.name).toBe('alice')
  })

  it('refuses short secrets and a non-positive ttl', () => {
    expect(() => new TokenService({ secret: Buffer.alloc(16) })).toThrow(/32 bytes/)
    expect(() => new TokenService({ secret: Buffer.alloc(32), ttlSeconds: 0 })).toThrow(/ttl/)
  })

  it('revokes one token and the tokens rescoped from it, not its siblings', async () => {
    const tokens = service()
    const first = tokens.issue(projectArgs)
    const sibling = tokens.issue(projectArgs)
    const child = tokens.issue({ ...projectArgs, methods: ['token'], parent: first.data })
    expect(child.data.auditIds).toEqual([expect.any(String), first.data.auditIds[0]])
    expect(child.data.expiresAt).toBeLessThanOrEqual(first.data.expiresAt)
    await tokens.revokeToken(ctx, first.data)
    expect(() => tokens.validate(first.token)).toThrow(UnauthorizedError)
    expect(() => tokens.validate(child.token)).toThrow(UnauthorizedError)
    expect(tokens.validate(sibling.token).user.id).toBe('u1')
  })

  it('revokes every earlier token of a user, but not tokens issued afterwards in the same millisecond', async () => {
    const clock = new FakeClock()
    const tokens = service({ clock })
    const before = tokens.issue(projectArgs)
    const other = tokens.issue({ ...projectArgs, user: { ...user, id: 'u2' } })
    await tokens.revokeUser(ctx, 'u1')
    const after = tokens.issue(projectArgs) // clock has not moved
    expect(() => tokens.validate(before.token)).toThrow(UnauthorizedError)
    expect(tokens.validate(after.token).user.id).toBe('u1')
    expect(tokens.validate(other.token).user.id).toBe('u2')
  })

  it('revokes every earlier token scoped to a project', async () => {
    const tokens = service()
    const scoped = tokens.issue(projectArgs)
    const unscoped = tokens.issue({ ...projectArgs, scope: { kind: 'unscoped' } })
    await tokens.revokeProject(ctx, 'p1')
    expect(() => tokens.validate(scoped.token)).toThrow(UnauthorizedError)
    expect(tokens.validate(unscoped.token).scope.kind).toBe('unscoped')
  })
})

describe('TokenService with a persisted revocation store', () => {
  let database: Database<IdentityTables>

  beforeEach(async () => {
    database = await openDatabase<IdentityTables>('sqlite::memory:')
    await migrateToLatest(database.db, identityMigrations)
  })
  afterEach(async () => {
    await database.close()
  })

  it('keeps revocations across a restart', async () => {
    const secret = randomBytes(32)
    const store = new KyselyRevocationStore(database.db)
    const first = new TokenService({ secret, revocations: store })
    const a = first.issue(projectArgs)
    const b = first.issue({ ...projectArgs, user: { ...user, id: 'u2' } })
    const c = first.issue({ ...projectArgs, user: { ...user, id: 'u3' }, scope: { ...projectArgs.scope, id: 'p9' } as IssueArgs['scope'] })
    await first.revokeToken(ctx, a.data)
    await first.revokeUser(ctx, 'u2')
    await first.revokeProject(ctx, 'p9')

    const restarted = new TokenService({ secret, revocations: new KyselyRevocationStore(database.db) })
    expect(restarted.validate(a.token).user.id).toBe('u1') // not loaded yet
    expect(await restarted.loadRevocations(ctx)).toBe(3)
    for (const t of [a, b, c]) expect(() => restarted.validate(t.token)).toThrow(UnauthorizedError)
  })

  it('prunes expired revocations and keeps the latest revocation time per target', async () => {
    const clock = new FakeClock()
    const store = new KyselyRevocationStore(database.db)
    const tokens = new TokenService({ secret: Buffer.alloc(32, 1), ttlSeconds: 60, revocations: store, clock: clock.now })
    await tokens.revokeUser(ctx, 'u1')
    clock.t += 1000
    await tokens.revokeUser(ctx, 'u1')
    const rows = await database.db.selectFrom('token_revocations').selectAll().execute()
    expect(rows).toHaveLength(1)
    expect(Number(rows[0]?.revoked_at)).toBe(clock.t)
    clock.t += 61_000
    expect(await tokens.loadRevocations(ctx)).toBe(0)
    expect(await database.db.selectFrom('token_revocations').selectAll().execute()).toHaveLength(0)
  })
})
