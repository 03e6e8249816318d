import { randomUUID } from 'node:crypto'
import type { Selectable } from 'kysely'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { AppError, ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { releaseResources } from '../../db/claims.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'
import { finishAction, recordAction } from './actions-log.js'
import { runEvacuation, runMove } from './move-steps.js'
import type { MigrationRow, MigrationType } from './migrations-store.js'
import { findMigration, flavorArg, setMigration } from './migrations-store.js'

type Row = Selectable<InstancesTable>

/** What the API sends with a resize, a cold migration or an evacuation. */
export interface MoveArgs {
  /** Chosen by the API, so that a retried request finds the move it started (idempotency). */
  readonly migrationUuid?: unknown
  /** Resize: the new flavor. */
  readonly flavor?: unknown
  /** The target host an admin asked for (migrate 2.56, evacuate). */
  readonly host?: unknown
  /** Resize: whether the source host may also be the target (Nova's `allow_resize_to_same_host`). */
  readonly allowSameHost?: unknown
  /** Evacuate: how the target fetches the image to rebuild from (the URL expires, never stored). */
  readonly image?: unknown
  /** Live migration from 2.34: no valid host fails the migration after the request succeeded. */
  readonly asyncPrechecks?: unknown
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Nova's instance action names per kind of move. */
const ACTION_OF: Readonly<Record<MigrationType, string>> = { resize: 'resize', migration: 'migrate', 'live-migration': 'live-migration', evacuation: 'evacuate' }

/**
 * Starts a resize or a cold migration within this cell (Nova's `migrate_server` with
 * `live=False`), as a saga whose every step can be compensated:
 * 1. the instance takes task_state `resize_prep` (a compare-and-swap on its version, so one move
 *    at a time) and a `migrations` row is written, with the instance action, in one transaction;
 * 2. the scheduler picks a target and claims the new flavor there under the migration's uuid (the
 *    source keeps the instance's claim): no valid host ends the move here with a 400, nothing kept;
 * 3. in the background (move-steps.ts): the source stops its guest, the target creates one, and
 *    the instance ends in `resized` (VERIFY_RESIZE) on the target; a failed step puts it back on
 *    the source as it was and gives the target claim back.
 * Confirm then frees the source (its guest and claim), revert frees the target.
 * The same saga is what a cross-cell resize can reuse: the target holds a copy until confirm.
 * Idempotent by migration uuid: a retried request answers with the instance as it is.
 */
export async function startMove(d: ConductorDeps, ctx: RequestContext, row: Row, kind: 'resize' | 'migration', args: MoveArgs, isAdmin: boolean): Promise<InstanceRecord> {
  const migrationUuid = migrationUuidOf(args)
  if ((await findMigration(d, migrationUuid)) !== undefined) return d.store.toRecord(await d.store.get(row.uuid))
  if (kind === 'migration' && !isAdmin) throw new ForbiddenError("Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed.")
  if (!['active', 'stopped'].includes(row.vm_state) || row.task_state !== null || row.host === null) throw stateConflict(kind === 'resize' ? 'resize' : 'migrate', row)
  const oldFlavor = JSON.parse(row.flavor) as FlavorSnapshot
  const newFlavor = kind === 'resize' ? flavorArg(args.flavor) : oldFlavor
  if (kind === 'resize' && newFlavor.id === oldFlavor.id) throw new InvalidError('When resizing, instances must change flavor!')
  // Nova's libvirt driver cannot shrink a local disk; a zero-disk flavor would lose it (CannotResizeDisk).
  if (kind === 'resize' && newFlavor.rootGb === 0 && oldFlavor.rootGb > 0) throw new InvalidError('Resize to zero disk flavor is not allowed.')
  if (kind === 'resize' && newFlavor.rootGb < oldFlavor.rootGb) throw new InvalidError('Unable to resize disk down.')
  const ignore = await excludedHosts(d, row.host, typeof args.host === 'string' ? args.host : undefined, kind === 'migration' || args.allowSameHost !== true)
  const m = await begin(d, ctx, row, { kind, migrationUuid, oldFlavor, newFlavor, taskState: 'resize_prep', status: 'pre-migrating' })
  const dest = await claimTarget(d, ctx, row, m, newFlavor, ignore)
  const moved = await d.db.transaction().execute(async (tx) => {
    await setMigration(tx, m.uuid, { status: 'migrating', dest_host: dest.host, dest_node: dest.node })
    return d.store.change(tx, row.uuid, { task_state: 'resize_migrating' }, { taskState: 'resize_prep' })
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  const started = (await findMigration(d, m.uuid)) ?? m
  void runMove(d, ctx, started).catch((err: unknown) => d.log.error({ requestId: ctx.requestId, instance: row.uuid, err: String(err) }, 'move failed to finish'))
  return d.store.toRecord(moved ?? (await d.store.get(row.uuid)))
}

/**
 * Rebuilds an instance of a dead host on another host of this cell (Nova's evacuate). Only when
 * the source's compute service is down (or forced down): otherwise a 400, as in Nova, since the
 * guest may still run there. When the dead host's compute comes back, it finds the instance is no
 * longer its own and destroys the guest instead of running it (compute/operations/sync.ts).
 */
export async function startEvacuation(d: ConductorDeps, ctx: RequestContext, row: Row, args: MoveArgs, isAdmin: boolean): Promise<InstanceRecord> {
  const migrationUuid = migrationUuidOf(args)
  if ((await findMigration(d, migrationUuid)) !== undefined) return d.store.toRecord(await d.store.get(row.uuid))
  if (!isAdmin) throw new ForbiddenError("Policy doesn't allow os_compute_api:os-evacuate to be performed.")
  if (!['active', 'stopped', 'error'].includes(row.vm_state) || row.task_state !== null || row.host === null) throw stateConflict('evacuate', row)
  const service = await d.db.selectFrom('services').select(['last_seen_up', 'forced_down']).where('host', '=', row.host).where('binary', '=', 'nova-compute').executeTakeFirst()
  if (service !== undefined && service.forced_down === 0 && Date.now() - service.last_seen_up <= d.serviceDownMs) {
    throw new InvalidError(`Compute service of ${row.host} is still in use.`)
  }
  const flavor = JSON.parse(row.flavor) as FlavorSnapshot
  const ignore = await excludedHosts(d, row.host, typeof args.host === 'string' ? args.host : undefined, true)
  const m = await begin(d, ctx, row, { kind: 'evacuation', migrationUuid, oldFlavor: flavor, newFlavor: flavor, taskState: 'rebuilding', status: 'accepted' })
  const dest = await claimTarget(d, ctx, row, m, flavor, ignore)
  await d.db.transaction().execute((tx) => setMigration(tx, m.uuid, { status: 'running', dest_host: dest.host, dest_node: dest.node }))
  const started = (await findMigration(d, m.uuid)) ?? m
  void runEvacuation(d, ctx, started, args.image).catch((err: unknown) => d.log.error({ requestId: ctx.requestId, instance: row.uuid, err: String(err) }, 'evacuation failed to finish'))
  return d.store.toRecord(await d.store.get(row.uuid))
}

/** The API's migration uuid, or a new one (a caller that does not retry). */
export function migrationUuidOf(args: MoveArgs): string {
  const u = args.migrationUuid
  if (u === undefined) return randomUUID()
  if (typeof u !== 'string' || !UUID.test(u)) throw new InvalidError('migrationUuid must be a lowercase uuid')
  return u
}

/**
 * The hosts the scheduler must not pick: the source unless `sourceAllowed`, and, when an admin
 * named a target, every other host. An unknown or same-as-source target is a 400.
 */
export async function excludedHosts(d: ConductorDeps, source: string, target: string | undefined, excludeSource: boolean): Promise<string[]> {
  if (target === undefined) return excludeSource ? [source] : []
  if (target === source) throw new InvalidError("The target host can't be the same one.")
  const hosts = (await d.db.selectFrom('compute_nodes').select('host').execute()).map((h) => h.host)
  if (!hosts.includes(target)) throw new InvalidError(`Compute host ${target} could not be found.`)
  return hosts.filter((h) => h !== target)
}

/** Step 1: the task state, the migration row and the instance action, in one transaction. */
export async function begin(
  d: ConductorDeps,
  ctx: RequestContext,
  row: Row,
  a: { kind: MigrationType; migrationUuid: string; oldFlavor: FlavorSnapshot; newFlavor: FlavorSnapshot; taskState: string; status: string },
): Promise<MigrationRow> {
  const now = Date.now()
  const m = {
    uuid: a.migrationUuid,
    instance_uuid: row.uuid,
    migration_type: a.kind,
    status: a.status,
    source_host: row.host ?? '',
    source_node: row.node ?? row.host ?? '',
    dest_host: null,
    dest_node: null,
    old_flavor: JSON.stringify(a.oldFlavor),
    new_flavor: JSON.stringify(a.newFlavor),
    previous_vm_state: row.vm_state,
    project_id: row.project_id,
    user_id: row.user_id,
    created_at: now,
    updated_at: now,
  }
  await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, row.uuid, { task_state: a.taskState }, { version: row.version })
    if (r === undefined) throw new ConflictError(`Cannot '${ACTION_OF[a.kind]}' instance ${row.uuid}: it changed concurrently`)
    await tx.insertInto('migrations').values(m).execute()
    await recordAction(tx, ctx, { uuid: row.uuid, action: ACTION_OF[a.kind], projectId: row.project_id, userId: row.user_id, event: a.kind === 'evacuation' ? 'compute_rebuild_instance' : 'conductor_migrate_server', host: row.host })
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  const written = await findMigration(d, a.migrationUuid)
  if (written === undefined) throw new NotFoundError(`Migration ${a.migrationUuid} could not be found.`)
  return written
}

/**
 * Step 2: a target host claimed under the migration's uuid. When none fits, the move ends here:
 * the instance is back to idle, the migration in `error`, the action failed, and the caller gets
 * Nova's 400 "No valid host was found".
 */
export async function claimTarget(d: ConductorDeps, ctx: RequestContext, row: Row, m: MigrationRow, flavor: FlavorSnapshot, ignore: readonly string[]): Promise<{ host: string; node: string }> {
  try {
    const sel = await d.scheduler.selectDestination(ctx, {
      instanceUuid: m.uuid,
      projectId: row.project_id,
      flavor,
      image: { id: row.image_ref, properties: {} },
      ignoreHosts: ignore,
      schedulerHints: {},
    })
    if (ignore.includes(sel.host)) {
      // The cell's filters do not include RetryFilter: the choice is not one this move may take.
      await d.db.transaction().execute((tx) => releaseResources(tx, m.uuid))
      throw new InvalidError(`No valid host was found. Only excluded hosts (${sel.host}) fit`)
    }
    return { host: sel.host, node: sel.nodeName }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    await d.db.transaction().execute(async (tx) => {
      await setMigration(tx, m.uuid, { status: 'error' })
      await d.store.change(tx, row.uuid, { task_state: null })
      await finishAction(tx, row.uuid, 'Error', message)
    })
    void d.agent.outboxChanged(ctx).catch(() => undefined)
    if (err instanceof AppError && (err.code === 'no_valid_host' || err.status === 400)) throw new InvalidError(message.startsWith('No valid host') ? message : `No valid host was found. ${message}`)
    throw err
  }
}

/** Nova's 409 for an action the instance's state does not allow. */
export function stateConflict(action: string, row: Pick<Row, 'vm_state' | 'task_state'>): ConflictError {
  const what = row.task_state === null ? `vm_state ${row.vm_state}` : `vm_state ${row.vm_state} and task_state ${row.task_state}`
  return new ConflictError(`Cannot '${action}' instance while it is in ${what}`, { action, vmState: row.vm_state, taskState: row.task_state })
}
