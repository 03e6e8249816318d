import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { SpawnArgs } from '../../child-cell/compute/virt/driver.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * Scheduling across the tree with the fake driver on a small, known tree:
 * - region-one: an intermediate cell over dc1 (two 4-core 8 GB hosts, so the capacity weigher
 *   prefers it) and dc2 (two 2-core 4 GB hosts);
 * - region-two: a leaf with one 4-core 8 GB host and one 2-core 4 GB host.
 * Allocation ratios 1 and no reserved memory, so that capacity is plain arithmetic (m1.small,
 * 2 GB / 1 vCPU: 4 on a big host, 2 on a small one).
 */
const REGION_ONE = `
name: region-one
children:
  - name: dc1
    availability_zone: dc1
    hosts:
      - { name: t1-dc1-a, vcpus: 4, memory_mb: 8192, disk_gb: 200, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
      - { name: t1-dc1-b, vcpus: 4, memory_mb: 8192, disk_gb: 200, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
  - name: dc2
    availability_zone: dc2
    hosts:
      - { name: t1-dc2-a, vcpus: 2, memory_mb: 4096, disk_gb: 100, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
      - { name: t1-dc2-b, vcpus: 2, memory_mb: 4096, disk_gb: 100, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
`
const REGION_TWO = `
name: region-two
hosts:
  - { name: t2-a, vcpus: 4, memory_mb: 8192, disk_gb: 200, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
  - { name: t2-b, vcpus: 2, memory_mb: 4096, disk_gb: 100, cpu_allocation_ratio: 1.0, ram_allocation_ratio: 1.0, reserved_host_memory_mb: 0 }
`
const M1_SMALL = '2'

