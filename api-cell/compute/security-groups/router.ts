import type { NextFunction, Request, Response } from 'express'
import { Router } from 'express'
import { ForbiddenError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import { createRule, deleteRule } from '../../network/security-groups/rule-store.js'
import { validateRule } from '../../network/security-groups/rule-validation.js'
import { parsePrefix } from '../../network/security-groups/ip-prefix.js'
import { NeutronFault } from '../../network/security-groups/neutron-faults.js'
import type { NetworkCaller } from '../../network/security-groups/security-group-store.js'
import { authOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { intQuery, queryParam } from '../parameter-types.js'
import type { NovaSecurityGroups } from './instance-ports.js'
import { novaGroup, novaRule, remoteGroupNames, sortedGroups, toNovaError } from './nova-views.js'
import { serverSecurityGroupRoutes } from './server-routes.js'

/** Nova's `[api] max_limit`. */
const MAX_LIMIT = 1000

/** Nova's `strutils.bool_from_string` for `all_tenants` (a bare `?all_tenants` counts as true). */
function isTruthy(v: string | undefined): boolean {
  return v !== undefined && !['0', 'false', 'f', 'no', 'n', 'off'].includes(v.trim().toLowerCase())
}

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/**
 * Nova's security group proxies over the network service: `/os-security-groups` and
 * `/os-security-group-rules` up to 2.35 (404 from 2.36, as Nova), and the server's
 * `/servers/{id}/os-security-groups` and `addSecurityGroup`/`removeSecurityGroup` actions at every
 * version (see server-routes.ts). Without `securityGroups` in the deps it serves nothing.
 */
export function securityGroupsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  const sg = d.securityGroups
  if (sg === undefined) return r
  const proxies = ['/os-security-groups', '/os-security-group-rules']
  r.use(proxies, (_req: Request, res: Response, next: NextFunction) => {
    next(atLeast(microversionOf(res), '2.36') ? new NotFoundError('The resource could not be found.') : undefined)
  })
  const caller = (res: Response): NetworkCaller => ({ projectId: authOf(res).projectId, isAdmin: authOf(res).isAdmin })
  const nova = (what: 'group' | 'rule', fn: (req: Request, res: Response) => Promise<void>) =>
    wrap(async (req, res) => {
      try {
        await fn(req, res)
      } catch (err) {
        throw toNovaError(err, what)
      }
    })
  const show = async (ids: readonly string[]) => {
    const groups = await Promise.all(ids.map((id) => sg.store.get({ projectId: '', isAdmin: true }, id)))
    const names = await remoteGroupNames(sg.store.db, groups.flatMap((g) => g.rules))
    return groups.map((g) => novaGroup(g, names))
  }

  r.get(
    '/os-security-groups',
    nova('group', async (req, res) => {
      // Nova's `common.limited`: `offset`, then at most `limit` (and never more than 1000).
      const limit = intQuery('limit', req.query['limit'])
      const offset = intQuery('offset', req.query['offset']) ?? 0
      const all = authOf(res).isAdmin && isTruthy(queryParam(req.query['all_tenants']))
      const groups = await sg.store.list(caller(res), all ? {} : { projectId: authOf(res).projectId })
      const page = groups.slice(offset, offset + Math.min(limit ?? MAX_LIMIT, MAX_LIMIT))
      const names = await remoteGroupNames(sg.store.db, page.flatMap((g) => g.rules))
      res.json({ security_groups: sortedGroups(page.map((g) => novaGroup(g, names))) })
    }),
  )
  r.post(
    '/os-security-groups',
    nova('group', async (req, res) => {
      const body = groupBody(req.body)
      try {
        const g = await sg.store.create(caller(res), body)
        res.json({ security_group: (await show([g.group.id]))[0] })
      } catch (err) {
        // Nova's neutron driver reads any 409 of a create as over quota.
        if (err instanceof NeutronFault && err.status === 409 && err.type !== 'OverQuota') throw new ForbiddenError(err.message)
        throw err
      }
    }),
  )
  r.get(
    '/os-security-groups/:id',
    nova('group', async (req, res) => {
      const g = await sg.store.row(caller(res), String(req.params['id']))
      res.json({ security_group: (await show([g.id]))[0] })
    }),
  )
  r.put(
    '/os-security-groups/:id',
    nova('group', async (req, res) => {
      const id = String(req.params['id'])
      await sg.store.row(caller(res), id)
      const g = await sg.store.update(caller(res), id, groupBody(req.body))
      res.json({ security_group: (await show([g.group.id]))[0] })
    }),
  )
  r.delete(
    '/os-security-groups/:id',
    nova('group', async (req, res) => {
      await sg.store.delete(caller(res), String(req.params['id']))
      res.status(202).end()
    }),
  )
  r.post(
    '/os-security-group-rules',
    nova('rule', async (req, res) => {
      const rule = await createRule(sg.store, caller(res), validateRule(await neutronRuleOf(sg, caller(res), req.body)))
      const names = await remoteGroupNames(sg.store.db, [rule])
      res.json({ security_group_rule: novaRule(rule, names) })
    }),
  )
  r.delete(
    '/os-security-group-rules/:id',
    nova('rule', async (req, res) => {
      await deleteRule(sg.store, caller(res), String(req.params['id']))
      res.status(202).end()
    }),
  )
  serverSecurityGroupRoutes(r, d, sg, wrap)
  return r
}

/** `security_group.name` and `.description` as Nova's `validate_property` checks them. */
function groupBody(body: unknown): { name: string; description: string } {
  const g = fromBody(body, 'security_group')
  return { name: property(g['name'], 'name'), description: property(g['description'], 'description') }
}

function fromBody(body: unknown, key: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length === 0) throw new InvalidError("The request body can't be empty")
  const v = (body as Record<string, unknown>)[key]
  if (v === undefined || v === null) throw new InvalidError(`Missing parameter ${key}`)
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidError(`Invalid input for field/attribute ${key}.`)
  return v as Record<string, unknown>
}

