import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { RequestContext } from '../../../shared/context.js'
import type { ConductorDeps } from '../deps.js'
import { migrationRecord } from './migrations-store.js'
import { serviceDelete, serviceUpdate } from './services.js'

/**
 * Administrative operations the conductor serves as `admin_<op>` (reached from the API cell through
 * the tree's CellAdmin RPC). Add one entry per operation.
 */
export const ADMIN_OPERATIONS: Readonly<Record<string, (d: ConductorDeps, ctx: RequestContext, args: any) => Promise<unknown>>> = {
  /** The uptime line of one of this cell's hosts, asked of its compute (os-hypervisors uptime). */
  host_uptime: async (d, ctx, args: { host?: unknown }) => {
    if (typeof args.host !== 'string') throw new InvalidError('host_uptime needs a host')
    const known = await d.db.selectFrom('compute_nodes').select('host').where('host', '=', args.host).executeTakeFirst()
    if (known === undefined) throw new NotFoundError(`Compute host ${args.host} could not be found.`)
    return d.compute.getHostUptime(ctx, args.host)
  },
  /** Number of live instances and hosts of this cell (used before deleting a cell). */
  usage: async (d) => {
    const inst = await d.db.selectFrom('instances').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted', '=', 0).executeTakeFirst()
    const nodes = await d.db.selectFrom('compute_nodes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    return { instances: Number(inst?.n ?? 0), hosts: Number(nodes?.n ?? 0) }
  },
  /** Events the parent has not acknowledged yet, and when the oldest was written (the agent's lag metric). */
  outbox_stats: async (d) => {
    const row = await d.db
      .selectFrom('outbox')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min<number>('created_at').as('oldest')])
      .executeTakeFirst()
    const oldest = row?.oldest
    return { pending: Number(row?.n ?? 0), oldestCreatedAt: oldest === null || oldest === undefined ? null : Number(oldest) }
  },
  /** Enables/disables a service, sets forced-down (os-services API); answers the updated service. */
  service_update: (d, ctx, args) => serviceUpdate(d, ctx, args),
  /** Every migration of this cell (os-migrations; the API filters, sorts and pages). */
  list_migrations: async (d) => (await d.db.selectFrom('migrations').selectAll().orderBy('id').execute()).map(migrationRecord),
  /** Deletes a service (and a compute service's node); 409 while the host holds instances. */
  service_delete: (d, ctx, args) => serviceDelete(d, ctx, args),
}
