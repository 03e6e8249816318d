import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { openDatabase } from '../../shared/db/database.js'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * The no-over-commit proof in production mode: one leaf cell served by two scheduler processes
 * (competing consumers of its scheduler queue on RabbitMQ, claiming in MariaDB), and many more
 * concurrent boots than its hosts can hold. Hosts: 2 vCPUs and 4 GB each, ratios 1, nothing
 * reserved, so m1.small (1 vCPU, 2 GB, 20 GB) fits exactly twice per host: 6 in the cell.
 */
const HOSTS = ['tight-1', 'tight-2', 'tight-3']
const CAPACITY = 6
const BOOTS = 24
const TIGHT = [
  'name: tight',
  'hosts:',
  ...HOSTS.map(
    (h) =>
      `  - { name: ${h}, vcpus: 2, memory_mb: 4096, disk_gb: 100, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, disk_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }`,
  ),
  '',
].join('\n')

describe('production: concurrent boots never over-commit a cell with two schedulers', () => {
  let fed: ProductionFederation
  let admin: Session
  let url: string
  let imageRef: string
  const savedLog = process.env['FED_LOG']

  beforeAll(async () => {
    // Info logs carry the schedulers' "claimed" lines, which show both of them at work.
    process.env['FED_LOG'] = 'info'
    try {
      fed = await startProduction({ regions: { 'tight.yaml': TIGHT }, args: ['--scheduler-workers', '2', '--driver', 'fake'] })
    } finally {
      if (savedLog === undefined) delete process.env['FED_LOG']
      else process.env['FED_LOG'] = savedLog
    }
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    url = endpoint(admin, 'compute', 'tight')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'tight')}/v2/images?name=cirros`)).body.images[0].id
    // Quotas would refuse most of the burst with 403 before scheduling: lift them for this project.
    const q = await call(admin, 'PUT', `${url}/os-quota-sets/${admin.projectId}`, { quota_set: { instances: -1, cores: -1, ram: -1 } })
    expect(q.status).toBe(200)
    // One boot end to end, so that every process is up and the cell has reported capacity.
    const probe = await call(admin, 'POST', `${url}/servers`, { server: { name: 'probe', imageRef, flavorRef: '2' } })
    expect(probe.status).toBe(202)
    await waitForStatus(admin, url, probe.body.server.id, 'ACTIVE', 90_000)
    expect((await call(admin, 'DELETE', `${url}/servers/${probe.body.server.id}`)).status).toBe(204)
    await waitFor('probe gone', async () => ((await call(admin, 'GET', `${url}/servers`)).body.servers.length === 0 ? true : undefined), 60_000)
    await waitFor('probe claim released', async () => ((await usage()).every((n) => n.running_vms === 0) ? true : undefined), 30_000)
  }, 180_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  /** The cell's compute nodes and allocations, read from its MariaDB schema. */
  const cellDb = () => openDatabase<CellSchema>(`mysql://root@127.0.0.1:3306/${fed.prefix}_api__tight`)
  const usage = async () => {
    const db = await cellDb()
    try {
      return await db.db.selectFrom('compute_nodes').selectAll().execute()
    } finally {
      await db.close()
    }
  }

  it('runs two scheduler processes, both consuming the cell scheduler queue', () => {
    expect(fed.pids('--role scheduler', '--cell api!tight ')).toHaveLength(2)
    const consumers = execFileSync('rabbitmqctl', ['-q', 'list_consumers', '-p', `${fed.prefix}.api.tight`, 'queue_name'], { encoding: 'utf8' })
    expect(consumers.split('\n').filter((l) => l.trim() === 'scheduler')).toHaveLength(2)
  })

  it(`places exactly ${CAPACITY} of ${BOOTS} concurrent boots, never beyond capacity x ratio; the rest end in ERROR (no valid host)`, async () => {
    const posted = await Promise.all(
      Array.from({ length: BOOTS }, (_, i) => call(admin, 'POST', `${url}/servers`, { server: { name: `burst-${i}`, imageRef, flavorRef: '2' } })),
    )
    expect(posted.map((p) => p.status)).toEqual(Array.from({ length: BOOTS }, () => 202))
    const ids = posted.map((p) => p.body.server.id as string)
    const servers = await waitFor(
      'every boot to settle',
      async () => {
        const all = await Promise.all(ids.map((id) => call(admin, 'GET', `${url}/servers/${id}`)))
        const s = all.map((r) => r.body?.server)
        return s.every((x) => x !== undefined && (x.status === 'ACTIVE' || x.status === 'ERROR')) ? s : undefined
      },
      120_000,
    )
    const active = servers.filter((s) => s.status === 'ACTIVE')
    const failed = servers.filter((s) => s.status === 'ERROR')
    expect(active).toHaveLength(CAPACITY)
    expect(failed).toHaveLength(BOOTS - CAPACITY)
    for (const s of failed) expect(s.fault.message).toContain('No valid host was found')
    const perHost = new Map<string, number>()
    for (const s of active) perHost.set(s['OS-EXT-SRV-ATTR:host'], (perHost.get(s['OS-EXT-SRV-ATTR:host']) ?? 0) + 1)
    expect([...perHost.values()].every((n) => n <= 2)).toBe(true)

    // The database's own word: used <= capacity x ratio - reserved on every host, and the usage is
    // exactly the sum of the claims held.
    const db = await cellDb()
    try {
      const nodes = await db.db.selectFrom('compute_nodes').selectAll().execute()
      expect(nodes.map((n) => n.host).sort()).toEqual(HOSTS)
      const allocs = await db.db.selectFrom('allocations').selectAll().execute()
      expect(allocs).toHaveLength(CAPACITY)
      for (const n of nodes) {
        expect(n.memory_mb_used, n.host).toBeLessThanOrEqual(n.memory_mb * n.ram_allocation_ratio - n.reserved_host_memory_mb)
        expect(n.vcpus_used, n.host).toBeLessThanOrEqual(n.vcpus * n.cpu_allocation_ratio)
        expect(n.local_gb_used, n.host).toBeLessThanOrEqual(n.local_gb * n.disk_allocation_ratio - n.reserved_host_disk_gb)
        const mine = allocs.filter((a) => a.node_id === n.id)
        expect(n.memory_mb_used, n.host).toBe(mine.reduce((t, a) => t + a.memory_mb, 0))
        expect(n.vcpus_used, n.host).toBe(mine.reduce((t, a) => t + a.vcpus, 0))
        expect(n.running_vms, n.host).toBe(mine.length)
      }
    } finally {
      await db.close()
    }

    // Both scheduler processes claimed some of them.
    const claimers = new Set(
      fed
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"claimed'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid),
    )
    expect(claimers.size).toBe(2)
  }, 180_000)
})