function property(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new InvalidError(`Security group ${name} is not a string or unicode`)
  const trimmed = v.trim()
  if (trimmed.length < 1) throw new InvalidError(`Invalid input received: ${name} has a minimum character requirement of 1.`)
  if (trimmed.length > 255) throw new InvalidError(`Invalid input received: ${name} has more than 255 characters.`)
  return v
}

/**
 * A Nova rule body (`parent_group_id`, `ip_protocol`, `from_port`, `to_port`, `cidr` or
 * `group_id`) as the Neutron rule Nova's neutron driver makes of it: always ingress, ethertype
 * from the CIDR, -1 ports dropped. Only tcp, udp and icmp, with Nova's port checks.
 */
async function neutronRuleOf(sg: NovaSecurityGroups, caller: NetworkCaller, body: unknown): Promise<Record<string, unknown>> {
  const b = fromBody(body, 'security_group_rule')
  const parent = b['parent_group_id']
  const group = await sg.store.row(caller, parent === undefined || parent === null ? '' : String(parent))
  const groupId = b['group_id'] === undefined || b['group_id'] === null ? undefined : String(b['group_id'])
  if (groupId !== undefined) await sg.store.row(caller, groupId)
  let cidr: string | undefined
  if (groupId === undefined) {
    const raw = b['cidr']
    cidr = raw === undefined || raw === null || raw === '' ? '0.0.0.0/0' : String(raw)
    const prefix = cidr.includes('/') ? parsePrefix(cidr) : undefined
    if (prefix === undefined) throw new InvalidError(`${cidr} is not a valid IP network.`)
    const [net, len] = cidr.split('/')
    if (len === '0' && net !== '0.0.0.0' && net !== '::') throw new InvalidError(`Bad prefix for network in cidr ${cidr}`)
  }
  const protocol = b['ip_protocol'] === undefined || b['ip_protocol'] === null || b['ip_protocol'] === '' ? undefined : String(b['ip_protocol'])
  let from = b['from_port'] ?? undefined
  let to = b['to_port'] ?? undefined
  const upper = protocol?.toUpperCase() ?? ''
  if (groupId !== undefined && from === undefined && to === undefined) {
    if (upper === 'ICMP') [from, to] = [-1, -1]
    else if (upper === 'TCP' || upper === 'UDP') [from, to] = [1, 65535]
  }
  const out: Record<string, unknown> = { security_group_id: group.id, direction: 'ingress', ethertype: cidr?.includes(':') === true ? 'IPv6' : 'IPv4' }
  if (protocol !== undefined && from !== undefined && to !== undefined) {
    const f = Number(from)
    const t = Number(to)
    if (!Number.isInteger(f) || !Number.isInteger(t) || String(from).trim() === '' || String(to).trim() === '') {
      throw new InvalidError(`Invalid input received: ${upper === 'ICMP' ? 'Type and Code must be integers for ICMP protocol type' : 'To and From ports must be integers'}`)
    }
    if (!['TCP', 'UDP', 'ICMP'].includes(upper)) throw new InvalidError(`Invalid IP protocol ${protocol}.`)
    if (upper !== 'ICMP' && f > t) throw new InvalidError(`Invalid port range ${f}:${t}. Former value cannot be greater than the later`)
    if (upper !== 'ICMP' && (f < 1 || t > 65535)) throw new InvalidError(`Invalid port range ${f}:${t}. Valid ${upper} ports should be between 1-65535`)
    if (upper === 'ICMP' && (f < -1 || f > 255 || t < -1 || t > 255)) throw new InvalidError(`Invalid port range ${f}:${t}. For ICMP, the type:code must be valid`)
    out['protocol'] = protocol.toLowerCase()
    if (f !== -1) out['port_range_min'] = f
    if (t !== -1) out['port_range_max'] = t
  } else if (groupId === undefined) {
    throw new InvalidError('Not enough parameters to build a valid rule.')
  } else if (protocol !== undefined) {
    out['protocol'] = protocol.toLowerCase()
  }
  if (groupId !== undefined) out['remote_group_id'] = groupId
  else out['remote_ip_prefix'] = cidr
  return out
}
