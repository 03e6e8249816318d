import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import { mv } from '../helpers/project-user.js'

const HOSTS = ['mover-1', 'mover-2']
const REGION = ['name: movers', 'hosts:', ...HOSTS.map((h) => `  - { name: ${h}, vcpus: 8, memory_mb: 16384, disk_gb: 200 }`), ''].join('\n')

/**
 * Resize + confirm and a cold migration in production mode: the conductor drives the move over
 * RabbitMQ (calls to the compute process of each host), claims live in MariaDB, and the compute
 * API shows the result through the outbox.
 */
describe('production: resize and cold migration within a cell over MariaDB and RabbitMQ', () => {
  let fed: ProductionFederation
  let admin: Session
  let url: string
  let imageRef: string

  /** RAM claimed per host, as the cell DB counts it. */
  const ramUsed = async (): Promise<Record<string, number>> => {
    const res = await call(admin, 'GET', `${url}/os-hypervisors/detail`)
    expect(res.status).toBe(200)
    return Object.fromEntries((res.body.hypervisors as { hypervisor_hostname: string; memory_mb_used: number }[]).map((h) => [h.hypervisor_hostname, h.memory_mb_used]))
  }
  const show = async (id: string): Promise<any> => (await call(admin, 'GET', `${url}/servers/${id}`, undefined, mv('2.47'))).body.server

  beforeAll(async () => {
    fed = await startProduction({ regions: { 'movers.yaml': REGION }, args: ['--driver', 'fake'] })
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    url = endpoint(admin, 'compute', 'movers')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'movers')}/v2/images?name=cirros`)).body.images[0].id
  }, 120_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it('resizes to VERIFY_RESIZE with claims on both sides, then confirm keeps only the new flavor', async () => {
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: 'prod-resize', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const server = await waitForStatus(admin, url, res.body.server.id, 'ACTIVE', 60_000)
    const before = await ramUsed()
    const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)
    expect((await call(admin, 'POST', `${url}/servers/${server.id}/action`, { resize: { flavorRef: '2' } })).status).toBe(202)
    await waitForStatus(admin, url, server.id, 'VERIFY_RESIZE', 60_000)
    expect(sum(await ramUsed()) - sum(before)).toBe(2048)
    expect((await call(admin, 'POST', `${url}/servers/${server.id}/action`, { confirmResize: null })).status).toBe(204)
    await waitForStatus(admin, url, server.id, 'ACTIVE', 60_000)
    expect((await show(server.id)).flavor.original_name).toBe('m1.small')
    expect(sum(await ramUsed()) - sum(before)).toBe(2048 - 512)
  })

  it('cold-migrates to the other host, then confirm; os-migrations lists the move', async () => {
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: 'prod-migrate', imageRef, flavorRef: '1' } })
    const server = await waitForStatus(admin, url, res.body.server.id, 'ACTIVE', 60_000)
    const source = server['OS-EXT-SRV-ATTR:host'] as string
    const target = HOSTS.find((h) => h !== source)
    expect((await call(admin, 'POST', `${url}/servers/${server.id}/action`, { migrate: null })).status).toBe(202)
    const moved = await waitForStatus(admin, url, server.id, 'VERIFY_RESIZE', 60_000)
    expect(moved['OS-EXT-SRV-ATTR:host']).toBe(target)
    expect((await call(admin, 'POST', `${url}/servers/${server.id}/action`, { confirmResize: null })).status).toBe(204)
    const done = await waitForStatus(admin, url, server.id, 'ACTIVE', 60_000)
    expect(done['OS-EXT-SRV-ATTR:host']).toBe(target)
    const list = await call(admin, 'GET', `${url}/os-migrations?instance_uuid=${server.id}`, undefined, mv('2.59'))
    expect(list.status).toBe(200)
    expect(list.body.migrations).toEqual([expect.objectContaining({ migration_type: 'migration', status: 'confirmed', source_compute: source, dest_compute: target, instance_uuid: server.id })])
  })
})
