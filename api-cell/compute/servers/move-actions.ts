import type { Request, Response } from 'express'
import { randomBytes, randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { imageFetchOf } from '../../../shared/cell-link/build-spec.js'
import { ForbiddenError, InvalidError, OverQuotaError } from '../../../shared/errors.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { findFlavor, flavorSnapshot } from '../flavors/flavor-store.js'
import { atLeast, microversionOf } from '../microversion.js'
import { novaBoolean, parseBody } from '../parameter-types.js'
import { instanceUsage, limitsOf } from '../quotas/quota-store.js'
import { confirmOrRevertCrossCell, migrateOrResize } from '../cross-cell/move-routes.js'

/**
 * Nova's `allow_resize_to_same_host`: true here, since a small cloud may have one host with room.
 * The scheduler still prefers whatever host its weighers rank first.
 */
export const ALLOW_RESIZE_TO_SAME_HOST = true

/** Body keys of `POST /servers/{id}/action` that move an instance (resize, migrations, evacuate). */
export const MOVE_ACTIONS = new Set(['resize', 'confirmResize', 'revertResize', 'migrate', 'os-migrateLive', 'evacuate'])

/** Sends an action to the instance's cell and answers its result (router.ts's `act`). */
export type Act = (res: Response, uuid: string, action: string, args: unknown) => Promise<unknown>

const hostName = z.string().min(1).max(255).regex(/^[a-zA-Z0-9._-]+$/, 'is not a valid host name')

const resizeBody = z.strictObject({ flavorRef: z.union([z.string().min(1).max(255), z.number().int().nonnegative()]), 'OS-DCF:diskConfig': z.enum(['AUTO', 'MANUAL']).optional() })
const migrateBody = z.strictObject({ host: hostName.nullable().optional() }).nullable()
/** `os-migrateLive` before 2.25 (block_migration and disk_over_commit required), from 2.25 (`auto`, no disk_over_commit), 2.30 (`force`) and 2.68 (no `force`). */
const liveV21 = z.strictObject({ host: hostName.nullable(), block_migration: novaBoolean, disk_over_commit: novaBoolean })
const liveV225 = z.strictObject({ host: hostName.nullable(), block_migration: z.union([novaBoolean, z.literal('auto')]) })
const liveV230 = liveV225.extend({ force: novaBoolean.optional() }).strict()

const evacuateBody = z.strictObject({
  host: hostName.optional(),
  onSharedStorage: z.union([z.boolean(), z.enum(['True', 'False', 'true', 'false'])]).optional(),
  adminPass: z.string().optional(),
  force: z.boolean().optional(),
})

const adminOnly = (res: Response, rule: string): void => {
  if (!authOf(res).isAdmin) throw new ForbiddenError(`Policy doesn't allow ${rule} to be performed.`)
}

/**
 * One move action: the request validated for its microversion (Nova's schemas in
 * migrate_server.py, servers.py resize, evacuate.py), then sent to the owning cell, whose conductor
 * decides (state, scheduling and claims). A retry of a request is told apart by its migration
 * uuid, chosen here.
 */
export async function moveAction(d: ComputeDeps, act: Act, req: Request, res: Response, key: string, value: unknown, uuid: string): Promise<void> {
  const mv = microversionOf(res)
  const a0 = authOf(res)
  // Another project's server is a 404 before any policy check, as in Nova.
  await d.locator.mapping({ projectId: a0.projectId, isAdmin: a0.isAdmin }, uuid)
  switch (key) {
    case 'resize': {
      const body = parseBody(resizeBody, value)
      const a = authOf(res)
      const ref = String(body.flavorRef).split('/').pop() ?? ''
      const flavor = await findFlavor(d.db, ref, a)
      if (flavor === undefined || flavor.disabled === 1) throw new InvalidError(`Flavor ${ref} could not be found.`)
      const found = await d.locator.get(contextOf(res), { projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
      const current = found.record.flavor
      if (current.id === flavor.flavorid) throw new InvalidError('When resizing, instances must change flavor!')
      await checkResizeQuota(d, found.record, flavor.vcpus - current.vcpus, flavor.memory_mb - current.memoryMb)
      const next = await flavorSnapshot(d.db, flavor)
      // Within the instance's cell, or (no valid host there, cross-cell allowed) to another cell.
      await migrateOrResize(d, res, uuid, { kind: 'resize', flavor: next }, () =>
        act(res, uuid, 'resize', { migrationUuid: randomUUID(), flavor: next, allowSameHost: ALLOW_RESIZE_TO_SAME_HOST }),
      )
      await charge(d, uuid, next)
      res.status(202).end()
      return
    }
    case 'confirmResize': {
      // Nova's schema leaves the value free (`'confirmResize': {}`): Tempest sends `{}`.
      const crossed = await confirmOrRevertCrossCell(d, res, uuid, 'confirm')
      const record = crossed ?? ((await act(res, uuid, 'confirm_resize', {})) as InstanceRecord)
      await charge(d, uuid, record.flavor)
      res.status(204).end()
      return
    }
    case 'revertResize': {
      // Nova's schema leaves the value free (`'revertResize': {}`), a TODO there to restrict it later.
      // A move across cells reverts in the background; its saga gives the quota back at the end.
      if ((await confirmOrRevertCrossCell(d, res, uuid, 'revert')) === null) {
        res.status(202).end()
        return
      }
      const record = (await act(res, uuid, 'revert_resize', {})) as InstanceRecord
      await charge(d, record.uuid, record.flavor)
      res.status(202).end()
      return
    }
    case 'migrate': {
      adminOnly(res, 'os_compute_api:os-migrate-server:migrate')
      // Nova validates the body only from 2.56 (object or null, with an optional host); before,
      // whatever the value (Tempest sends `{}`), it is ignored and the scheduler picks the host.
      const body = atLeast(mv, '2.56') ? parseBody(migrateBody, value) : null
      const host = typeof body?.host === 'string' ? body.host : undefined
      // A host in another cell (or no valid host here, cross-cell allowed) moves across cells.
      await migrateOrResize(d, res, uuid, { kind: 'migration', ...(host === undefined ? {} : { host }) }, () =>
        act(res, uuid, 'migrate', { migrationUuid: randomUUID(), ...(host === undefined ? {} : { host }) }),
      )
      res.status(202).end()
      return
    }
    case 'os-migrateLive': {
      adminOnly(res, 'os_compute_api:os-migrate-server:migrate_live')
      const schema = !atLeast(mv, '2.25') ? liveV21 : atLeast(mv, '2.30') && !atLeast(mv, '2.68') ? liveV230 : liveV225
      const body = parseBody(schema, value)
      // From 2.34 Nova's pre-checks run after the 202: no valid host shows as a migration in error.
      const asyncPrechecks = atLeast(mv, '2.34')
      await act(res, uuid, 'live_migrate', { migrationUuid: randomUUID(), ...(typeof body.host === 'string' ? { host: body.host } : {}), ...(asyncPrechecks ? { asyncPrechecks } : {}) })
      res.status(202).end()
      return
    }
    case 'evacuate': {
      adminOnly(res, 'os_compute_api:os-evacuate')
      const body = parseBody(evacuateBody, value)
      if (atLeast(mv, '2.14') && body.onSharedStorage !== undefined) throw new InvalidError("Additional properties are not allowed ('onSharedStorage' was unexpected)")
      if (!atLeast(mv, '2.14') && body.onSharedStorage === undefined) throw new InvalidError("Invalid input for field/attribute evacuate. Value: 'onSharedStorage' is a required property")
      if (body.force !== undefined && (!atLeast(mv, '2.29') || atLeast(mv, '2.68'))) throw new InvalidError("Additional properties are not allowed ('force' was unexpected)")
      const a = authOf(res)
      const found = await d.locator.get(contextOf(res), { projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
      const image = await d.images({ projectId: a.projectId, isAdmin: a.isAdmin, roles: a.roles, userId: a.userId }, found.record.imageRef)
      const fetch = image === undefined ? undefined : imageFetchOf(image)
      await act(res, uuid, 'evacuate', { migrationUuid: randomUUID(), ...(body.host === undefined ? {} : { host: body.host }), ...(fetch === undefined ? {} : { image: fetch }) })
      if (atLeast(mv, '2.14')) res.status(200).end()
      else res.status(200).json({ adminPass: body.adminPass ?? randomBytes(9).toString('base64url') })
      return
    }
  }
  throw new InvalidError(`There is no such action: ${key}`)
}

/**
 * Nova checks a resize's quota on the flavor delta (cores and RAM only grow on an upsize): over the
 * project's or the user's limit is Nova's 403.
 */
async function checkResizeQuota(d: ComputeDeps, r: InstanceRecord, cores: number, ram: number): Promise<void> {
  if (cores <= 0 && ram <= 0) return
  const limits = await limitsOf(d.db, r.projectId, r.userId)
  const project = await instanceUsage(d.db, r.projectId)
  const user = await instanceUsage(d.db, r.projectId, r.userId)
  const over = (name: 'cores' | 'ram', delta: number): void => {
    if (delta <= 0) return
    for (const [limit, used] of [
      [limits.project[name], project[name]],
      [limits.user[name], user[name]],
    ] as const) {
      if (limit !== undefined && limit >= 0 && used + delta > limit) {
        throw new OverQuotaError(`Quota exceeded for ${name}: Requested ${delta}, but already used ${used} of ${limit} ${name}`)
      }
    }
  }
  over('cores', cores)
  over('ram', ram)
}

/** The instance's quota usage follows its flavor (what a resize, confirm or revert left it with). */
async function charge(d: ComputeDeps, uuid: string, f: FlavorSnapshot): Promise<void> {
  await d.db.updateTable('quota_instance_usage').set({ vcpus: f.vcpus, memory_mb: f.memoryMb }).where('instance_uuid', '=', uuid).execute()
}
