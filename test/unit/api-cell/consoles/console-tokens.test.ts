import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConsoleTokens, consoleMigrations } from '../../../../api-cell/consoles/console-tokens.js'
import { API_MIGRATIONS } from '../../../../api-cell/runtime.js'
import type { Database } from '../../../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'

const UUID = '11111111-2222-4333-8444-555555555555'
const REQ = { instanceUuid: UUID, cellPath: 'api!region-one!dc1', protocol: 'vnc', consoleType: 'novnc', host: '127.0.0.1', port: 5901 }

describe('console tokens (API database)', () => {
  let db: Database<any>
  let now = 1_000_000
  let tokens: ConsoleTokens

  beforeEach(async () => {
    db = await openDatabase<any>('sqlite::memory:')
    await migrateToLatest(db.db, consoleMigrations)
    now = 1_000_000
    tokens = new ConsoleTokens({ db: db.db, ttlMs: 600_000, now: () => now })
  })
  afterEach(async () => {
    await db.close()
  })

  it('issues random 43-character tokens and stores only their SHA-256', async () => {
    const a = await tokens.issue(REQ)
    const b = await tokens.issue(REQ)
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(a).not.toBe(b)
    const rows = await db.db.selectFrom('console_auth_tokens').selectAll().execute()
    expect(rows.map((r: any) => r.token_hash).sort()).toEqual([a, b].map((t) => createHash('sha256').update(t).digest('hex')).sort())
  })

  it('peek reads a valid token without using it; consume uses it once', async () => {
    const t = await tokens.issue(REQ)
    expect(await tokens.peek(t)).toMatchObject({ instanceUuid: UUID, host: '127.0.0.1', port: 5901, expiresAt: now + 600_000 })
    expect(await tokens.consume(t, { regionPrefix: 'api!region-one', instanceUuid: UUID.toUpperCase() })).toMatchObject({ port: 5901 })
    expect(await tokens.consume(t, {})).toBe('used')
    expect(await tokens.peek(t)).toBe('used')
  })

  it('two connections racing with one token: exactly one gets through', async () => {
    const t = await tokens.issue(REQ)
    const results = await Promise.all(Array.from({ length: 8 }, () => tokens.consume(t, {})))
    expect(results.filter((r) => typeof r !== 'string')).toHaveLength(1)
    expect(results.filter((r) => r === 'used')).toHaveLength(7)
  })

  it.each([
    ['malformed', 'not a token', {}],
    ['unknown', 'A'.repeat(43), {}],
  ] as const)('%s', async (reason, token, scope) => {
    expect(await tokens.consume(token, scope)).toBe(reason)
  })

  it('refuses an expired token, another instance and another region, and a refusal uses nothing', async () => {
    const t = await tokens.issue(REQ)
    expect(await tokens.consume(t, { instanceUuid: '99999999-2222-4333-8444-555555555555' })).toBe('other-instance')
    expect(await tokens.consume(t, { regionPrefix: 'api!region-two' })).toBe('other-region')
    // A region whose name starts like another's is another region.
    expect(await tokens.consume(t, { regionPrefix: 'api!region-on' })).toBe('other-region')
    now += 600_000
    expect(await tokens.consume(t, {})).toBe('expired')
    now -= 1
    expect(await tokens.consume(t, { regionPrefix: 'api!region-one' })).toMatchObject({ instanceUuid: UUID })
  })

  it('forgets tokens expired for more than one TTL when it issues new ones', async () => {
    const old = await tokens.issue(REQ)
    now += 1_200_001
    await tokens.issue(REQ)
    expect(await tokens.peek(old)).toBe('unknown')
  })

  it('an API database migrated before console tokens existed upgrades: the console migration sorts after every other', async () => {
    const old = await openDatabase<any>('sqlite::memory:')
    try {
      const before = Object.fromEntries(Object.entries(API_MIGRATIONS).filter(([name]) => !(name in consoleMigrations)))
      await migrateToLatest(old.db, before)
      await migrateToLatest(old.db, API_MIGRATIONS)
      const t = await new ConsoleTokens({ db: old.db, ttlMs: 1000 }).issue(REQ)
      expect(t).toHaveLength(43)
    } finally {
      await old.close()
    }
  })
})
