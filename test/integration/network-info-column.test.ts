import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { InstanceStore } from '../../child-cell/conductor/instance-store.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import { networkInfoColumn } from '../../child-cell/conductor/operations/build-specs.js'
import { checkBuildSpec } from '../../shared/cell-link/build-spec-schema.js'
import { MAX_PORTS, MAX_RULES_PER_PORT } from '../../shared/cell-link/network-info-schema.js'
import { dropMysqlSchema, migrateToLatest, openDatabase, sql } from '../../shared/db/database.js'
import type { PortInfo } from '../../shared/network/network-info.js'
import { buildSpecFixture } from '../helpers/build-spec.js'
import { PORT_A } from '../helpers/network-info.js'

/**
 * The cell DB keeps an instance's ports (instances.network_info, migration cell_0008) on MariaDB:
 * the largest network info a build may carry (16 ports of 500 rules) passes 64 KiB, so the column
 * is MEDIUMTEXT, and the record read back hands the same ports to compute.
 */
describe('MariaDB: an instance keeps the largest network info a build may carry', () => {
  const url = `mysql://root@127.0.0.1:3306/test_wtn3_netinfo_${randomBytes(6).toString('hex')}`
  afterAll(async () => {
    await dropMysqlSchema(url)
  })

  it('stores 16 ports of 500 rules in instances.network_info (MEDIUMTEXT) and reads them back as the record\'s networkInfo', async () => {
    const database = await openDatabase<CellSchema>(url)
    try {
      await migrateToLatest(database.db, cellMigrations)
      const type = await sql<{ t: string }>`SELECT DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'instances' AND COLUMN_NAME = 'network_info'`.execute(database.db)
      expect(type.rows[0]?.t).toBe('mediumtext')
      const ports: PortInfo[] = Array.from({ length: MAX_PORTS }, (_, i) => ({
        ...PORT_A,
        portId: `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`,
        macAddress: `fa:16:3e:00:00:${i.toString(16).padStart(2, '0')}`,
        securityRules: Array.from({ length: MAX_RULES_PER_PORT }, (_, r) => ({
          direction: 'ingress' as const, ethertype: 'IPv4' as const, protocol: 'tcp', portRangeMin: r, portRangeMax: r, remoteIpPrefix: `10.${r % 256}.0.0/16`,
        })),
      }))
      // The largest spec the leaf accepts.
      const uuid = randomUUID()
      const spec = checkBuildSpec({ instanceUuid: uuid, spec: buildSpecFixture({ instanceUuid: uuid, networkInfo: ports }) }).networkInfo
      expect(spec).toHaveLength(MAX_PORTS)
      const column = networkInfoColumn(ports)
      expect(column?.length).toBeGreaterThan(65_535)
      const store = new InstanceStore({ db: database.db, cellPath: 'api!wtn3' })
      const now = Date.now()
      await database.db.transaction().execute((tx) =>
        store.insert(tx, {
          uuid, name: 'vm', hostname: 'vm', project_id: 'p', user_id: 'u', host: 'a', node: 'a', availability_zone: 'nova',
          flavor: JSON.stringify({ id: '1', name: 't', memoryMb: 512, vcpus: 1, rootGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} }), flavor_id: '1',
          image_ref: 'img', vm_state: 'active', task_state: null, power_state: 1, key_name: null, key_data: null, metadata: '{}', tags: '[]',
          shelved_image_id: null, user_data: null, description: null, reservation_id: 'r-1', launch_index: 0, locked: 0, locked_by: null,
          locked_reason: null, config_drive: '', access_ip_v4: null, access_ip_v6: null, fault: null, launched_at: now, terminated_at: null,
          created_at: now, updated_at: now, deleted: 0, deleted_at: null, network_info: column,
        }),
      )
      expect(store.toRecord(await store.get(uuid)).networkInfo).toEqual(ports)
    } finally {
      await database.close()
    }
  })
})
