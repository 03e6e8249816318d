import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { childFlags, processPlan } from '../../../bin/production.js'
import { computeHostGroups, ServiceCredentials } from '../../../bin/production-credentials.js'
import { callerOf, MAX_PRINCIPAL_BYTES, principalName } from '../../../shared/bus/caller.js'
import { federationConfig } from '../../../shared/config/federation.js'
import { allCells } from '../../../shared/config/regions.js'

describe('production credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prod-creds-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const cfg = federationConfig('production', { 'state-dir': dir, 'name-prefix': 'fedunit' })
  const cell = allCells(cfg.regions).find((c) => c.hosts.length > 0)
  if (cell === undefined) throw new Error('deploy/regions has no cell with hosts')
  const admin = { FEDERATION_DATABASE_URL: 'mysql://root:admin-secret@db:3306', FEDERATION_TRANSPORT_URL_FILE: '/etc/secret', PATH: '/bin' }
  const user = (url: string | undefined): string => decodeURIComponent(new URL(url ?? 'x://none').username)

  it('gives each process its own identity and none of the administrator\'s', () => {
    const creds = ServiceCredentials.load(cfg)
    const hosts = cell.hosts.map((h) => h.name)
    const compute = creds.envFor({ role: 'compute', cell, hosts }, admin)
    expect(compute['FEDERATION_DATABASE_URL']).toBeUndefined()
    expect(compute['FEDERATION_TRANSPORT_URL_FILE']).toBeUndefined()
    expect(callerOf(user(compute['FEDERATION_TRANSPORT_URL']))).toMatchObject({ role: 'compute', hosts })
    expect(compute['PATH']).toBe('/bin')
    const agent = creds.envFor({ role: 'agent', cell }, admin)
    expect(agent['FEDERATION_DATABASE_URL']).toBeUndefined()
    expect(callerOf(user(agent['FEDERATION_TRANSPORT_URL'])).role).toBe('agent')
    const conductor = creds.envFor({ role: 'conductor', cell }, admin)
    expect(user(conductor['FEDERATION_DATABASE_URL'])).toMatch(/^fedunit_[0-9a-f]{10}_conductor$/)
    expect(conductor['FEDERATION_DATABASE_URL']).not.toContain('admin-secret')
    // The server of the supervisor's own configuration (here the local default), with the service's account.
    expect(new URL(conductor['FEDERATION_DATABASE_URL'] ?? '').host).toBe('127.0.0.1:3306')
    const api = creds.envFor({ role: 'api' }, admin)
    expect(user(api['FEDERATION_DATABASE_URL'])).toBe('fedunit_api')
    expect(api['FEDERATION_TRANSPORT_URL']).toBeUndefined()
    // The metadata proxy's secret reaches the API process only.
    const withSecret = { ...admin, FEDERATION_METADATA_PROXY_SECRET: 'md-secret' }
    expect(creds.envFor({ role: 'api' }, withSecret)['FEDERATION_METADATA_PROXY_SECRET']).toBe('md-secret')
    for (const role of ['compute', 'agent', 'conductor', 'scheduler'] as const) {
      expect(creds.envFor({ role, cell, hosts }, withSecret)['FEDERATION_METADATA_PROXY_SECRET'], role).toBeUndefined()
    }
    // Distinct passwords per identity.
    expect(new URL(conductor['FEDERATION_DATABASE_URL'] ?? '').password).not.toBe(new URL(api['FEDERATION_DATABASE_URL'] ?? '').password)
  })

  it('never passes server URLs on to the processes\' command lines', () => {
    const flags = childFlags(['--', '--database-url', 'mysql://root@db:3306', '--transport-url=amqp://b:5672', '--metrics-base-port', '9000', '--state-dir', dir])
    expect(flags).toEqual(['--state-dir', dir])
    for (const p of processPlan(cfg, flags)) expect(p.args.join(' ')).not.toMatch(/mysql:|amqp:/)
  })

  it('splits a cell\'s hosts into compute processes whose user names fit AMQP\'s user_id', () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `a-rather-long-compute-host-name-${i}`)
    const groups = computeHostGroups('federation.api.region-one.dc1', hosts)
    expect(groups.length).toBeGreaterThan(1)
    expect(groups.flat()).toEqual(hosts)
    for (const g of groups) expect(Buffer.byteLength(principalName('federation.api.region-one.dc1', 'compute', g))).toBeLessThanOrEqual(MAX_PRINCIPAL_BYTES)
    expect(computeHostGroups('v', ['h1', 'h2'])).toEqual([['h1', 'h2']])
  })
})