describe('embedded federation: scheduling across the tree', () => {
  let dir: string
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r1: string
  let r2: string
  let global: string
  let imageRef: string
  /** Failed spawns per host while a host is made to fail. */
  const failures = new Map<string, number>()
  const restores: Array<() => void> = []

  /** Makes every spawn on `hosts` fail, as a broken hypervisor would. Undone after each test. */
  const failSpawnOn = (...hosts: string[]): void => {
    for (const host of hosts) {
      const driver = fed.driverOf(host)
      if (driver === undefined) throw new Error(`no driver for ${host}`)
      const spawn = driver.spawn.bind(driver)
      driver.spawn = (_args: SpawnArgs) => {
        failures.set(host, (failures.get(host) ?? 0) + 1)
        return Promise.reject(new Error(`hypervisor on ${host} is broken`))
      }
      restores.push(() => {
        driver.spawn = spawn
      })
    }
  }

  const boot = async (url: string, server: Record<string, unknown>, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<any> => {
    const res = await call(admin, 'POST', `${url}/servers`, { server: { imageRef, flavorRef: '1', ...server }, ...extra }, headers)
    expect(res.status, JSON.stringify(res.body)).toBe(202)
    return res.body
  }

  const settled = async (url: string, ids: readonly string[]): Promise<any[]> =>
    waitFor(`${ids.length} servers to settle`, async () => {
      const all = await Promise.all(ids.map((id) => call(admin, 'GET', `${url}/servers/${id}`)))
      const servers = all.map((r) => r.body?.server)
      return servers.every((s) => s !== undefined && (s.status === 'ACTIVE' || s.status === 'ERROR')) ? servers : undefined
    })

  /** Waits until region-two reports room for `count` m1.small again (rolled-back instances gone). */
  const regionTwoFits = (count: number): Promise<true> =>
    waitFor(`region-two to fit ${count} m1.small`, async () =>
      fed.api.tree.regionAggregates('region-two')[0]?.flavorFits[M1_SMALL]?.count === count ? true : undefined,
    )

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sched-'))
    const regions = join(dir, 'regions')
    mkdirSync(regions)
    writeFileSync(join(regions, 'region-one.yaml'), REGION_ONE)
    writeFileSync(join(regions, 'region-two.yaml'), REGION_TWO)
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    cfg = embeddedConfig(join(dir, 'state'), { driver: 'fake', 'regions-dir': regions })
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r1 = endpoint(admin, 'compute', 'region-one')
    r2 = endpoint(admin, 'compute', 'region-two')
    global = `${fed.api.urls.compute}/v2.1`
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    await regionTwoFits(6)
  })

  afterEach(async () => {
    for (const restore of restores.splice(0)) restore()
    failures.clear()
    // Every test starts on an empty tree (quota counts ERROR servers too).
    const list = await call(admin, 'GET', `${global}/servers`)
    for (const s of list.body.servers) await call(admin, 'DELETE', `${global}/servers/${s.id}`)
    await waitFor('servers gone', async () => ((await call(admin, 'GET', `${global}/servers`)).body.servers.length === 0 ? true : undefined))
    await regionTwoFits(6)
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(dir)
  })

  it('retries a failed spawn on another host of the same leaf', async () => {
    // The RAM weigher prefers the big host: it fails, the small one takes the build.
    failSpawnOn('t2-a')
    const { server } = await boot(r2, { name: 'retried' })
    const s = await waitForStatus(admin, r2, server.id, 'ACTIVE')
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('t2-b')
    expect(failures.get('t2-a')).toBe(1)
    expect(s.fault).toBeUndefined()
    const mapping = await fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', server.id).executeTakeFirstOrThrow()
    expect(mapping.cell_path).toBe('api!region-two')
  })

  it('hands a build back up when no host of the leaf can spawn it: the parent tries its next child', async () => {
    failSpawnOn('t1-dc1-a', 't1-dc1-b')
    const { server } = await boot(r1, { name: 'up-the-tree' })
    const s = await waitForStatus(admin, r1, server.id, 'ACTIVE')
    expect(s['OS-EXT-SRV-ATTR:host']).toMatch(/^t1-dc2-/)
    expect(failures.get('t1-dc1-a')).toBe(1)
    expect(failures.get('t1-dc1-b')).toBe(1)
    const mapping = await fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', server.id).executeTakeFirstOrThrow()
    expect(mapping.cell_path).toBe('api!region-one!dc2')
    // Listed once, with the new cell's state, whatever dc1 said last.
    const list = await call(admin, 'GET', `${r1}/servers/detail`)
    const mine = list.body.servers.filter((x: any) => x.id === server.id)
    expect(mine).toHaveLength(1)
    expect(mine[0].status).toBe('ACTIVE')
    expect((await call(admin, 'DELETE', `${r1}/servers/${server.id}`)).status).toBe(204)
    await waitFor('deleted', async () => ((await call(admin, 'GET', `${r1}/servers/${server.id}`)).status === 404 ? true : undefined))
  })

  it('goes up two levels: a region whose every leaf fails is left for the next region', async () => {
    failSpawnOn('t1-dc1-a', 't1-dc1-b', 't1-dc2-a', 't1-dc2-b')
    const { server } = await boot(global, { name: 'next-region' })
    const s = await waitForStatus(admin, global, server.id, 'ACTIVE')
    expect(s['OS-EXT-SRV-ATTR:host']).toMatch(/^t2-/)
    for (const h of ['t1-dc1-a', 't1-dc1-b', 't1-dc2-a', 't1-dc2-b']) expect(failures.get(h), h).toBe(1)
  })

  it('records the build in cell0 in ERROR once the whole scope failed, with every failure in the fault; delete works', async () => {
    failSpawnOn('t2-a', 't2-b')
    const { server } = await boot(r2, { name: 'doomed' })
    const s = await waitForStatus(admin, r2, server.id, 'ERROR')
    expect(s.fault.code).toBe(500)
    expect(s.fault.message).toContain('No valid host was found')
    expect(s.fault.message).toContain('hypervisor on t2-')
    expect(failures.get('t2-a')).toBe(1)
    expect(failures.get('t2-b')).toBe(1)
    const mapping = await fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', server.id).executeTakeFirstOrThrow()
    expect(mapping.cell_path).toBe('cell0')
    // Nothing stays claimed in the leaf.
    await regionTwoFits(6)
    expect((await call(admin, 'DELETE', `${r2}/servers/${server.id}`)).status).toBe(204)
    expect((await call(admin, 'GET', `${r2}/servers/${server.id}`)).status).toBe(404)
  })

  it('places min_count all or nothing: one too many and every server ends in ERROR, nothing stays placed', async () => {
    const res = await call(admin, 'POST', `${r2}/servers`, {
      server: { name: 'all-or-nothing', imageRef, flavorRef: M1_SMALL, min_count: 7, max_count: 7, return_reservation_id: true },
    })
    expect(res.status).toBe(202)
    const rid = res.body.reservation_id as string
    const servers = await waitFor('7 servers in ERROR', async () => {
      const l = await call(admin, 'GET', `${r2}/servers/detail?reservation_id=${rid}`)
      return l.body.servers.length === 7 && l.body.servers.every((s: any) => s.status === 'ERROR') ? l.body.servers : undefined
    })
    for (const s of servers) expect(s.fault.message).toContain('min_count 7')
    // The six that had found a host were taken back: region-two is empty again.
    await regionTwoFits(6)
    expect((await fed.driverOf('t2-a')?.listInstances())?.length).toBe(0)
    expect((await fed.driverOf('t2-b')?.listInstances())?.length).toBe(0)
  })

  it('places min_count, then as many more as fit up to max_count; the rest end in ERROR', async () => {
    const res = await call(admin, 'POST', `${r2}/servers`, {
      server: { name: 'some', imageRef, flavorRef: M1_SMALL, min_count: 2, max_count: 8, return_reservation_id: true },
    })
    expect(res.status).toBe(202)
    const rid = res.body.reservation_id as string
    const ids = await waitFor('8 servers', async () => {
      const l = await call(admin, 'GET', `${r2}/servers?reservation_id=${rid}`)
      return l.body.servers.length === 8 ? l.body.servers.map((s: any) => s.id as string) : undefined
    })
    const servers = await settled(r2, ids)
    expect(servers.filter((s) => s.status === 'ACTIVE')).toHaveLength(6)
    expect(servers.filter((s) => s.status === 'ERROR')).toHaveLength(2)
  })

  it('anti-affinity: concurrent members land on distinct hosts, across cells when one cell runs out', async () => {
    const mv = { 'OpenStack-API-Version': 'compute 2.64' }
    const g = await call(admin, 'POST', `${r1}/os-server-groups`, { server_group: { name: 'spread', policy: 'anti-affinity' } }, mv)
    expect(g.status).toBe(200)
    const hint = { 'os:scheduler_hints': { group: g.body.server_group.id } }
    const booted = await Promise.all([1, 2, 3, 4].map((i) => boot(r1, { name: `spread-${i}` }, hint)))
    const servers = await settled(r1, booted.map((b) => b.server.id as string))
    expect(servers.map((s) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE'])
    const hosts = servers.map((s) => s['OS-EXT-SRV-ATTR:host'] as string)
    expect(new Set(hosts).size).toBe(4)
    expect(hosts.filter((h) => h.startsWith('t1-dc1-'))).toHaveLength(2)
    expect(hosts.filter((h) => h.startsWith('t1-dc2-'))).toHaveLength(2)
    // A fifth member has no host left in the region: ERROR, though there is room for the flavor.
    const { server } = await boot(r1, { name: 'spread-5' }, hint)
    const fifth = await waitForStatus(admin, r1, server.id, 'ERROR')
    expect(fifth.fault.message).toContain('No valid host')
  })

  it('affinity: later members follow the first to its host and cell, even when that host is full', async () => {
    const mv = { 'OpenStack-API-Version': 'compute 2.64' }
    const g = await call(admin, 'POST', `${r1}/os-server-groups`, { server_group: { name: 'together', policy: 'affinity' } }, mv)
    expect(g.status).toBe(200)
    const hint = { 'os:scheduler_hints': { group: g.body.server_group.id } }
    // The first member goes to dc2 (its zone), the smaller cell: 2 vCPUs per host.
    const first = await boot(r1, { name: 'together-1', availability_zone: 'dc2' }, hint)
    const anchor = (await waitForStatus(admin, r1, first.server.id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'] as string
    expect(anchor).toMatch(/^t1-dc2-/)
    // Without a zone, capacity would send the next one to dc1; affinity keeps it with the first.
    const second = await boot(r1, { name: 'together-2' }, hint)
    expect((await waitForStatus(admin, r1, second.server.id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host']).toBe(anchor)
    // The anchor has no vCPU left: a third member fails rather than going elsewhere.
    const third = await boot(r1, { name: 'together-3' }, hint)
    const s = await waitForStatus(admin, r1, third.server.id, 'ERROR')
    expect(s.fault.message).toContain('No valid host')
  })

  it('affinity under concurrency from the start: every first member picks the same host', async () => {
    const mv = { 'OpenStack-API-Version': 'compute 2.64' }
    const g = await call(admin, 'POST', `${global}/os-server-groups`, { server_group: { name: 'pack', policy: 'affinity' } }, mv)
    const hint = { 'os:scheduler_hints': { group: g.body.server_group.id } }
    const booted = await Promise.all([1, 2, 3].map((i) => boot(global, { name: `pack-${i}` }, hint)))
    const servers = await settled(global, booted.map((b) => b.server.id as string))
    expect(servers.every((s) => s.status === 'ACTIVE')).toBe(true)
    expect(new Set(servers.map((s) => s['OS-EXT-SRV-ATTR:host'])).size).toBe(1)
  })
})
