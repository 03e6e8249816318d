import type { Request, Response } from 'express'
import { z } from 'zod'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import type { ServicedHost } from '../hosts/host-inventory.js'
import { isUuidLike } from '../hosts/host-inventory.js'
import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'
import { invalidInput, novaBoolean } from '../parameter-types.js'
import { serviceView } from './views.js'

const reason = z.string().min(1).max(255)

const updateV253 = z.object({ status: z.enum(['enabled', 'disabled']).optional(), disabled_reason: reason.optional(), forced_down: novaBoolean.optional() }).strict()
const updateV21 = z.object({ host: z.string().min(1).max(255), binary: z.string().min(1).max(255), disabled_reason: reason.optional() }).strict()
const updateV211 = updateV21.extend({ forced_down: novaBoolean.optional() }).strict()

/** What the cell's `service_update` changes. */
interface ServiceChange {
  disabled?: boolean
  disabledReason?: string | null
  forcedDown?: boolean
}

/** Sends the change down to the owning cell; answers the service as it is now. */
async function apply(d: ComputeDeps, res: Response, h: ServicedHost, change: ServiceChange): Promise<ServicedHost> {
  const cellPath = h.host.cellPath
  const updated = (await d.tree.clientFor(cellPath).cellAdmin(contextOf(res), {
    cellPath,
    op: 'service_update',
    args: { uuid: h.host.service.uuid, ...change },
  })) as { disabled: boolean; disabledReason: string | null; forcedDown: boolean; up: boolean; updatedAt: number }
  return {
    ...h,
    host: {
      ...h.host,
      service: { ...h.host.service, disabled: updated.disabled, disabledReason: updated.disabledReason, forcedDown: updated.forcedDown, up: updated.up, updatedAt: updated.updatedAt },
    },
  }
}

function onlyCompute(binary: string): void {
  if (binary !== 'nova-compute') {
    throw new InvalidError(`Updating a ${binary} service is not supported. Only nova-compute services can be updated.`)
  }
}

/**
 * `PUT /os-services/{uuid}` (2.53+): `status` enabled/disabled with an optional
 * `disabled_reason`, and/or `forced_down`. Everything is validated before anything changes.
 */
export async function updateServiceV253(d: ComputeDeps, req: Request, res: Response, hosts: () => Promise<ServicedHost[]>, mv: Microversion): Promise<void> {
  const id = String(req.params['id'])
  if (!isUuidLike(id)) throw new InvalidError(`Invalid uuid ${id}`)
  const parsed = updateV253.safeParse(req.body)
  if (!parsed.success) throw invalidInput(parsed.error)
  const body = parsed.data
  const h = (await hosts()).find((x) => x.host.service.uuid === id.toLowerCase())
  if (h === undefined) throw new NotFoundError(`Service ${id} could not be found.`)
  onlyCompute(h.host.service.binary)
  const change: ServiceChange = {}
  if (body.status === 'enabled') {
    if (body.disabled_reason !== undefined) throw new InvalidError("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    change.disabled = false
  } else if (body.status === 'disabled') {
    change.disabled = true
    change.disabledReason = body.disabled_reason ?? null
  }
  if (body.forced_down !== undefined) change.forcedDown = body.forced_down
  if (change.disabled === undefined && change.forcedDown === undefined) {
    throw new InvalidError("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
  }
  res.json({ service: serviceView(await apply(d, res, h, change), mv) })
}

/** The actions of `PUT /os-services/{action}` before 2.53. */
const ACTIONS = ['enable', 'disable', 'disable-log-reason', 'force-down'] as const

/**
 * `PUT /os-services/enable|disable|disable-log-reason` (and `force-down` from 2.11), before 2.53:
 * the body names the service by host and binary.
 */
export async function updateServiceV21(d: ComputeDeps, req: Request, res: Response, hosts: () => Promise<ServicedHost[]>, mv: Microversion): Promise<void> {
  const parsed = (atLeast(mv, '2.11') ? updateV211 : updateV21).safeParse(req.body)
  if (!parsed.success) throw invalidInput(parsed.error)
  const body = parsed.data as z.infer<typeof updateV211>
  const action = String(req.params['id'])
  if (!(ACTIONS as readonly string[]).includes(action) || (action === 'force-down' && !atLeast(mv, '2.11'))) {
    throw new NotFoundError('Unknown action')
  }
  const change: ServiceChange = {}
  if (action === 'enable') {
    change.disabled = false
  } else if (action === 'disable') {
    change.disabled = true
    change.disabledReason = null
  } else if (action === 'disable-log-reason') {
    if (body.disabled_reason === undefined) throw new InvalidError('Missing disabled reason field')
    change.disabled = true
    change.disabledReason = body.disabled_reason
  } else {
    if (body.forced_down === undefined) throw new InvalidError('Missing forced_down field')
    change.forcedDown = body.forced_down
  }
  onlyCompute(body.binary)
  const h = (await hosts()).find((x) => x.host.host === body.host && x.host.service.binary === body.binary)
  if (h === undefined) throw new NotFoundError(`Could not find binary ${body.binary} on host ${body.host}.`)
  await apply(d, res, h, change)
  const out: Record<string, unknown> = { host: body.host, binary: body.binary }
  if (action === 'force-down') out['forced_down'] = change.forcedDown
  else out['status'] = change.disabled === true ? 'disabled' : 'enabled'
  if (action === 'disable-log-reason') out['disabled_reason'] = change.disabledReason
  res.json({ service: out })
}
