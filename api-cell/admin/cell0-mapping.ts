import type { RequestContext } from '../../shared/context.js'
import { isDuplicateKey } from '../../shared/db/database.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { showCellView } from './cell-reads.js'
import type { CellView } from './cell-views.js'
import type { AdminDeps } from './deps.js'

/**
 * Records cell0 in the cells table (Nova's `map_cell0`): the cell of instances no cell could
 * take. The API keeps using cell0 whether it is mapped or not; the mapping makes it visible to
 * operators and records its database. Idempotent: a second run changes nothing.
 */
export async function mapCell0(d: AdminDeps, ctx: RequestContext, databaseUrl: string | undefined): Promise<{ cell: CellView; created: boolean }> {
  const existing = await d.db.selectFrom('cells').select('path').where('path', '=', CELL0_PATH).executeTakeFirst()
  let created = false
  if (existing === undefined) {
    const now = Date.now()
    try {
      await d.db
        .insertInto('cells')
        .values({
          uuid: '00000000-0000-0000-0000-000000000000',
          name: CELL0_PATH,
          path: CELL0_PATH,
          parent_path: null,
          region: null,
          grpc_address: null,
          database_url: databaseUrl ?? d.cell0DatabaseUrl,
          transport_url: null,
          disabled: 0,
          disabled_reason: null,
          weight_offset: 0,
          event_cursor: 0,
          created_at: now,
          updated_at: now,
        })
        .execute()
      created = true
      d.log.info({ requestId: ctx.requestId }, 'cell0 mapped')
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
    }
  }
  return { cell: await showCellView(d.db, d.tree, CELL0_PATH), created }
}
