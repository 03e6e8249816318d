import { randomBytes, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConductorDeps } from '../../child-cell/conductor/deps.js'
import { outboxAck, outboxFetch } from '../../child-cell/conductor/operations/outbox.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import { appendOutbox } from '../../child-cell/db/outbox-writer.js'
import type { CellSchema } from '../../child-cell/db/schema.js'
import type { Database } from '../../shared/db/database.js'
import { dropMysqlSchema, migrateToLatest, openDatabase } from '../../shared/db/database.js'

/**
 * The lost-delete finding: with concurrent writers on MariaDB, an outbox row could commit after a
 * row with a higher id had already been shipped, and the parent's cursor skipped it for good
 * (2 servers out of 200 stayed `deleting` in the index). Outbox writers now commit in id order.
 */
describe('outbox ids commit in order (MariaDB)', () => {
  const url = `mysql://root@127.0.0.1:3306/obx_${randomBytes(4).toString('hex')}`
  let h: Database<CellSchema>
  const deps = (): ConductorDeps => ({ db: h.db }) as unknown as ConductorDeps

  beforeAll(async () => {
    h = await openDatabase<CellSchema>(url)
    await migrateToLatest(h.db, cellMigrations)
  })
  afterAll(async () => {
    await h?.close()
    await dropMysqlSchema(url)
  })

  const event = (uuid: string, version: number) => ({ instanceUuid: uuid, version, cellPath: 'api!r', payload: { uuid, deleted: version > 1 } })

  it.each([1, 2, 3])('a reader polling while a slow writer is open never skips its event (round %i)', async () => {
    const start = (await outboxFetch(deps(), { after: 0, limit: 1000 })).cursor
    const slow = randomUUID()
    const fast = randomUUID()
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let appended!: () => void
    const slowAppended = new Promise<void>((r) => (appended = r))
    // The slow writer takes its outbox slot first, then stays open (a deleted-instance transaction
    // still releasing its claim); the fast one (the next server's delete) starts meanwhile.
    const slowTx = h.db.transaction().execute(async (tx) => {
      await appendOutbox(tx, event(slow, 2))
      appended()
      await held
    })
    await slowAppended
    const fastTx = h.db.transaction().execute(async (tx) => appendOutbox(tx, event(fast, 1)))
    // Give the fast writer every chance to commit before the slow one, then ship what is visible.
    await Promise.race([fastTx, sleep(300)])
    const first = await outboxFetch(deps(), { after: start, limit: 1000 })
    release()
    await Promise.all([slowTx, fastTx])
    // (Acknowledged only now: a range delete would wait on the open writer's row lock.)
    await outboxAck(deps(), first.cursor)
    const second = await outboxFetch(deps(), { after: first.cursor, limit: 1000 })
    const shipped = [...first.events, ...second.events].map((e) => e.instanceUuid)
    expect(shipped.sort()).toEqual([slow, fast].sort())
    await outboxAck(deps(), second.cursor)
  })
})
