import type { Selectable } from 'kysely'
import type { ImageFetch } from '../../../shared/cell-link/build-spec.js'
import { imageFetchOf } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError } from '../../../shared/errors.js'
import { isUuid } from '../../../shared/uuid.js'
import { releaseResources } from '../../db/claims.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ImageUploadTarget } from '../../compute/rpc-api.js'
import type { ConductorDeps } from '../deps.js'
import type { LifecycleAction } from '../state-machine.js'
import { beginLifecycle } from '../state-machine.js'
import { finishAction, recordAction } from './actions-log.js'

type Row = Selectable<InstancesTable>

/** Nova's instance action names (os-instance-actions) and compute event names. */
const NAMES: Readonly<Record<LifecycleAction, { action: string; event: string }>> = {
  snapshot: { action: 'createImage', event: 'compute_snapshot_instance' },
  backup: { action: 'createBackup', event: 'compute_backup_instance' },
  shelve: { action: 'shelve', event: 'compute_shelve_instance' },
  shelve_offload: { action: 'shelveOffload', event: 'compute_shelve_offload_instance' },
  unshelve: { action: 'unshelve', event: 'compute_unshelve_instance' },
  rescue: { action: 'rescue', event: 'compute_rescue_instance' },
  unrescue: { action: 'unrescue', event: 'compute_unrescue_instance' },
}

/**
 * Snapshots, backups, shelving and rescue of an instance of this cell: the state machine is
 * checked, the task state set with a compare-and-swap on the version and the instance action
 * recorded in one transaction (the outbox carries the change upward), then compute is told.
 * `args` arrive as JSON from the tree and are checked here field by field.
 */
export async function lifecycleAction(d: ConductorDeps, ctx: RequestContext, row: Row, action: LifecycleAction, args: Record<string, unknown>): Promise<unknown> {
  const taskState = beginLifecycle(action, { vmState: row.vm_state, taskState: row.task_state })
  const upload = action === 'snapshot' || action === 'backup' || action === 'shelve' ? uploadOf(args) : undefined
  const offloaded = action === 'unshelve' && row.vm_state === 'shelved_offloaded'
  if (offloaded && row.shelved_image_id === null) throw new ConflictError(`Instance ${row.uuid} has no shelved image to unshelve from`)
  const changed = await begin(d, ctx, row, action, taskState, upload !== undefined && action === 'shelve' ? { shelved_image_id: upload.imageId } : {})
  const host = changed.host
  if (offloaded) return unshelveOffloaded(d, ctx, changed, taskState, args)
  if (host === null) throw new ConflictError(`Instance ${row.uuid} is on no host`)
  const base = { uuid: row.uuid, taskState }
  switch (action) {
    case 'snapshot':
    case 'backup':
      await d.compute.snapshotInstance(ctx, host, { ...base, kind: action, vmState: row.vm_state, upload: required(upload) })
      break
    case 'shelve':
      await d.compute.shelveInstance(ctx, host, { ...base, vmState: row.vm_state, upload: required(upload), offload: (d.shelvedOffloadTimeS ?? 0) === 0 })
      break
    case 'shelve_offload':
      await d.compute.shelveOffloadInstance(ctx, host, base)
      break
    case 'unshelve':
      await d.compute.unshelveInstance(ctx, host, { ...base, ...discardOf(args) })
      break
    case 'rescue': {
      const imageRef = typeof args['rescueImageRef'] === 'string' ? args['rescueImageRef'] : row.image_ref
      const image = fetchOf(args['image'])
      await d.compute.rescueInstance(ctx, host, { ...base, vmState: row.vm_state, imageRef, ...(image === undefined ? {} : { image }) })
      break
    }
    case 'unrescue':
      await d.compute.unrescueInstance(ctx, host, base)
      break
  }
  return d.store.toRecord(changed)
}

/**
 * `os-getConsoleOutput`: the text comes from the compute host over the cell's bus (a call), and
 * goes back up the tree as the answer; it is never stored. 409 while the instance has no guest.
 */
