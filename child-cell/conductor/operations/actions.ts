import type { BuildImage } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError } from '../../../shared/errors.js'
import type { ConductorDeps } from '../deps.js'
import type { PowerAction } from '../state-machine.js'
import { beginAction, isLifecycleAction, POWER_ACTIONS } from '../state-machine.js'
import { finishAction, listActions, recordAction } from './actions-log.js'
import { withImageFetch } from './build-specs.js'
import { instanceDestroyed } from './compute-reports.js'
import { startLiveMigration } from './live-migrate.js'
import { setMetadata } from './metadata.js'
import { migrationRecord } from './migrations-store.js'
import { startEvacuation, startMove } from './move.js'
import { abandonMoves, confirmMove, revertMove } from './move-finish.js'
import { setTags } from './tags.js'
import { consoleAddress, consoleOutput, lifecycleAction } from './lifecycle.js'
import { CROSS_CELL_ACTIONS, crossCellAction } from './cross-cell.js'

const UNLOCKED_ACTIONS = new Set(['lock', 'unlock', 'update', 'console_output', 'console_address', 'snapshot', 'backup'])

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Nova's instance action names in os-instance-actions. */
const ACTION_NAMES: Readonly<Record<PowerAction, string>> = {
  stop: 'stop',
  start: 'start',
  reboot: 'reboot',
  pause: 'pause',
  unpause: 'unpause',
  suspend: 'suspend',
  resume: 'resume',
  rebuild: 'rebuild',
  delete: 'delete',
}

const isPowerAction = (a: string): a is PowerAction => (POWER_ACTIONS as readonly string[]).includes(a)

/**
 * An action on an instance of this cell, as routed down the tree. Power actions check the state
 * machine, set the task state with a compare-and-swap on the instance version (so two concurrent
 * actions cannot both start) and cast to the instance's compute host.
 */
export async function instanceAction(
  d: ConductorDeps,
  ctx: RequestContext,
  req: { uuid: string; action: string; args: any; isAdmin: boolean },
): Promise<unknown> {
  if (req.action === 'list_actions') {
    await d.store.get(req.uuid, { withDeleted: true })
    return listActions(d.db, req.uuid)
  }
  // The API cell's cross-cell move steps: the target's instance does not exist yet at prepare.
  if (CROSS_CELL_ACTIONS.has(req.action)) return crossCellAction(d, ctx, req.uuid, req.action, req.args)
  const row = await d.store.get(req.uuid)
  // Nova checks the lock on changes only: reading the console or taking an image is allowed.
  if (row.locked === 1 && !req.isAdmin && !UNLOCKED_ACTIONS.has(req.action)) {
    throw new ConflictError(`Instance ${req.uuid} is locked`)
  }
  if (isPowerAction(req.action)) return powerAction(d, ctx, row, req.action, req.args ?? {})
  if (isLifecycleAction(req.action)) return lifecycleAction(d, ctx, row, req.action, isObject(req.args) ? req.args : {})
  switch (req.action) {
    case 'console_output':
      return consoleOutput(d, ctx, row, isObject(req.args) ? req.args : {})
    case 'console_address':
      return consoleAddress(d, ctx, row, isObject(req.args) ? req.args : {})
    case 'lock':
      return simpleChange(d, ctx, row.uuid, 'lock', {
        locked: 1,
        locked_by: req.isAdmin ? 'admin' : 'owner',
        locked_reason: typeof req.args?.reason === 'string' ? req.args.reason : null,
      })
    case 'unlock':
      if (row.locked === 1 && row.locked_by === 'admin' && !req.isAdmin) {
        throw new ConflictError(`Instance ${req.uuid} was locked by an administrator`)
      }
      return simpleChange(d, ctx, row.uuid, 'unlock', { locked: 0, locked_by: null, locked_reason: null })
    case 'update': {
      const set: Record<string, unknown> = {}
      if (typeof req.args?.name === 'string') set['name'] = req.args.name
      if (req.args?.description !== undefined) set['description'] = req.args.description
      if (req.args?.accessIPv4 !== undefined) set['access_ip_v4'] = req.args.accessIPv4
      if (req.args?.accessIPv6 !== undefined) set['access_ip_v6'] = req.args.accessIPv6
      if (typeof req.args?.hostname === 'string') set['hostname'] = req.args.hostname
      return simpleChange(d, ctx, row.uuid, null, set)
    }
    case 'reset_state': {
      // Admin's os-resetState: forces the vm_state and clears the task state, nothing else.
      const state = req.args?.state
      if (!req.isAdmin || (state !== 'active' && state !== 'error')) throw new InvalidError('reset_state needs an admin and state active or error')
      return simpleChange(d, ctx, row.uuid, 'resetState', { vm_state: state, task_state: null })
    }
    case 'resize':
    case 'migrate':
      return startMove(d, ctx, row, req.action === 'resize' ? 'resize' : 'migration', req.args ?? {}, req.isAdmin)
    case 'confirm_resize':
      return confirmMove(d, ctx, row)
    case 'revert_resize':
      return revertMove(d, ctx, row)
    case 'evacuate':
      return startEvacuation(d, ctx, row, req.args ?? {}, req.isAdmin)
    case 'live_migrate':
      return startLiveMigration(d, ctx, row, req.args ?? {}, req.isAdmin)
    case 'list_migrations': {
      const rows = await d.db.selectFrom('migrations').selectAll().where('instance_uuid', '=', row.uuid).orderBy('id').execute()
      return rows.map(migrationRecord)
    }
    case 'set_metadata':
      return setMetadata(d, ctx, row, req.args ?? {})
    case 'set_tags':
      return setTags(d, ctx, row, req.args ?? {})
    case 'diagnostics': {
      // Asked of the compute host that runs the guest (Nova's get_instance_diagnostics).
      if (row.host === null) throw new ConflictError(`Cannot 'get_diagnostics' instance ${row.uuid} while it is in vm_state ${row.vm_state}`)
      const info = await d.compute.getInstanceDiagnostics(ctx, row.host, row.uuid)
      return { diagnostics: { ...info, launchedAt: row.launched_at, configDrive: row.config_drive !== '', flavor: JSON.parse(row.flavor) as unknown } }
    }
    default:
      throw new InvalidError(`unknown instance action ${req.action}`)
  }
}

