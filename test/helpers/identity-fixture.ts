import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterEach, expect } from 'vitest'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import type { Database } from '../../shared/db/database.js'
import { systemContext } from '../../shared/context.js'
import { bootstrapIdentity, identityMigrations, identityRouter, KyselyRevocationStore, TokenService } from '../../api-cell/identity/index.js'
import type { BootstrapResult, IdentityTables } from '../../api-cell/identity/index.js'

/**
 * A whole identity service per test: SQLite in memory, bootstrap, token service with its revocation
 * store, the real router on a loopback port, and an admin token. Closed after each test.
 */

/** A cheap scrypt cost for tests. */
export const FAST = { log2N: 10, r: 8, p: 1 }
/** The bootstrap admin's password. */
export const ADMIN_PASSWORD = 'Adm1n-pass'

/** A decoded HTTP answer. */
export interface Reply {
  status: number
  headers: Headers
  body: any
}

/** One running identity service. */
export interface Fixture {
  readonly database: Database<IdentityTables>
  readonly tokens: TokenService
  readonly boot: BootstrapResult
  readonly admin: string
  call(method: string, path: string, opts?: { token?: string; subject?: string; body?: unknown }): Promise<Reply>
  login(user: Record<string, unknown>, scope?: unknown): Promise<Reply>
  /** A user with `member` on a new project (and its id, project id and a project-scoped token). */
  member(name: string): Promise<{ userId: string; projectId: string; token: string }>
  close(): Promise<void>
}

const open: Fixture[] = []
afterEach(async () => {
  for (const f of open.splice(0)) await f.close()
})

/** Starts an identity service, closed after the current test. */
export async function fixture(): Promise<Fixture> {
  const database = await openDatabase<IdentityTables>('sqlite::memory:')
  await migrateToLatest(database.db, identityMigrations)
  const boot = await bootstrapIdentity(database.db, { adminPassword: ADMIN_PASSWORD, passwordCost: FAST })
  const tokens = new TokenService({ secret: randomBytes(32), revocations: new KyselyRevocationStore(database.db) })
  await tokens.loadRevocations(systemContext())
  const app = express()
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const catalog = { regions: ['region-one'], identityUrl: `${url}/v3`, imageUrl: 'http://127.0.0.1:9292', computeUrls: { 'region-one': 'http://127.0.0.1:8774/v2.1' } }
  app.use(identityRouter({ db: database.db, tokens, catalog, publicUrl: url, passwordCost: FAST }))
  const call: Fixture['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {}
    if (opts.token !== undefined) headers['X-Auth-Token'] = opts.token
    if (opts.subject !== undefined) headers['X-Subject-Token'] = opts.subject
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    const res = await fetch(`${url}${path}`, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
  }
  const login: Fixture['login'] = (user, scope) =>
    call('POST', '/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user } }, ...(scope === undefined ? {} : { scope }) } },
    })
  const adminLogin = await login({ name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD }, { project: { id: boot.adminProjectId } })
  const admin = adminLogin.headers.get('x-subject-token') ?? ''
  const f: Fixture = {
    database,
    tokens,
    boot,
    admin,
    call,
    login,
    async member(name) {
      const project = await call('POST', '/v3/projects', { token: admin, body: { project: { name, domain_id: 'default' } } })
      const projectId = project.body.project.id as string
      const user = await call('POST', '/v3/users', { token: admin, body: { user: { name, password: `pw-${name}`, domain_id: 'default' } } })
      const userId = user.body.user.id as string
      expect((await call('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${boot.roleIds.member}`, { token: admin })).status).toBe(204)
      const t = await login({ id: userId, password: `pw-${name}` }, { project: { id: projectId } })
      expect(t.status).toBe(201)
      return { userId, projectId, token: t.headers.get('x-subject-token') ?? '' }
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await database.close()
    },
  }
  open.push(f)
  return f
}