export async function consoleOutput(d: ConductorDeps, ctx: RequestContext, row: Row, args: Record<string, unknown>): Promise<{ output: string }> {
  const length = args['length']
  if (length !== undefined && (typeof length !== 'number' || !Number.isInteger(length) || length < -1)) throw new InvalidError('length must be an integer >= -1')
  if (row.host === null || row.vm_state === 'building' || row.vm_state === 'shelved_offloaded' || row.task_state === 'deleting') {
    throw new ConflictError(`Instance ${row.uuid} is not ready`, { vmState: row.vm_state })
  }
  const output = await d.compute.getConsoleOutput(ctx, row.host, { uuid: row.uuid, ...(typeof length === 'number' && length >= 0 ? { length } : {}) })
  return { output }
}

/**
 * A remote console's address (Nova's get_vnc_console and siblings): asked of the compute host that
 * runs the guest (a call) and answered up the tree, where the API cell binds a single-use token to
 * it; never stored, never a password. 409 while the instance has no host or is being deleted or
 * migrated (Nova's check_instance_host and reject_instance_state).
 */
export async function consoleAddress(d: ConductorDeps, ctx: RequestContext, row: Row, args: Record<string, unknown>): Promise<{ host: string; port: number }> {
  const kind = args['kind']
  if (kind !== 'vnc' && kind !== 'spice' && kind !== 'serial') throw new InvalidError(`Unavailable console type ${String(kind)}.`)
  if (row.host === null || row.vm_state === 'building' || row.vm_state === 'shelved_offloaded') {
    throw new ConflictError(`Instance ${row.uuid} is not ready`, { vmState: row.vm_state })
  }
  if (row.task_state === 'deleting' || row.task_state === 'migrating') {
    throw new ConflictError(`Cannot 'get_${kind}_console' instance ${row.uuid} while it is in task_state ${row.task_state}`)
  }
  const address = await d.compute.getConsole(ctx, row.host, { uuid: row.uuid, kind })
  return { host: address.host, port: address.port }
}

async function begin(d: ConductorDeps, ctx: RequestContext, row: Row, action: LifecycleAction, taskState: string, extra: Record<string, unknown>): Promise<Row> {
  const changed = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, row.uuid, { task_state: taskState, ...extra }, { version: row.version })
    if (r === undefined) throw new ConflictError(`Cannot '${action}' instance ${row.uuid}: it changed concurrently`)
    await recordAction(tx, ctx, { uuid: row.uuid, action: NAMES[action].action, projectId: r.project_id, userId: r.user_id, event: NAMES[action].event, host: r.host })
    return r
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  return changed
}

/**
 * Unshelve of an offloaded instance: a new scheduling decision in this cell (with a claim), then a
 * spawn from the shelved image. Nothing fits: the instance stays SHELVED_OFFLOADED with a fault
 * and the action records the error (the API already answered 202, as Nova does).
 * Whether the instance stays in this cell at all is the API cell's choice: an unshelve into another
 * cell never reaches here (api-cell/scheduler/unshelve-mover.ts builds it there by uuid).
 */
