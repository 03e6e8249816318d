import type { Request, Response } from 'express'
import { Router } from 'express'
import { NotFoundError } from '../../../shared/errors.js'
import { contextOf } from '../../identity/auth.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { addressesFor, basicAddresses } from './addresses.js'
import { actOnInstance, callerOf } from './instance-act.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Nova's names of power states in diagnostics (`power_state.STATE_MAP`). */
const STATE_NAMES: Readonly<Record<number, string>> = { 0: 'pending', 1: 'running', 3: 'paused', 4: 'shutdown', 6: 'crashed', 7: 'suspended' }

/** What the owning cell's compute host answers (see the conductor's `diagnostics` action). */
interface LeafDiagnostics {
  readonly powerState: number
  readonly memoryMb: number
  readonly vcpus: number
  readonly driver: string
  readonly launchedAt: number | null
  readonly configDrive: boolean
}

/**
 * `GET /servers/{id}/diagnostics` (admin; asked of the compute host that runs the guest, through
 * its cell: a build without a host or a down cell is a 409) and `GET /servers/{id}/topology` (2.78;
 * instances here have no NUMA topology, which Nova answers with no nodes), and `GET
 * /servers/{id}/ips[/{network}]` (the `addresses` of the show, from the network service).
 */
export function serverInfoRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.get(
    '/servers/:id/diagnostics',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-server-diagnostics')
      const uuid = String(req.params['id'])
      const answer = (await actOnInstance(d, res, uuid, 'diagnostics', {})) as { diagnostics: LeafDiagnostics }
      const g = answer.diagnostics
      const uptime = g.launchedAt === null ? 0 : Math.max(0, Math.floor((Date.now() - g.launchedAt) / 1000))
      if (!atLeast(microversionOf(res), '2.48')) {
        // Before 2.48 the body is the driver's own free-form dictionary.
        res.json({ ...Object.fromEntries(Array.from({ length: g.vcpus }, (_, i) => [`cpu${i}_time`, 0])), memory: g.memoryMb * 1024, uptime })
        return
      }
      res.json({
        config_drive: g.configDrive,
        cpu_details: Array.from({ length: g.vcpus }, (_, id) => ({ id, time: null, utilisation: null })),
        disk_details: [],
        // Nova's fake driver reports itself as libvirt on kvm/ubuntu; its clients know no other names.
        driver: 'libvirt',
        hypervisor: g.driver === 'libvirt' ? 'qemu' : 'kvm',
        hypervisor_os: g.driver === 'libvirt' ? 'linux' : 'ubuntu',
        memory_details: { maximum: g.memoryMb, used: g.powerState === 1 ? g.memoryMb : 0 },
        nic_details: [],
        num_cpus: g.vcpus,
        num_disks: 0,
        num_nics: 0,
        state: STATE_NAMES[g.powerState] ?? 'pending',
        uptime,
      })
    }),
  )
  r.get(
    '/servers/:id/ips',
    wrap(async (req, res) => {
      const found = await d.locator.get(contextOf(res), callerOf(res), String(req.params['id']))
      res.json({ addresses: basicAddresses((await addressesFor(d, [found.record.uuid])).get(found.record.uuid) ?? {}) })
    }),
  )
  r.get(
    '/servers/:id/ips/:network',
    wrap(async (req, res) => {
      const found = await d.locator.get(contextOf(res), callerOf(res), String(req.params['id']))
      const network = String(req.params['network'])
      const addresses = basicAddresses((await addressesFor(d, [found.record.uuid])).get(found.record.uuid) ?? {})
      const list = addresses[network]
      if (list === undefined) throw new NotFoundError('Instance is not a member of specified network')
      res.json({ [network]: list })
    }),
  )
  r.get(
    '/servers/:id/topology',
    wrap(async (req, res) => {
      if (!atLeast(microversionOf(res), '2.78')) throw new NotFoundError('The resource could not be found.')
      await d.locator.get(contextOf(res), callerOf(res), String(req.params['id']))
      res.json({ nodes: [], pagesize_kb: null })
    }),
  )
  return r
}
