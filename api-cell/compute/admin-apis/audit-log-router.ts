import type { Request, Response } from 'express'
import { Router } from 'express'
import { InvalidError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { numberedHosts, serviced } from '../hosts/host-inventory.js'
import { regionOf } from '../request-scope.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?$/

/** `YYYY-MM-DD HH:MM:SS`, as Nova shows audit periods. */
const plain = (d: Date): string => d.toISOString().slice(0, 19).replace('T', ' ')

/** Nova's `last_completed_audit_period` (period `month`): the last whole month before `before`. */
function auditPeriod(before: Date): { begin: Date; end: Date } {
  const end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1))
  const begin = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1))
  return { begin, end }
}

/**
 * `GET /os-instance_usage_audit_log[/{before_timestamp}]` (admin): the state of the periodic
 * instance usage audit per compute host. This federation runs no such audit (Nova's default,
 * `instance_usage_audit = False`), so, as Nova answers then, every host of the tree is listed as
 * not run and no instance was audited.
 */
export function auditLogRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const report = async (res: Response, before: Date): Promise<Record<string, unknown>> => {
    const hosts = [...new Set(serviced(await numberedHosts(d, contextOf(res), regionOf(res))).map((h) => h.host.host))].sort()
    const { begin, end } = auditPeriod(before)
    return {
      hosts_not_run: hosts,
      log: {},
      num_hosts: hosts.length,
      num_hosts_done: 0,
      num_hosts_not_run: hosts.length,
      num_hosts_running: 0,
      overall_status: `0 of ${hosts.length} hosts done. 0 errors.`,
      period_beginning: plain(begin),
      period_ending: plain(end),
      total_errors: 0,
      total_instances: 0,
    }
  }
  r.get(
    '/os-instance_usage_audit_log',
    wrap(async (_req, res) => {
      requireAdmin(res, 'os_compute_api:os-instance-usage-audit-log:list')
      res.json({ instance_usage_audit_logs: await report(res, new Date()) })
    }),
  )
  r.get(
    '/os-instance_usage_audit_log/:before',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-instance-usage-audit-log:show')
      const raw = String(req.params['before'])
      const m = TIMESTAMP.exec(raw)
      const at = m === null ? Number.NaN : Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`)
      if (Number.isNaN(at)) throw new InvalidError(`Invalid timestamp for date ${raw.slice(0, 64)}`)
      res.json({ instance_usage_audit_log: await report(res, new Date(at)) })
    }),
  )
  return r
}
