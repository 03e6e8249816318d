import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { PortAllocator } from '../../../../api-cell/network/allocator.js'
import { seedRegionNetworks } from '../../../../api-cell/network/bootstrap.js'
import { networkMigrations } from '../../../../api-cell/network/migrations.js'
import type { NetworkTables } from '../../../../api-cell/network/schema.js'
import { NetworkService } from '../../../../api-cell/network/service.js'
import { sweepDeletedServers } from '../../../../api-cell/network-runtime.js'
import { migrateToLatest, openDatabase } from '../../../../shared/db/database.js'

const LIVE = '33333333-3333-4333-8333-333333333333'
const GONE = '44444444-4444-4444-8444-444444444444'

describe('the sweep of ports of deleted servers', () => {
  it('releases the ports of servers the index shows deleted, and only those', async () => {
    const d = await openDatabase<any>('sqlite::memory:')
    try {
      await migrateToLatest(d.db, networkMigrations)
      // The index columns the sweep reads (the real table has many more).
      await d.db.schema.createTable('instance_index').addColumn('uuid', 'varchar(36)', (c) => c.primaryKey()).addColumn('vm_state', 'varchar(32)').execute()
      const s = new NetworkService(d.db as Kysely<NetworkTables>)
      await seedRegionNetworks(s, 'admin', ['r1'])
      const alloc = new PortAllocator(s)
      for (const uuid of [LIVE, GONE]) await alloc.allocate({ projectId: 'p', instanceUuid: uuid, request: { kind: 'auto' }, securityGroups: [] })
      await d.db.insertInto('instance_index').values([{ uuid: LIVE, vm_state: 'active' }, { uuid: GONE, vm_state: 'deleted' }]).execute()
      expect(await sweepDeletedServers(d.db, alloc)).toBe(1)
      expect((await d.db.selectFrom('ports').select('device_id').execute()).map((r: { device_id: string }) => r.device_id)).toEqual([LIVE])
      expect(await sweepDeletedServers(d.db, alloc)).toBe(0)
    } finally {
      await d.close()
    }
  })
})
