import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { NotFoundError } from '../../../shared/errors.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { parseBody } from '../parameter-types.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Event names and the microversion that introduced each (Nova's `server_external_events` schema). */
const EVENT_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['network-changed', '2.1'],
  ['network-vif-plugged', '2.1'],
  ['network-vif-unplugged', '2.1'],
  ['network-vif-deleted', '2.1'],
  ['volume-extended', '2.51'],
  ['power-update', '2.76'],
  ['accelerator-request-bound', '2.82'],
  ['volume-reimaged', '2.93'],
]

const bodyFor = (mv: Microversion) => {
  const names = EVENT_NAMES.filter(([, v]) => atLeast(mv, v)).map(([n]) => n) as [string, ...string[]]
  return z.strictObject({
    events: z
      .array(
        z.strictObject({
          name: z.enum(names),
          server_uuid: z.string().min(1).max(255),
          status: z.enum(['failed', 'completed', 'in-progress']).optional(),
          tag: z.string().max(255).optional(),
        }),
      )
      .min(1),
  })
}

/**
 * `POST /os-server-external-events` (admin; what Neutron, Cinder and Cyborg send): each event is
 * checked against the instance index of the whole tree. An instance that does not exist is that
 * event's 404, one with no host yet (still scheduling, or in cell0) its 422, a power-update with a
 * tag other than POWER_ON/POWER_OFF its 400; the answer is 200 when every event was accepted,
 * 207 when some were, 404 when none was. Accepted events are acknowledged only: this federation
 * has no network, volume or accelerator service whose completion an instance waits for.
 */
export function externalEventsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.post(
    '/os-server-external-events',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-server-external-events:create')
      const events = parseBody(bodyFor(microversionOf(res)), req.body).events
      const uuids = [...new Set(events.map((e) => e.server_uuid))]
      const rows = await d.db.selectFrom('instance_index').select(['uuid', 'host', 'cell_path', 'vm_state']).where('uuid', 'in', uuids).execute()
      const byUuid = new Map(rows.filter((x) => x.vm_state !== 'deleted').map((x) => [x.uuid, x]))
      const out = events.map((e) => {
        const row = byUuid.get(e.server_uuid)
        const code =
          row === undefined
            ? 404
            : row.host === null || row.cell_path === null || row.cell_path === CELL0_PATH
              ? 422
              : e.name === 'power-update' && e.tag !== 'POWER_ON' && e.tag !== 'POWER_OFF'
                ? 400
                : 200
        return { name: e.name, status: e.status ?? 'completed', server_uuid: e.server_uuid, ...(e.tag === undefined ? {} : { tag: e.tag }), code }
      })
      const accepted = out.filter((e) => e.code === 200).length
      if (accepted === 0) throw new NotFoundError('No instances found for any event')
      res.status(accepted === out.length ? 200 : 207).json({ events: out })
    }),
  )
  return r
}
