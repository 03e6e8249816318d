import { randomBytes } from 'node:crypto'
import { afterAll, describe, it } from 'vitest'
import { networkMigrations } from '../../api-cell/network/migrations.js'
import type { NetworkTables } from '../../api-cell/network/schema.js'
import type { Database } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'
import { ipamRace } from '../helpers/network-ipam.js'

/**
 * The IPAM race on MariaDB (the API database in production), where port creates really run in
 * parallel on a pool of connections: the unique (subnet_id, ip_address) key decides, never a
 * read-then-write in one process.
 */
describe('IPAM on MariaDB', () => {
  const url = `mysql://root@127.0.0.1:3306/wtn1_ipam_${randomBytes(6).toString('hex')}?pool=20`
  let d: Database<NetworkTables> | undefined

  afterAll(async () => {
    await d?.close()
    await dropMysqlSchema(url)
  })

  it('gives 200 concurrent port creates distinct addresses and answers 409 when the pool is exhausted', async () => {
    d = await openDatabase<NetworkTables>(url)
    await migrateToLatest(d.db, networkMigrations)
    await ipamRace(d.db, 200, 150)
  }, 120_000)
})
