import type { RequestContext } from '../../../shared/context.js'
import type { ConductorDeps } from '../deps.js'

/**
 * Administrative operations the conductor serves as `admin_<op>` (reached from the API cell through
 * the tree's CellAdmin RPC). Add one entry per operation.
 */
export const ADMIN_OPERATIONS: Readonly<Record<string, (d: ConductorDeps, ctx: RequestContext, args: any) => Promise<unknown>>> = {
  /** Number of live instances and hosts of this cell (used before deleting a cell). */
  usage: async (d) => {
    const inst = await d.db.selectFrom('instances').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted', '=', 0).executeTakeFirst()
    const nodes = await d.db.selectFrom('compute_nodes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { instances: Number(inst?.n ?? 0), hosts: Number(nodes?.n ?? 0) }
  },
}
