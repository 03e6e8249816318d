import type { Request, Response } from 'express'
import { randomBytes } from 'node:crypto'
import { Router } from 'express'
import { z } from 'zod'
import type { InstanceActionRecord, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { imageFetchOf } from '../../../shared/cell-link/build-spec.js'
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { ownValue } from '../../../shared/http/request-guards.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { accessIPv4, accessIPv6, hasControl, novaHostname, novaMetadata, novaServerDescription, novaServerName, parseBody } from '../parameter-types.js'
import { checkMetadataItems } from '../quotas/boot-quota.js'
import { linkBase } from '../request-scope.js'
import { groupsOfInstance } from '../server-groups/group-store.js'
import { actOnInstance } from './instance-act.js'
import { serverMetadataRouter } from './metadata-routes.js'
import { serverInfoRouter } from './server-info-routes.js'
import { serverTagsRouter } from './tag-routes.js'
import { volumeAttachmentsRouter } from './volume-attachment-routes.js'
import { canonicalIpv6, createServer } from './create.js'
import { CONSOLE_ACTION_KEYS, consoleActionRoute, consolesRouter } from './console-routes.js'
import { LIFECYCLE_ACTION_KEYS, lifecycleActionRoute, refuseWhileMoving, shelvedImageOf } from './lifecycle-actions.js'
import { listServers } from './list.js'
import { MOVE_ACTIONS, moveAction } from './move-actions.js'
import { inFlightSaga } from '../cross-cell/saga-store.js'
import { serverDetail } from './views.js'
import type { ServerAddresses } from './addresses.js'
import { addressesFor, securityGroupsFor } from './addresses.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Body keys of `POST /servers/{id}/action` and the tree action each becomes. */
const ACTIONS: Readonly<Record<string, string>> = {
  'os-start': 'start',
  'os-stop': 'stop',
  reboot: 'reboot',
  pause: 'pause',
  unpause: 'unpause',
  suspend: 'suspend',
  resume: 'resume',
  lock: 'lock',
  unlock: 'unlock',
  rebuild: 'rebuild',
  forceDelete: 'delete',
  'os-resetState': 'reset_state',
}

/**
 * Real Nova actions this federation does not offer (no Neutron, no soft delete...):
 * the server is still looked up first, so a missing one is a 404 as in Nova, then 400 / 409.
 */
const UNSUPPORTED_ACTIONS = new Set([
  'restore',
  'changePassword',
  'addSecurityGroup',
  'removeSecurityGroup',
  'addFixedIp',
  'removeFixedIp',
  'addFloatingIp',
  'removeFloatingIp',
  'injectNetworkInfo',
  'resetNetwork',
  'trigger_crash_dump',
])

const rebuildSchema = z
  .object({
    imageRef: z.string().min(1).max(255),
    name: novaServerName.optional(),
    metadata: novaMetadata.optional(),
    adminPass: z.string().optional(),
    accessIPv4: accessIPv4.optional(),
    accessIPv6: accessIPv6.optional(),
    description: novaServerDescription.optional(),
    hostname: novaHostname.optional(),
    preserve_ephemeral: z.boolean().optional(),
    key_name: z.string().max(255).nullable().optional(),
    user_data: z.string().max(65535).nullable().optional(),
    'OS-DCF:diskConfig': z.enum(['AUTO', 'MANUAL']).optional(),
  })
  .strict()

const updateSchema = z
  .object({
    server: z
      .object({
        name: novaServerName.optional(),
        description: novaServerDescription.optional(),
        accessIPv4: accessIPv4.optional(),
        accessIPv6: accessIPv6.optional(),
        'OS-DCF:diskConfig': z.enum(['AUTO', 'MANUAL']).optional(),
        hostname: novaHostname.optional(),
      })
      .strict(),
  })
  .strict()

/** `/servers` routes. */
export function serversRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const caller = (res: Response): { projectId: string; isAdmin: boolean } => {
    const a = authOf(res)
    return { projectId: a.projectId, isAdmin: a.isAdmin }
  }
  /** Sends an action to the owning cell; a build still looking for a cell is a 409. */
  const act = (res: Response, uuid: string, action: string, args: unknown): Promise<unknown> => actOnInstance(d, res, uuid, action, args)

  /** `server_groups` of the show, update and rebuild views (2.71). */
  const groupsView = async (mv: Microversion, uuid: string): Promise<{ serverGroups?: string[]; addresses: ServerAddresses; securityGroups?: readonly string[] }> => {
    const securityGroups = (await securityGroupsFor(d, [uuid])).get(uuid)
    return {
      ...(atLeast(mv, '2.71') ? { serverGroups: await groupsOfInstance(d.db, uuid) } : {}),
      addresses: (await addressesFor(d, [uuid])).get(uuid) ?? {},
      ...(securityGroups === undefined ? {} : { securityGroups }),
    }
  }

  r.post('/servers', wrap((req, res) => createServer(d, req, res)))
  r.get('/servers', wrap((req, res) => listServers(d, req, res, false)))
  r.get('/servers/detail', wrap((req, res) => listServers(d, req, res, true)))
  r.get(
    '/servers/:id',
    wrap(async (req, res) => {
      const found = await d.locator.get(contextOf(res), caller(res), String(req.params['id']))
      const mv = microversionOf(res)
      res.json({ server: serverDetail(linkBase(req, res), found.record, { mv, isAdmin: authOf(res).isAdmin, unknown: found.unknown, show: true, ...(await groupsView(mv, found.record.uuid)) }) })
    }),
  )
  r.put(
    '/servers/:id',
    wrap(async (req, res) => {
      const body = parseBody(updateSchema, req.body)
      const mv = microversionOf(res)
      if (body.server.description !== undefined && !atLeast(mv, '2.19')) {
        throw new InvalidError("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)")
      }
      if (body.server.hostname !== undefined && !atLeast(mv, '2.90')) {
        throw new InvalidError("Invalid input for field/attribute server. Additional properties are not allowed ('hostname' was unexpected)")
      }
      const uuid = String(req.params['id'])
      const update = {
        ...body.server,
        ...(body.server.accessIPv6 === undefined || body.server.accessIPv6 === '' ? {} : { accessIPv6: canonicalIpv6(body.server.accessIPv6) }),
      }
      if ((await d.locator.mapping(caller(res), uuid)).cell_path === null && (await updateBuildRequest(d, uuid, update))) {
        const found = await d.locator.get(contextOf(res), caller(res), uuid)
        res.json({ server: serverDetail(linkBase(req, res), found.record, { mv, isAdmin: authOf(res).isAdmin, basic: true, ...(await groupsView(mv, uuid)) }) })
        return
      }
      await act(res, uuid, 'update', update)
      const found = await d.locator.get(contextOf(res), caller(res), uuid)
      if (body.server.name !== undefined) {
        await d.db.updateTable('instance_index').set({ name: body.server.name }).where('uuid', '=', uuid).execute()
      }
      res.json({ server: serverDetail(linkBase(req, res), found.record, { mv, isAdmin: authOf(res).isAdmin, basic: true, ...(await groupsView(mv, uuid)) }) })
    }),
  )
  r.delete(
    '/servers/:id',
    wrap(async (req, res) => {
      const uuid = String(req.params['id'])
      const mapping = await d.locator.mapping(caller(res), uuid)
      if (mapping.cell_path === null) {
        // Still looking for a cell: remove the build request, the mapping row first, conditionally,
        // as every decision on a build's fate (see the dispatcher's `#placed`, which sends a
        // delete down when it placed the build first). A miss: it was placed, or taken meanwhile.
        const deleted = await d.db
          .transaction()
          .execute(async (tx) => {
            const m = await tx.updateTable('instance_mappings').set({ queued_for_delete: 1 }).where('instance_uuid', '=', uuid).where('cell_path', 'is', null).executeTakeFirst()
            if (Number(m.numUpdatedRows) !== 1) throw NOT_DELETED
            const del = await tx.deleteFrom('build_requests').where('instance_uuid', '=', uuid).executeTakeFirst()
            if (Number(del.numDeletedRows) !== 1) throw NOT_DELETED
            await tx.updateTable('instance_index').set({ vm_state: 'deleted', updated_at: Date.now() }).where('uuid', '=', uuid).execute()
            return true
          })
          .catch((err: unknown) => {
            if (err === NOT_DELETED) return false
            throw err
          })
        if (deleted) {
          // Never built: its ports go back now (the dispatcher's later placement, if it won the race, is deleted by it).
          await d.network?.release({ instanceUuid: uuid })
          res.status(204).end()
          return
        }
      }
      const fresh = await d.locator.mapping(caller(res), uuid)
      if (fresh.cell_path === CELL0_PATH) {
        if (!(await d.cell0.delete(uuid))) throw new NotFoundError(`Instance ${uuid} could not be found.`)
        await d.db.updateTable('instance_index').set({ vm_state: 'deleted', updated_at: Date.now() }).where('uuid', '=', uuid).execute()
        await d.network?.release({ instanceUuid: uuid })
        res.status(204).end()
        return
      }
      if (fresh.cell_path === null) throw new ConflictError(`Instance ${uuid} is being scheduled, try again`)
      if (d.tree.isDown(fresh.cell_path)) throw new ConflictError(`Cannot 'delete' instance ${uuid}: its cell ${fresh.cell_path} is down (status UNKNOWN)`)
      await refuseWhileMoving(d, res, uuid, 'delete')
      // A move across cells holds a copy in two cells: deleting is refused while it is between
      // steps (it ends soon, or is resumed); in VERIFY_RESIZE the other copy is removed after.
      const moving = await inFlightSaga(d.db, uuid)
      if (moving !== undefined && moving.status !== 'finished') {
        throw new ConflictError(`Cannot 'delete' instance ${uuid} while its move to another cell is in status ${moving.status}, try again`)
      }
      const shelvedImage = await shelvedImageOf(d, res, uuid)
      await d.tree.clientFor(fresh.cell_path).instanceAction(contextOf(res), { cellPath: fresh.cell_path, instanceUuid: uuid, action: 'delete', args: {} })
      if (moving !== undefined) await d.crossCell?.moves.abandon(contextOf(res), moving)
      // Console URLs handed out for it open nothing any more (Nova cleans its console tokens too).
      await d.consoles?.tokens.forgetInstance(uuid)
      if (shelvedImage !== undefined) await d.snapshots?.discard(shelvedImage, uuid).catch(() => undefined)
      res.status(204).end()
    }),
  )
  r.post(
    '/servers/:id/action',
    wrap(async (req, res) => {
      const body: unknown = req.body
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidError('Malformed request body')
      const keys = Object.keys(body)
      const key = keys[0]
      const uuid = String(req.params['id'])
      if (key !== undefined) await refuseWhileMoving(d, res, uuid, key)
      if (keys.length === 1 && key !== undefined && LIFECYCLE_ACTION_KEYS.has(key)) {
        await lifecycleActionRoute(d, act, req, res, uuid, key, (body as Record<string, unknown>)[key])
        return
      }
      if (keys.length === 1 && key !== undefined && CONSOLE_ACTION_KEYS.has(key)) {
        await consoleActionRoute(d, res, uuid, key, (body as Record<string, unknown>)[key])
        return
      }
      if (keys.length === 1 && key !== undefined && UNSUPPORTED_ACTIONS.has(key)) {
        await d.locator.mapping(caller(res), uuid)
        if (key === 'restore') throw new ConflictError(`Instance ${uuid} is not in SOFT_DELETED state (soft delete is not enabled).`)
        throw new InvalidError(`The action ${key} is not supported by this cloud.`)
      }
      if (keys.length === 1 && key !== undefined && MOVE_ACTIONS.has(key)) {
        await moveAction(d, act, req, res, key, (body as Record<string, unknown>)[key], uuid)
        return
      }
      const action = key === undefined ? undefined : ownValue(ACTIONS, key)
      if (keys.length !== 1 || key === undefined || action === undefined) {
        throw new InvalidError(`There is no such action: ${keys.join(',').slice(0, 255)}`)
      }
      const value = (body as Record<string, unknown>)[key]
      const args: Record<string, unknown> = {}
      if (key === 'reboot') {
        const type = (value as { type?: unknown } | null)?.type
        if (type !== 'SOFT' && type !== 'HARD' && type !== 'soft' && type !== 'hard') {
          throw new InvalidError("Invalid input for field/attribute reboot.type. Value must be one of 'SOFT', 'HARD'")
        }
        args['type'] = String(type).toUpperCase()
      }
      if (key === 'os-resetState') {
        if (!authOf(res).isAdmin) throw new ForbiddenError('Policy doesn\'t allow os_compute_api:os-admin-actions:reset_state to be performed.')
        const state = (value as { state?: unknown } | null)?.state
        if (state !== 'active' && state !== 'error') {
          throw new InvalidError("Invalid input for field/attribute os-resetState.state. Value must be one of 'active', 'error'")
        }
        args['state'] = state
      }
      if (key === 'lock' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'locked_reason')) {
        if (!atLeast(microversionOf(res), '2.73')) throw new InvalidError('locked_reason requires microversion 2.73')
        const reason = (value as { locked_reason: unknown }).locked_reason
        if (typeof reason !== 'string' || reason.length > 255 || hasControl(reason)) {
          throw new InvalidError('Invalid input for field/attribute lock.locked_reason. Value: must be a string of at most 255 printable characters')
        }
        args['reason'] = reason
      }
      if (key === 'rebuild') {
        const rebuild = parseBody(rebuildSchema, value)
        const a = authOf(res)
        if (rebuild.metadata !== undefined) await checkMetadataItems(d.db, a.projectId, a.userId, Object.keys(rebuild.metadata).length)
        const imageId = rebuild.imageRef.split('/').pop() ?? ''
        const image = await d.images({ projectId: a.projectId, isAdmin: a.isAdmin, roles: a.roles, userId: a.userId }, imageId)
        if (image === undefined) throw new InvalidError(`Image ${imageId} could not be found.`)
        const mvk = microversionOf(res)
        if (rebuild.key_name !== undefined && !atLeast(mvk, '2.54')) throw new InvalidError("Additional properties are not allowed ('key_name' was unexpected)")
        if (rebuild.hostname !== undefined && !atLeast(mvk, '2.90')) throw new InvalidError("Additional properties are not allowed ('hostname' was unexpected)")
        if (rebuild.user_data !== undefined && !atLeast(mvk, '2.57')) throw new InvalidError("Additional properties are not allowed ('user_data' was unexpected)")
        let keyData: string | null | undefined
        if (typeof rebuild.key_name === 'string') {
          const k = await d.db.selectFrom('key_pairs').select('public_key').where('user_id', '=', a.userId).where('name', '=', rebuild.key_name).executeTakeFirst()
          if (k === undefined) throw new InvalidError('Invalid key_name provided.')
          keyData = k.public_key
        } else if (rebuild.key_name === null) keyData = null
        // The host recreates the disk from the new image: it needs the signed URL, as for a boot.
        const fetch = imageFetchOf(image)
        const record = (await act(res, uuid, 'rebuild', {
          ...rebuild,
          imageRef: image.id,
          ...(keyData === undefined ? {} : { key_data: keyData }),
          ...(fetch === undefined ? {} : { image: fetch }),
        })) as InstanceRecord
        if (rebuild.name !== undefined) {
          await d.db.updateTable('instance_index').set({ name: rebuild.name, image_ref: image.id }).where('uuid', '=', uuid).execute()
        }
        const view = serverDetail(linkBase(req, res), record, { mv: microversionOf(res), isAdmin: a.isAdmin, basic: true, rebuild: true, ...(await groupsView(microversionOf(res), uuid)) })
        const mvr = microversionOf(res)
        res.status(202).json({
          server: {
            ...view,
            ...(atLeast(mvr, '2.54') ? { key_name: record.keyName } : {}),
            ...(atLeast(mvr, '2.57') ? { user_data: record.userData } : {}),
            adminPass: rebuild.adminPass ?? randomBytes(9).toString('base64url'),
          },
        })
        return
      }
      await act(res, uuid, action, args)
      res.status(202).end()
    }),
  )
  r.use(serverMetadataRouter(d, wrap))
  r.use(serverTagsRouter(d, wrap))
  r.use(serverInfoRouter(d, wrap))
  r.use(volumeAttachmentsRouter(d, wrap))
  r.use(consolesRouter(d, wrap))
  r.get(
    '/servers/:id/os-instance-actions',
    wrap(async (req, res) => {
      const uuid = String(req.params['id'])
      const mapping = await d.locator.mapping(caller(res), uuid)
      if (mapping.cell_path === null || mapping.cell_path === CELL0_PATH) {
        res.json({ instanceActions: [] })
        return
      }
      const actions = (await act(res, uuid, 'list_actions', {})) as InstanceActionRecord[]
      res.json({ instanceActions: actions.reverse().map(actionView) })
    }),
  )
  r.get(
    '/servers/:id/os-instance-actions/:requestId',
    wrap(async (req, res) => {
      const uuid = String(req.params['id'])
      const mapping = await d.locator.mapping(caller(res), uuid)
      const actions =
        mapping.cell_path === null || mapping.cell_path === CELL0_PATH ? [] : ((await act(res, uuid, 'list_actions', {})) as InstanceActionRecord[])
      const found = actions.find((a) => a.requestId === String(req.params['requestId']))
      if (found === undefined) throw new NotFoundError(`Action for request_id ${String(req.params['requestId'])} on instance ${uuid} not found`)
      const isAdmin = authOf(res).isAdmin
      res.json({
        instanceAction: {
          ...actionView(found),
          events: found.events.map((e) => ({
            event: e.event,
            start_time: microIso(e.startTime),
            finish_time: e.finishTime === null ? null : microIso(e.finishTime),
            result: e.result,
            ...(isAdmin ? { traceback: null } : {}),
            ...(atLeast(microversionOf(res), '2.62') ? { hostId: '', ...(isAdmin ? { host: e.host ?? '' } : {}) } : {}),
            // 2.84: the fault message of a failed event; none is recorded apart from the result.
            ...(atLeast(microversionOf(res), '2.84') ? { details: null } : {}),
          })),
        },
      })
    }),
  )
  return r
}

