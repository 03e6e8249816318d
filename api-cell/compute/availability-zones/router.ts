import type { Request, Response } from 'express'
import { Router } from 'express'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { novaTime, numberedHosts, serviced } from '../hosts/host-inventory.js'
import { regionOf } from '../request-scope.js'
import { zonesOf } from './zones.js'

/** Per host name, per service binary: whether it is up, enabled, and when it last reported. */
type HostServices = Record<string, Record<string, { available: boolean; active: boolean; updated_at: string }>>

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/**
 * `/os-availability-zone` (every user) and `/os-availability-zone/detail` (admin), in Nova's
 * shapes: available zones first, then zones whose services are all disabled (`available: false`).
 * The detail lists, per available zone, its hosts with their enabled services.
 */
export function availabilityZonesRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const zones = async (res: Response) => zonesOf(serviced(await numberedHosts(d, contextOf(res), regionOf(res))))

  r.get(
    '/os-availability-zone',
    wrap(async (_req, res) => {
      const all = await zones(res)
      const ordered = [...all.filter((z) => z.available), ...all.filter((z) => !z.available)]
      res.json({ availabilityZoneInfo: ordered.map((z) => ({ zoneName: z.name, zoneState: { available: z.available }, hosts: null })) })
    }),
  )
  r.get(
    '/os-availability-zone/detail',
    wrap(async (_req, res) => {
      requireAdmin(res, 'os_compute_api:os-availability-zone:detail')
      const all = await zones(res)
      const info: Array<{ zoneName: string; zoneState: { available: boolean }; hosts: HostServices | null }> = all
        .filter((z) => z.available)
        .map((z) => {
          const hosts: HostServices = {}
          for (const h of z.hosts) {
            const s = h.host.service
            if (s.disabled) continue
            hosts[h.host.host] = { ...hosts[h.host.host], [s.binary]: { available: s.up, active: true, updated_at: novaTime(s.updatedAt) } }
          }
          return { zoneName: z.name, zoneState: { available: true }, hosts }
        })
      for (const z of all.filter((x) => !x.available)) info.push({ zoneName: z.name, zoneState: { available: false }, hosts: null })
      res.json({ availabilityZoneInfo: info })
    }),
  )
  return r
}