async function simpleChange(d: ConductorDeps, ctx: RequestContext, uuid: string, action: string | null, set: Record<string, unknown>): Promise<unknown> {
  const row = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, uuid, set)
    if (r === undefined) throw new ConflictError(`Instance ${uuid} changed concurrently, try again`)
    if (action !== null) {
      await recordAction(tx, ctx, { uuid, action, projectId: r.project_id, userId: r.user_id, event: `api_${action}`, host: null })
      await finishAction(tx, uuid, 'Success')
    }
    return r
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  return d.store.toRecord(row)
}

async function powerAction(
  d: ConductorDeps,
  ctx: RequestContext,
  row: Awaited<ReturnType<ConductorDeps['store']['get']>>,
  action: PowerAction,
  args: { type?: string; imageRef?: string; image?: unknown; name?: string; metadata?: Record<string, string>; accessIPv4?: string; accessIPv6?: string; description?: string | null; hostname?: string; user_data?: string | null; key_name?: string | null; key_data?: string | null },
): Promise<unknown> {
  // A delete asked again while one is under way is accepted, as Nova accepts it (its delete has no
  // task-state check), and changes nothing: the first one finishes the job.
  if (action === 'delete' && row.task_state === 'deleting') return d.store.toRecord(row)
  const hard = action === 'reboot' && String(args.type ?? 'SOFT').toUpperCase() === 'HARD'
  const taskState = beginAction(action, { vmState: row.vm_state, taskState: row.task_state }, { hard })
  const rebuild =
    action === 'rebuild'
      ? {
          ...(typeof args.imageRef === 'string' ? { image_ref: args.imageRef } : {}),
          ...(typeof args.name === 'string' ? { name: args.name } : {}),
          ...(args.metadata !== undefined ? { metadata: JSON.stringify(args.metadata) } : {}),
          ...(args.accessIPv4 !== undefined ? { access_ip_v4: args.accessIPv4 } : {}),
          ...(args.accessIPv6 !== undefined ? { access_ip_v6: args.accessIPv6 } : {}),
          ...(args.description !== undefined ? { description: args.description } : {}),
          ...(typeof args.hostname === 'string' ? { hostname: args.hostname } : {}),
          ...(args.user_data !== undefined ? { user_data: args.user_data } : {}),
          ...(args.key_name !== undefined ? { key_name: args.key_name, key_data: args.key_data ?? null } : {}),
        }
      : {}
  const changed = await d.db.transaction().execute(async (tx) => {
    const r = await d.store.change(tx, row.uuid, { task_state: taskState, ...rebuild }, { version: row.version })
    if (r === undefined) throw new ConflictError(`Cannot '${action}' instance ${row.uuid}: it changed concurrently`)
    await recordAction(tx, ctx, {
      uuid: row.uuid,
      action: ACTION_NAMES[action],
      projectId: r.project_id,
      userId: r.user_id,
      event: `compute_${action === 'delete' ? 'terminate_instance' : `${action}_instance`}`,
      host: r.host,
    })
    return r
  })
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  if (changed.host === null) {
    // Never reached a host (failed before spawn): nothing to clean on a hypervisor.
    await instanceDestroyed(d, ctx, { uuid: row.uuid, host: '' })
    return null
  }
  if (action === 'delete') {
    // A resize waiting for confirm holds a guest and a claim on its source too.
    await abandonMoves(d, ctx, row.uuid)
    await d.compute.terminateInstance(ctx, changed.host, row.uuid)
  }
  else {
    await d.compute.powerAction(ctx, changed.host, {
      uuid: row.uuid,
      action,
      taskState,
      ...(hard ? { hard } : {}),
      // Rebuild: how the host fetches the new image comes with the request (the URL expires, so it is not stored).
      ...(action === 'rebuild' ? { previousVmState: row.vm_state, instance: withImageFetch(d.store.toRecord(changed), { image: rebuildImage(args) }) } : {}),
    })
  }
  return d.store.toRecord(changed)
}

/** The image fetch of a rebuild request, checked field by field (the args arrive as JSON from the tree). */
function rebuildImage(args: { image?: unknown }): Partial<BuildImage> {
  const raw = args.image
  if (raw === null || typeof raw !== 'object') return {}
  const { downloadUrl, checksum, diskFormat } = raw as Record<string, unknown>
  return {
    ...(typeof downloadUrl === 'string' ? { downloadUrl } : {}),
    ...(typeof checksum === 'string' ? { checksum } : {}),
    ...(typeof diskFormat === 'string' ? { diskFormat } : {}),
  }
}
