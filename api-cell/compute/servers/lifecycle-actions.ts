import type { Request, Response } from 'express'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { imageFetchOf } from '../../../shared/cell-link/build-spec.js'
import { ConflictError, ForbiddenError, InvalidError } from '../../../shared/errors.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { novaMetadata, novaServerName, parseBody } from '../parameter-types.js'
import { linkBase, regionOf } from '../request-scope.js'
import { decideUnshelve } from './unshelve-plan.js'

/** Sends one action to the instance's cell (router.ts: mapping, down cell and building checks). */
export type ActFn = (res: Response, uuid: string, action: string, args: unknown) => Promise<unknown>

/** Body keys of `POST /servers/{id}/action` served here. */
export const LIFECYCLE_ACTION_KEYS = new Set(['createImage', 'createBackup', 'shelve', 'shelveOffload', 'unshelve', 'rescue', 'unrescue', 'os-getConsoleOutput'])

const createImageSchema = z.strictObject({ name: novaServerName, metadata: novaMetadata.optional() })
/** Nova's `non_negative_integer`: an integer, or a string of digits. */
const nonNegative = z.union([z.number().int().min(0), z.string().regex(/^[0-9]+$/).transform(Number)])
const createBackupSchema = z.strictObject({ name: novaServerName, backup_type: z.string(), rotation: nonNegative, metadata: novaMetadata.optional() })
const rescueSchema = z.strictObject({ adminPass: z.string().optional(), rescue_image_ref: z.string().uuid().optional() }).nullable()
const consoleSchema = z.strictObject({ length: z.union([z.number().int().min(-1), z.string().regex(/^-?[0-9]+$/).transform(Number), z.null()]).optional() })
const unshelve277 = z.strictObject({ availability_zone: z.string().min(1).max(255) }).nullable()
const unshelve291 = z.strictObject({ availability_zone: z.string().min(1).max(255).nullable().optional(), host: z.string().min(1).max(255).optional() }).nullable()

/**
 * createImage, createBackup, shelve, shelveOffload, unshelve, rescue, unrescue and
 * os-getConsoleOutput (Nova's request schemas, microversions and default policies). The snapshot
 * image is created here, in the API cell, and the compute host gets only a signed, single-use URL
 * to store its bytes; when the cell refuses the action, the image is deleted again.
 */
export async function lifecycleActionRoute(d: ComputeDeps, act: ActFn, req: Request, res: Response, uuid: string, key: string, value: unknown): Promise<void> {
  const a = authOf(res)
  const caller = { projectId: a.projectId, isAdmin: a.isAdmin }
  const mv = microversionOf(res)
  const record = async (): Promise<InstanceRecord> => (await d.locator.get(contextOf(res), caller, uuid)).record
  switch (key) {
    case 'createImage':
    case 'createBackup': {
      const backup = key === 'createBackup' ? parseBody(createBackupSchema, value) : undefined
      const body = backup ?? parseBody(createImageSchema, value)
      const rotation = backup?.rotation
      const inst = await record()
      const imageId = await withSnapshot(
        d,
        res,
        inst,
        {
          name: body.name,
          kind: backup === undefined ? 'snapshot' : 'backup',
          ...(backup === undefined ? {} : { backupType: backup.backup_type, rotation: backup.rotation }),
          ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
        },
        (upload) => act(res, uuid, backup === undefined ? 'snapshot' : 'backup', { upload }),
      )
      // From 2.45 the image id comes in the body and there is no Location header (Nova).
      if (atLeast(mv, '2.45')) {
        res.status(202).json({ image_id: imageId })
        return
      }
      if (rotation === undefined || rotation > 0) res.location(`${linkBase(req, res).versioned}/images/${imageId}`)
      res.status(202).end()
      return
    }
    // shelve, shelveOffload and unrescue take any value (Nova's schemas are `{}`; Tempest sends `{}`).
    case 'shelve': {
      const inst = await record()
      await withSnapshot(d, res, inst, { name: `${inst.name}-shelved`, kind: 'snapshot' }, (upload) => act(res, uuid, 'shelve', { upload }))
      res.status(202).end()
      return
    }
    case 'shelveOffload':
      if (!a.isAdmin) throw new ForbiddenError("Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed.")
      await act(res, uuid, 'shelve_offload', {})
      res.status(202).end()
      return
    case 'unshelve': {
      const body = atLeast(mv, '2.91') ? parseBody(unshelve291, value) : atLeast(mv, '2.77') ? parseBody(unshelve277, value) : null // before 2.77 Nova ignores the value
      const host = body !== null && 'host' in body ? body.host : undefined
      if (host !== undefined && !a.isAdmin) throw new ForbiddenError("Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed.")
      const inst = await record()
      const az = body === null ? undefined : body.availability_zone
      if ((az !== undefined || host !== undefined) && inst.vmState !== 'shelved_offloaded') {
        throw new ConflictError(`The availability_zone or host parameter can only be given when the instance is SHELVED_OFFLOADED (it is ${inst.vmState}).`)
      }
      // An offloaded instance is spawned again from its shelved image: the host needs a signed URL.
      const image = inst.vmState === 'shelved_offloaded' && inst.shelvedImageId !== undefined ? await d.images(imageCaller(a), inst.shelvedImageId) : undefined
      const fetch = image === undefined ? undefined : imageFetchOf(image)
      // Nova deletes the shelved image once the instance is unshelved: the host gets a URL for that.
      const discardUrl = inst.shelvedImageId === undefined ? undefined : d.snapshots?.discardUrl(inst.shelvedImageId, inst.uuid)
      const inCell = {
        ...(discardUrl === undefined ? {} : { discardUrl }),
        ...(az === undefined ? {} : { availabilityZone: az }),
        ...(host === undefined ? {} : { host }),
        ...(fetch === undefined ? {} : { image: fetch }),
      }
      if (inst.vmState === 'shelved_offloaded' && d.unshelveMover !== undefined && inst.taskState === null && !inst.locked) {
        // The global scheduler may pick another cell (unshelve-plan.ts); bad zone or host: 400.
        const ask = { ...(az === undefined ? {} : { availabilityZone: az }), ...(host === undefined ? {} : { host }) }
        const decision = await decideUnshelve(d, contextOf(res), regionOf(res), inst, ask, image)
        if (decision.kind === 'move') {
          // Refused by every other cell, the unshelve is tried in the instance's own cell, which
          // records the fault and the action's error when it cannot either (Nova's answer).
          await d.unshelveMover.start(contextOf(res), { ...decision.plan, fallback: inCell })
          res.status(202).end()
          return
        }
      }
      await act(res, uuid, 'unshelve', inCell)
      res.status(202).end()
      return
    }
    case 'rescue': {
      const body = parseBody(rescueSchema, value)
      const inst = await record()
      const ref = body?.rescue_image_ref ?? inst.imageRef
      const image = await d.images(imageCaller(a), ref)
      if (image === undefined && body?.rescue_image_ref !== undefined) throw new InvalidError(`Image ${ref} could not be found.`)
      const fetch = image === undefined ? undefined : imageFetchOf(image)
      await act(res, uuid, 'rescue', { rescueImageRef: ref, ...(fetch === undefined ? {} : { image: fetch }) })
      res.status(200).json({ adminPass: body?.adminPass ?? randomBytes(9).toString('base64url') })
      return
    }
    case 'unrescue':
      await act(res, uuid, 'unrescue', {})
      res.status(202).end()
      return
    case 'os-getConsoleOutput': {
      const body = parseBody(consoleSchema, value)
      const length = body.length ?? undefined
      const answer = (await act(res, uuid, 'console_output', length === undefined || length < 0 ? {} : { length })) as { output?: unknown } | null
      res.status(200).json({ output: typeof answer?.output === 'string' ? answer.output : '' })
      return
    }
    default:
      throw new InvalidError(`There is no such action: ${key}`)
  }
}

