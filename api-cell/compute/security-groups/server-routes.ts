import type { NextFunction, Request, Response, Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { groupsOfPorts, setPortGroups } from '../../network/security-groups/port-bindings.js'
import { NeutronFault } from '../../network/security-groups/neutron-faults.js'
import { authOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import type { NovaSecurityGroups } from './instance-ports.js'
import { novaGroup, remoteGroupNames, sortedGroups, toNovaError } from './nova-views.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

const ACTIONS = new Set(['addSecurityGroup', 'removeSecurityGroup'])

/**
 * `GET /servers/{id}/os-security-groups` (the groups of the server's ports) and the
 * `addSecurityGroup` / `removeSecurityGroup` actions (202), at every microversion as Nova serves
 * them. Other actions fall through to the servers router.
 */
export function serverSecurityGroupRoutes(r: Router, d: ComputeDeps, sg: NovaSecurityGroups, wrap: Wrap): void {
  r.get(
    '/servers/:id/os-security-groups',
    wrap(async (req, res) => {
      const uuid = String(req.params['id'])
      const a = authOf(res)
      await d.locator.mapping({ projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
      const ports = await sg.ports.portsOf(uuid)
      const ids = [...new Set([...(await groupsOfPorts(sg.store.db, ports.map((p) => p.id))).values()].flat())]
      const groups = await Promise.all(ids.map((id) => sg.store.get({ projectId: '', isAdmin: true }, id)))
      const names = await remoteGroupNames(sg.store.db, groups.flatMap((g) => g.rules))
      res.json({ security_groups: sortedGroups(groups.map((g) => novaGroup(g, names))) })
    }),
  )

  r.post('/servers/:id/action', (req: Request, res: Response, next: NextFunction) => {
    const body: unknown = req.body
    const keys = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body) : []
    const action = keys[0]
    if (keys.length !== 1 || action === undefined || !ACTIONS.has(action)) {
      next()
      return
    }
    const handler = wrap(async () => {
      const name = groupName((body as Record<string, unknown>)[action])
      const uuid = String(req.params['id'])
      const a = authOf(res)
      await d.locator.mapping({ projectId: a.projectId, isAdmin: a.isAdmin }, uuid)
      let groupId: string
      try {
        ;[groupId = ''] = await sg.store.resolve({ projectId: a.projectId, isAdmin: false }, [name])
      } catch (err) {
        if (err instanceof NeutronFault && err.status === 404) throw new NotFoundError(`Security group ${name} is not found for project ${a.projectId}`)
        throw toNovaError(err)
      }
      const ports = await sg.ports.portsOf(uuid)
      if (ports.length === 0) throw new NotFoundError(`instance_id ${uuid} could not be found as device id on any ports`)
      const current = await groupsOfPorts(sg.store.db, ports.map((p) => p.id))
      if (action === 'addSecurityGroup') {
        if (ports.some((p) => !p.portSecurityEnabled)) {
          throw new InvalidError('Network requires port_security_enabled and subnet associated in order to apply security groups.')
        }
        for (const p of ports) await setPortGroups(sg.store.db, p.id, [...(current.get(p.id) ?? []), groupId])
      } else {
        const having = ports.filter((p) => (current.get(p.id) ?? []).includes(groupId))
        if (having.length === 0) throw new InvalidError(`Security group ${groupId} not associated with the instance ${uuid}`)
        for (const p of having) await setPortGroups(sg.store.db, p.id, (current.get(p.id) ?? []).filter((g) => g !== groupId))
      }
      await sg.ports.groupsChanged?.(uuid)
      res.status(202).end()
    })
    handler(req, res, next)
  })
}

/** `{"name": "..."}` of an action body, as Nova's `_parse` checks it. */
function groupName(v: unknown): string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidError('Missing parameter dict')
  const name = (v as Record<string, unknown>)['name']
  if (name === undefined) throw new InvalidError('Security group not specified')
  if (typeof name !== 'string' || name.trim() === '') throw new InvalidError('Security group name cannot be empty')
  return name
}
