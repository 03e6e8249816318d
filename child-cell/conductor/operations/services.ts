import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { ConductorDeps } from '../deps.js'

/** A service row as the administrative operations answer it (JSON over the tree). */
export interface ServiceView {
  readonly id: number
  readonly uuid: string
  readonly host: string
  readonly binary: string
  readonly disabled: boolean
  readonly disabledReason: string | null
  readonly forcedDown: boolean
  readonly up: boolean
  readonly updatedAt: number
}

/** What `service_update` may change; absent fields stay as they are. */
export interface ServiceUpdateArgs {
  readonly uuid: string
  readonly disabled?: boolean
  readonly disabledReason?: string | null
  readonly forcedDown?: boolean
}

async function findService(d: ConductorDeps, uuid: unknown) {
  if (typeof uuid !== 'string' || uuid === '') throw new InvalidError('service uuid is required')
  const row = await d.db.selectFrom('services').selectAll().where('uuid', '=', uuid).executeTakeFirst()
  if (row === undefined) throw new NotFoundError(`Service ${uuid} could not be found.`)
  return row
}

/**
 * Enables/disables a service (with its reason) and sets or clears forced-down (Nova's
 * `service.save()` from the os-services API). A disabled or forced-down compute service makes
 * ComputeFilter reject its host from the next scheduling on, and leaves the cell's capacity at
 * once: the agent is told to report upward.
 */
export async function serviceUpdate(d: ConductorDeps, ctx: RequestContext, args: ServiceUpdateArgs): Promise<ServiceView> {
  const row = await findService(d, args.uuid)
  const set: { disabled?: number; disabled_reason?: string | null; forced_down?: number; updated_at: number } = { updated_at: Date.now() }
  if (args.disabled !== undefined) {
    if (typeof args.disabled !== 'boolean') throw new InvalidError('disabled must be a boolean')
    set.disabled = args.disabled ? 1 : 0
    set.disabled_reason = args.disabled ? (args.disabledReason ?? null) : null
  }
  if (args.forcedDown !== undefined) {
    if (typeof args.forcedDown !== 'boolean') throw new InvalidError('forcedDown must be a boolean')
    set.forced_down = args.forcedDown ? 1 : 0
  }
  if (set.disabled_reason !== undefined && set.disabled_reason !== null && (typeof set.disabled_reason !== 'string' || set.disabled_reason.length > 255)) {
    throw new InvalidError('disabled reason must be a string of at most 255 characters')
  }
  await d.db.updateTable('services').set(set).where('uuid', '=', row.uuid).execute()
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return serviceView(d, await findService(d, row.uuid))
}

/**
 * Deletes a service. For nova-compute, refuses (409) while the host holds instances, and deletes
 * the host's compute node with it, as Nova does. A compute that is still running registers again
 * at its next report, with a new uuid.
 */
export async function serviceDelete(d: ConductorDeps, ctx: RequestContext, args: { readonly uuid: string }): Promise<{ host: string; binary: string }> {
  const row = await findService(d, args.uuid)
  await d.db.transaction().execute(async (tx) => {
    if (row.binary === 'nova-compute') {
      const n = await tx
        .selectFrom('instances')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('host', '=', row.host)
        .where('deleted', '=', 0)
        .executeTakeFirst()
      if (Number(n?.n ?? 0) > 0) {
        throw new ConflictError('Unable to delete compute service that is hosting instances. Migrate or delete the instances first.')
      }
      await tx.deleteFrom('compute_nodes').where('host', '=', row.host).execute()
    }
    await tx.deleteFrom('services').where('uuid', '=', row.uuid).execute()
  })
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return { host: row.host, binary: row.binary }
}

function serviceView(
  d: ConductorDeps,
  s: { id: number; uuid: string; host: string; binary: string; disabled: number; disabled_reason: string | null; forced_down: number; last_seen_up: number; updated_at: number },
): ServiceView {
  return {
    id: s.id,
    uuid: s.uuid,
    host: s.host,
    binary: s.binary,
    disabled: s.disabled === 1,
    disabledReason: s.disabled_reason,
    forcedDown: s.forced_down === 1,
    up: s.forced_down === 0 && Date.now() - s.last_seen_up <= d.serviceDownMs,
    updatedAt: s.updated_at,
  }
}
