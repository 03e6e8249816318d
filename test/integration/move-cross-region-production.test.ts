import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import { mv } from '../helpers/project-user.js'

const region = (name: string, hosts: readonly string[]): string =>
  [`name: ${name}`, 'hosts:', ...hosts.map((h) => `  - { name: ${h}, vcpus: 8, memory_mb: 16384, disk_gb: 200 }`), ''].join('\n')

/**
 * A cold migration from one region to another in production mode: the API cell's saga over gRPC
 * (mutual TLS) to two regions, each cell's conductor over RabbitMQ, the saga state, the mappings
 * and the index in MariaDB.
 */
describe('production: a server moves from one region to another over MariaDB and RabbitMQ', () => {
  let fed: ProductionFederation
  let admin: Session
  let global: string
  let west: string
  let east: string
  let imageRef: string

  beforeAll(async () => {
    fed = await startProduction({
      regions: { 'xwest.yaml': region('xwest', ['xwest-1']), 'xeast.yaml': region('xeast', ['xeast-1']) },
      args: ['--driver', 'fake'],
      namePrefix: 'xcell',
    })
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    global = endpoint(admin, 'compute', 'federation')
    west = endpoint(admin, 'compute', 'xwest')
    east = endpoint(admin, 'compute', 'xeast')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'xwest')}/v2/images?name=cirros`)).body.images[0].id
  }, 120_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  const westUsed = async (): Promise<number | undefined> => {
    const hv = await call(admin, 'GET', `${west}/os-hypervisors/detail`)
    return (hv.body.hypervisors as { hypervisor_hostname: string; memory_mb_used: number }[]).find((h) => h.hypervisor_hostname === 'xwest-1')?.memory_mb_used
  }
  const ids = async (url: string): Promise<string[]> => (await call(admin, 'GET', `${url}/servers`)).body.servers.map((s: { id: string }) => s.id)

  it('migrates to a named host of the other region, keeping the uuid; confirm leaves it only there', async () => {
    const baseline = await westUsed()
    const res = await call(admin, 'POST', `${west}/servers`, { server: { name: 'xcell-prod', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const server = await waitForStatus(admin, west, res.body.server.id, 'ACTIVE', 60_000)
    expect(server['OS-EXT-SRV-ATTR:host']).toBe('xwest-1')
    expect((await call(admin, 'POST', `${global}/servers/${server.id}/action`, { migrate: { host: 'xeast-1' } }, mv('2.56'))).status).toBe(202)
    const moved = await waitForStatus(admin, global, server.id, 'VERIFY_RESIZE', 60_000)
    expect(moved.id).toBe(server.id)
    expect(moved['OS-EXT-SRV-ATTR:host']).toBe('xeast-1')
    expect(await ids(east)).toContain(server.id)
    expect(await ids(west)).not.toContain(server.id)
    expect((await call(admin, 'POST', `${global}/servers/${server.id}/action`, { confirmResize: null })).status).toBe(204)
    const done = await waitForStatus(admin, global, server.id, 'ACTIVE', 60_000)
    expect(done['OS-EXT-SRV-ATTR:host']).toBe('xeast-1')
    const confirmed = await waitFor(
      'cross-region migration confirmed',
      async () => {
        const list = await call(admin, 'GET', `${global}/os-migrations?instance_uuid=${server.id}`, undefined, mv('2.59'))
        const m = (list.body.migrations as { status: string }[] | undefined)?.find((x) => x.status === 'confirmed')
        return m
      },
      60_000,
    )
    expect(confirmed).toMatchObject({ migration_type: 'migration', source_compute: 'xwest-1', dest_compute: 'xeast-1', instance_uuid: server.id })
    // The source region's host gave its claim back.
    await waitFor('source claim released', async () => ((await westUsed()) === baseline ? true : undefined), 30_000)
  })
})