async function unshelveOffloaded(d: ConductorDeps, ctx: RequestContext, row: Row, taskState: string, args: Record<string, unknown>): Promise<unknown> {
  const record = d.store.toRecord(row)
  const az = typeof args['availabilityZone'] === 'string' ? args['availabilityZone'] : args['availabilityZone'] === null ? undefined : (row.availability_zone ?? undefined)
  const wantedHost = typeof args['host'] === 'string' ? args['host'] : undefined
  const shelvedImage = row.shelved_image_id ?? row.image_ref
  let sel
  try {
    sel = await d.scheduler.selectDestination(ctx, {
      instanceUuid: row.uuid,
      projectId: row.project_id,
      flavor: record.flavor,
      image: { id: shelvedImage, properties: {} },
      ...(az === undefined ? {} : { availabilityZone: az }),
      ignoreHosts: [],
      schedulerHints: {},
      // 2.91 `host`: only that host (SameHostFilter keeps the hosts listed).
      ...(wantedHost === undefined ? {} : { hintHosts: { sameHost: [wantedHost] } }),
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    const now = Date.now()
    const back = await d.db.transaction().execute(async (tx) => {
      const r = await d.store.change(tx, row.uuid, { task_state: null, fault: JSON.stringify({ code: 500, message, created: now }) }, { taskState })
      await finishAction(tx, row.uuid, 'Error', message)
      return r
    })
    void d.agent.outboxChanged(ctx).catch(() => undefined)
    d.log.warn({ requestId: ctx.requestId, instance: row.uuid, err: message }, 'unshelve: no host')
    return back === undefined ? record : d.store.toRecord(back)
  }
  const placed = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, row.uuid, { host: sel.host, node: sel.nodeName, availability_zone: sel.availabilityZone }, { taskState })
    if (r === undefined) await releaseResources(tx, row.uuid)
    return r
  })
  if (placed === undefined) throw new ConflictError(`Cannot 'unshelve' instance ${row.uuid}: it changed concurrently`)
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  const image = fetchOf(args['image'])
  const spawnRecord = { ...d.store.toRecord(placed), imageRef: shelvedImage, ...(image === undefined ? {} : { image }) }
  await d.compute.unshelveInstance(ctx, sel.host, { uuid: row.uuid, taskState, instance: spawnRecord, ...discardOf(args) })
  return d.store.toRecord(placed)
}

function uploadOf(args: Record<string, unknown>): ImageUploadTarget {
  const u = args['upload']
  const { imageId, uploadUrl, abortUrl } = (u !== null && typeof u === 'object' ? u : {}) as Record<string, unknown>
  if (!isUuid(imageId) || typeof uploadUrl !== 'string' || typeof abortUrl !== 'string') throw new InvalidError('upload needs imageId, uploadUrl and abortUrl')
  return { imageId, uploadUrl, abortUrl }
}

function fetchOf(raw: unknown): ImageFetch | undefined {
  if (raw === null || typeof raw !== 'object') return undefined
  const { downloadUrl, checksum, diskFormat } = raw as Record<string, unknown>
  return imageFetchOf({
    ...(typeof downloadUrl === 'string' ? { downloadUrl } : {}),
    ...(typeof checksum === 'string' ? { checksum } : {}),
    ...(typeof diskFormat === 'string' ? { diskFormat } : {}),
  })
}

function discardOf(args: Record<string, unknown>): { discardUrl?: string } {
  return typeof args['discardUrl'] === 'string' ? { discardUrl: args['discardUrl'] } : {}
}

function required<T>(v: T | undefined): T {
  if (v === undefined) throw new InvalidError('missing upload target')
  return v
}

/**
 * Offloads the instances shelved (and idle) for longer than `afterMs`, as an administrator's
 * shelveOffload would (Nova's `_poll_shelved_instances`). One failing instance does not stop the
 * others; an instance changed meanwhile is simply skipped (the compare-and-swap refuses it).
 */
export async function offloadShelved(d: ConductorDeps, ctx: RequestContext, afterMs: number): Promise<number> {
  const rows = await d.db
    .selectFrom('instances')
    .selectAll()
    .where('vm_state', '=', 'shelved')
    .where('task_state', 'is', null)
    .where('deleted', '=', 0)
    .where('updated_at', '<=', Date.now() - afterMs)
    .execute()
  let offloaded = 0
  for (const row of rows) {
    try {
      await lifecycleAction(d, ctx, row, 'shelve_offload', {})
      offloaded++
    } catch (err) {
      d.log.warn({ requestId: ctx.requestId, instance: row.uuid, err: err instanceof Error ? err.message : String(err) }, 'shelved instance not offloaded')
    }
  }
  return offloaded
}