/**
 * Updates a build that has no cell yet (Nova updates the build request then). Returns false when
 * the build was placed meanwhile (the caller then updates it in its cell).
 */
async function updateBuildRequest(
  d: ComputeDeps,
  uuid: string,
  u: { name?: string; description?: string | null; accessIPv4?: string; accessIPv6?: string },
): Promise<boolean> {
  return d.db.transaction().execute(async (tx) => {
    const br = await tx.selectFrom('build_requests').select('spec').where('instance_uuid', '=', uuid).executeTakeFirst()
    if (br === undefined) return false
    const spec = JSON.parse(br.spec) as Record<string, unknown>
    const next = {
      ...spec,
      ...(u.name === undefined ? {} : { name: u.name }),
      ...(u.description === undefined ? {} : { description: u.description }),
      ...(u.accessIPv4 === undefined ? {} : { accessIpV4: u.accessIPv4 }),
      ...(u.accessIPv6 === undefined ? {} : { accessIpV6: u.accessIPv6 }),
    }
    const res = await tx.updateTable('build_requests').set({ spec: JSON.stringify(next) }).where('instance_uuid', '=', uuid).where('spec', '=', br.spec).executeTakeFirst()
    if (Number(res.numUpdatedRows) !== 1) return false
    if (u.name !== undefined) await tx.updateTable('instance_index').set({ name: u.name }).where('uuid', '=', uuid).execute()
    return true
  })
}

/** Rolls back the delete of a build request another decision took first (see DELETE /servers/{id}). */
const NOT_DELETED = new Error('the build was placed or taken meanwhile')

const microIso = (ms: number): string => new Date(ms).toISOString().replace('Z', '000').slice(0, 26)

function actionView(a: InstanceActionRecord): Record<string, unknown> {
  return {
    action: a.action,
    instance_uuid: a.instanceUuid,
    message: a.message,
    project_id: a.projectId,
    request_id: a.requestId,
    start_time: microIso(a.startTime),
    user_id: a.userId,
  }
}
