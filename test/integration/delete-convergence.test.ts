import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductionFederation } from '../helpers/production.js'
import { startProduction } from '../helpers/production.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor, waitForStatus } from '../helpers/os-client.js'

/** How many servers the scenario boots and then deletes one after the other. */
const SERVERS = 120

/**
 * The finding of issue #9 (4): after 200 sequential deletes in production mode, servers stayed in
 * `GET /servers` at `deleting` for good while `GET /servers/{id}` answered 404. Anti-entropy is
 * switched off here (a one-hour interval), so the event stream alone must bring every delete to
 * the top (the outbox commit-order fix, child-cell/db/outbox-writer.ts).
 */
describe('sequential deletes in production mode converge through events alone', () => {
  let fed: ProductionFederation
  let admin: Session
  let imageRef: string

  beforeAll(async () => {
    process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS'] = '3600000'
    try {
      fed = await startProduction()
    } finally {
      delete process.env['FEDERATION_ANTI_ENTROPY_INTERVAL_MS']
    }
    admin = await login(fed.identityUrl, 'admin', 'secret-admin-pw', 'admin')
    imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const quota = await call(admin, 'PUT', `${fed.computeUrl}/os-quota-sets/${admin.projectId}`, { quota_set: { instances: 1000, cores: 2000, ram: 20_000_000 } })
    expect(quota.status).toBe(200)
  }, 180_000)

  afterAll(async () => {
    await fed?.stop()
  }, 60_000)

  it(`boots ${SERVERS} servers, deletes them (one by one, then in parallel), and the list ends empty`, async () => {
    const ids: string[] = []
    for (let i = 0; i < SERVERS; i += 10) {
      const wave = await Promise.all(
        Array.from({ length: Math.min(10, SERVERS - i) }, (_, j) => call(admin, 'POST', `${fed.computeUrl}/servers`, { server: { name: `seq-${i + j}`, imageRef, flavorRef: '1' } })),
      )
      for (const r of wave) {
        expect(r.status).toBe(202)
        ids.push(r.body.server.id)
      }
      for (const id of ids.slice(i)) await waitForStatus(admin, fed.computeUrl, id, 'ACTIVE', 60_000)
    }
    // Sequentially first (the finding), then eight at a time: more transactions overlap in the
    // leaf, which is what let an outbox row commit below the parent's cursor.
    const half = Math.floor(ids.length / 2)
    for (const id of ids.slice(0, half)) expect((await call(admin, 'DELETE', `${fed.computeUrl}/servers/${id}`)).status).toBe(204)
    for (let i = half; i < ids.length; i += 8) {
      const batch = await Promise.all(ids.slice(i, i + 8).map((id) => call(admin, 'DELETE', `${fed.computeUrl}/servers/${id}`)))
      expect(batch.map((r) => r.status)).toEqual(batch.map(() => 204))
    }
    let left: unknown[] = []
    await waitFor(
      'every deleted server gone from the list',
      async () => {
        const l = await call(admin, 'GET', `${fed.computeUrl}/servers/detail?limit=1000`)
        left = l.body.servers.map((s: any) => [s.id, s.status, s['OS-EXT-STS:task_state']])
        return left.length === 0 ? true : undefined
      },
      90_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; left: ${JSON.stringify(left)}`)
    })
    for (const id of ids.slice(0, 5)) expect((await call(admin, 'GET', `${fed.computeUrl}/servers/${id}`)).status).toBe(404)
  }, 600_000)
})