function imageCaller(a: ReturnType<typeof authOf>): { projectId: string; isAdmin: boolean; roles: readonly string[]; userId: string } {
  return { projectId: a.projectId, isAdmin: a.isAdmin, roles: a.roles, userId: a.userId }
}

/**
 * Creates the snapshot image, then sends the action down with its upload URLs; when the cell
 * refuses (wrong state, locked, down), the image is deleted again, so a refused action leaves nothing.
 */
async function withSnapshot(
  d: ComputeDeps,
  res: Response,
  inst: InstanceRecord,
  req: { name: string; kind: 'snapshot' | 'backup'; backupType?: string; rotation?: number; metadata?: Record<string, string> },
  send: (upload: { imageId: string; uploadUrl: string; abortUrl: string }) => Promise<unknown>,
): Promise<string> {
  if (d.snapshots === undefined) throw new InvalidError('Snapshots are not supported by this cloud.')
  if (d.tree.isDown(inst.cellPath)) throw new ConflictError(`Cannot snapshot instance ${inst.uuid}: its cell ${inst.cellPath} is down (status UNKNOWN)`)
  // Refuse early what the cell would refuse, before an image exists.
  if (inst.taskState !== null) throw new ConflictError(`Cannot snapshot instance ${inst.uuid} while it is in task_state ${inst.taskState}`)
  const target = await d.snapshots.create(contextOf(res), { ...req, instanceUuid: inst.uuid, baseImageRef: inst.imageRef })
  try {
    await send(target)
  } catch (err) {
    await d.snapshots.abandon(target.imageId).catch(() => undefined)
    throw err
  }
  return target.imageId
}

/**
 * The shelved image of an instance about to be deleted while shelved, to delete with it (as Nova
 * does); undefined for any other instance. Asks the cell only when the index says it is shelved.
 */
export async function shelvedImageOf(d: ComputeDeps, res: Response, uuid: string): Promise<string | undefined> {
  const idx = await d.db.selectFrom('instance_index').select('vm_state').where('uuid', '=', uuid).executeTakeFirst()
  if (idx?.vm_state !== 'shelved' && idx?.vm_state !== 'shelved_offloaded') return undefined
  const a = authOf(res)
  const found = await d.locator.get(contextOf(res), { projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
  return found.record.shelvedImageId
}

/**
 * 409 while an unshelve into another cell moves the instance (api-cell/scheduler/unshelve-mover.ts):
 * its cell does not know yet, so the API refuses other actions, as Nova's task state `unshelving` does.
 */
export async function refuseWhileMoving(d: ComputeDeps, res: Response, uuid: string, action: string): Promise<void> {
  if (d.unshelveMover === undefined || !(await d.unshelveMover.inFlight(uuid))) return
  // Another project's server stays a 404, whatever it is doing.
  const a = authOf(res)
  await d.locator.mapping({ projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
  throw new ConflictError(`Cannot '${action}' instance ${uuid} while it is in task_state unshelving`)
}
