import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import type { RequestHandler, Router } from 'express'
import type { Migration } from 'kysely'
import { afterEach } from 'vitest'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { authMiddleware } from '../../api-cell/identity/auth.js'
import { floatingIpMigrations } from '../../api-cell/network/floating-ips/migrations.js'
import type { NetworkDirectory, NetworkFacts, PortFacts } from '../../api-cell/network/floating-ips/network-directory.js'
import { securityGroupMigrations } from '../../api-cell/network/security-groups/migrations.js'
import type { Fixture, Reply } from './identity-fixture.js'

/**
 * The network routers of one test on a loopback port: the real identity middleware (tokens of an
 * identity fixture) and a real API database, SQLite in a temporary directory unless a URL is given.
 */
export interface NetworkApp {
  readonly url: string
  readonly database: Database<any>
  call(method: string, path: string, token: string, body?: unknown): Promise<Reply>
  close(): Promise<void>
}

const open: NetworkApp[] = []
afterEach(async () => {
  for (const a of open.splice(0)) await a.close()
})

/** Opens (and migrates, with `extra` migrations too) the API database of a test: SQLite in a fresh temp dir, or `url`. */
export async function networkDatabase(url?: string, extra: Readonly<Record<string, Migration>> = {}): Promise<{ database: Database<any>; cleanup: () => void }> {
  const dir = url === undefined ? mkdtempSync(join(tmpdir(), 'wtn2-net-')) : undefined
  const database = await openDatabase<any>(url ?? `sqlite:${join(dir ?? '', 'api.db')}`)
  await migrateToLatest(database.db, { ...securityGroupMigrations, ...floatingIpMigrations, ...extra })
  return { database, cleanup: () => (dir === undefined ? undefined : rmSync(dir, { recursive: true, force: true })) }
}

/** Starts `routers(db, auth)`, `auth` being the identity middleware over `identity`'s tokens; closed after the test. */
export async function networkApp(identity: Fixture, routers: (database: Database<any>, auth: RequestHandler) => Router[]): Promise<NetworkApp> {
  const { database, cleanup } = await networkDatabase()
  const app = express()
  for (const r of routers(database, authMiddleware(identity.tokens))) app.use(r)
  app.use((_req, res) => {
    res.status(404).json({ NeutronError: { type: 'HTTPNotFound', message: 'The resource could not be found.', detail: '' } })
  })
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const a: NetworkApp = {
    url,
    database,
    async call(method, path, token, body) {
      const headers: Record<string, string> = { 'X-Auth-Token': token }
      if (body !== undefined) headers['Content-Type'] = 'application/json'
      const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
      const text = await res.text()
      return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await database.close()
      cleanup()
    },
  }
  open.push(a)
  return a
}

/** A network directory over maps, as the port service would answer (tests add networks and ports). */
export class MapDirectory implements NetworkDirectory {
  readonly networks = new Map<string, NetworkFacts>()
  readonly ports = new Map<string, PortFacts>()

  network(id: string): Promise<NetworkFacts | undefined> {
    return Promise.resolve(this.networks.get(id))
  }

  port(id: string): Promise<PortFacts | undefined> {
    return Promise.resolve(this.ports.get(id))
  }

  addressHeldByPort(subnetId: string, ipAddress: string): Promise<boolean> {
    return Promise.resolve([...this.ports.values()].some((p) => p.fixedIps.some((ip) => ip.subnetId === subnetId && ip.ipAddress === ipAddress)))
  }
}
