import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { allCells } from '../../shared/config/regions.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { TcpProxy } from '../helpers/tcp-proxy.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

const REGION_TWO = 'api!region-two'

/**
 * A build whose answer is lost between two cells (a real TCP link that swallows the reply, then
 * drops) is neither placed twice nor given up on: the API asks the same cell again, and the cell
 * answers with what it already did. Past the placement deadline the build ends in cell0, and the
 * copy a cell placed after all is removed when it reports it. Ground truth: the guests of every
 * host's driver.
 */
describe('build outcomes across a lossy link: placed, refused or unknown', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let r2: string
  let imageRef: string
  let proxy: TcpProxy

  /** Hosts running a guest `uuid`, over every host of the federation. */
  const guestsOf = async (uuid: string): Promise<string[]> => {
    const hosts = allCells(cfg.regions).flatMap((c) => c.hosts.map((h) => h.name))
    const found: string[] = []
    for (const h of hosts) if ((await fed.driverOf(h)?.listInstances())?.includes(uuid)) found.push(h)
    return found
  }
  const mappingOf = async (uuid: string) =>
    fed.api.db.selectFrom('instance_mappings').select('cell_path').where('instance_uuid', '=', uuid).executeTakeFirst()
  /** Sends region two's traffic through the proxy, and waits until the region reports through it. */
  const throughProxy = async (): Promise<void> => {
    const row = await fed.api.db.selectFrom('cells').select('grpc_address').where('path', '=', REGION_TWO).executeTakeFirstOrThrow()
    const [host, port] = (row.grpc_address ?? '').split(':')
    proxy = await startTcpProxy({ host: host ?? '127.0.0.1', port: Number(port) })
    await fed.api.db.updateTable('cells').set({ grpc_address: proxy.address }).where('path', '=', REGION_TWO).execute()
    await fed.api.tree.refreshChildren()
    await waitFor('region two to report through the proxy', async () => (proxy.stats.relayed > 0 && fed.api.tree.regionAggregates('region-two')[0]?.up ? true : undefined), 10_000)
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '300'
    process.env['FEDERATION_PLACEMENT_DEADLINE_MS'] = '3000'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_PLACEMENT_DEADLINE_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    r2 = endpoint(admin, 'compute', 'region-two')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    await throughProxy()
  })

  afterAll(async () => {
    await fed?.stop()
    await proxy?.close()
    if (cfg !== undefined) removeDir(cfg.stateDir)
  })

  it('asks the same cell again after a lost reply: the server is placed once, where it was built', async () => {
    proxy.mode = 'drop-replies'
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'lost-reply', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const uuid = res.body.server.id as string
    // The region built it, but the API heard nothing: the answer is lost on the way back.
    const built = await waitFor('the guest in region two', async () => ((await guestsOf(uuid)).length > 0 ? guestsOf(uuid) : undefined), 10_000)
    expect(built).toHaveLength(1)
    expect(built[0]).toMatch(/^r2-c\d$/)
    expect((await mappingOf(uuid))?.cell_path).toBeNull()
    // The link fails (calls in flight end unanswered), then comes back.
    proxy.cut()
    proxy.mode = 'pass'
    const server = await waitForStatus(admin, r2, uuid, 'ACTIVE')
    expect(server['OS-EXT-SRV-ATTR:host']).toBe(built[0])
    expect((await mappingOf(uuid))?.cell_path).toBe(REGION_TWO)
    expect(await guestsOf(uuid)).toEqual(built)
  })

  it('records the build in cell0 when no answer comes before the deadline, and removes the copy the cell made', async () => {
    proxy.mode = 'drop-replies'
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'too-late', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const uuid = res.body.server.id as string
    await waitFor('the guest in region two', async () => ((await guestsOf(uuid)).length > 0 ? true : undefined), 10_000)
    const errored = await waitForStatus(admin, r2, uuid, 'ERROR', 20_000)
    expect(errored.fault.message).toMatch(/outcome unknown/)
    expect((await mappingOf(uuid))?.cell_path).toBe('cell0')
    // The link comes back: the region's events reach the API, which deletes the copy it does not show.
    proxy.cut()
    proxy.mode = 'pass'
    await waitFor('the orphaned guest to go', async () => ((await guestsOf(uuid)).length === 0 ? true : undefined), 20_000)
    const shown = await call(admin, 'GET', `${r2}/servers/${uuid}`)
    expect(shown.body.server.status).toBe('ERROR')
  })

  it('still places builds normally through the same link afterwards', async () => {
    const res = await call(admin, 'POST', `${r2}/servers`, { server: { name: 'after', imageRef, flavorRef: '1' } })
    const server = await waitForStatus(admin, r2, res.body.server.id, 'ACTIVE')
    expect(await guestsOf(server.id)).toEqual([server['OS-EXT-SRV-ATTR:host']])
  })
})
