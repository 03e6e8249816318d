import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import { indexPayload } from '../../child-cell/conductor/instance-store.js'
import { appendOutbox } from '../../child-cell/db/outbox-writer.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import type { Database } from '../../shared/db/database.js'
import { openDatabase } from '../../shared/db/database.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/**
 * An instance change committed with its outbox event, but whose `outbox_changed` notification never
 * reached the cell agent (lost cast, agent busy): the agent still ships it, on its next report
 * tick. Anti-entropy is off here (one-hour interval), so only the event path can bring it up.
 */
describe('embedded federation: outbox events ship without their notification', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let leaf: Database<CellSchema>

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS'] = '3600000'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    delete process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS']
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    leaf = await openDatabase<CellSchema>(`sqlite:${join(cfg.stateDir, 'cells', 'api.region-two.db')}`)
  })

  afterAll(async () => {
    await leaf?.close()
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('a silently committed change reaches the index', async () => {
    const url = endpoint(admin, 'compute', 'region-two')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-two')}/v2/images?name=cirros`)).body.images[0].id
    const res = await call(admin, 'POST', `${url}/servers`, { server: { name: 'quiet', imageRef, flavorRef: '1' } })
    expect(res.status).toBe(202)
    const id = res.body.server.id as string
    await waitForStatus(admin, url, id, 'ACTIVE')
    const listedName = async (): Promise<string | undefined> => (await call(admin, 'GET', `${url}/servers`)).body.servers.find((s: any) => s.id === id)?.name
    await waitFor('listed', async () => ((await listedName()) === 'quiet' ? true : undefined))
    // What the conductor's InstanceStore.change does, minus the notification to the agent.
    await leaf.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('instances').selectAll().where('uuid', '=', id).executeTakeFirstOrThrow()
      const next = { ...row, name: 'renamed-quietly', version: row.version + 1, updated_at: Date.now() }
      await tx.updateTable('instances').set({ name: next.name, version: next.version, updated_at: next.updated_at }).where('uuid', '=', id).execute()
      await appendOutbox(tx, { instanceUuid: id, version: next.version, cellPath: 'api!region-two', payload: indexPayload(next) })
    })
    expect(await waitFor('the change listed', async () => ((await listedName()) === 'renamed-quietly' ? true : undefined), 20_000)).toBe(true)
  })
})
