import express from 'express'
import type { Request, RequestHandler, Response, Router } from 'express'
import { bodyDepthGuard } from '../../../shared/http/request-guards.js'
import { authOf } from '../../identity/auth.js'
import type { ErrorLogger } from '../../identity/http-errors.js'
import { badRequest } from './neutron-faults.js'
import { neutronErrorHandler } from './neutron-faults.js'
import { fieldsOf, paginate, projectFilter, queryValue, queryValues, resourceBody } from './query.js'
import { createRule, deleteRule, getRule, listRules } from './rule-store.js'
import { ownerOf, validateRule } from './rule-validation.js'
import type { NetworkCaller, SecurityGroupStore } from './security-group-store.js'
import { groupText } from './security-group-store.js'
import { renderGroup, renderRule, selectFields } from './views.js'

/** What {@link securityGroupRouter} needs. */
export interface SecurityGroupRouterDeps {
  readonly store: SecurityGroupStore
  /**
   * Authentication (usually `authMiddleware(tokens)`); leave it out when the listener
   * authenticates before this router. Routes read the caller from `res.locals.auth`.
   */
  readonly auth?: RequestHandler
  /** Unexpected (5xx) errors are reported here. */
  readonly logger?: ErrorLogger
}

const GROUP_CREATE_KEYS = new Set(['name', 'description', 'project_id', 'tenant_id', 'stateful'])
const GROUP_UPDATE_KEYS = new Set(['name', 'description'])

/**
 * Neutron's `/v2.0/security-groups` and `/v2.0/security-group-rules`, to be mounted at the root of
 * the network listener (port 9696). Errors render as `{"NeutronError": {...}}`; paths it does
 * not serve fall through to the next router.
 *
 * @example
 *   app.use(securityGroupRouter({ store: new SecurityGroupStore({ db }), auth: authMiddleware(tokens) }))
 */
export function securityGroupRouter(deps: SecurityGroupRouterDeps): Router {
  const { store } = deps
  const router = express.Router()
  const json = [express.json({ limit: '1mb', type: () => true }), bodyDepthGuard()]
  const paths = ['/v2.0/security-groups', '/v2.0/security-group-rules']
  if (deps.auth !== undefined) router.use(paths, deps.auth)

  router.get('/v2.0/security-groups', async (req, res) => {
    const groups = await store.list(callerOf(res), {
      ...optional('projectId', projectFilter(req)),
      ...optional('ids', queryValues(req, 'id')),
      ...optional('names', queryValues(req, 'name')),
      ...optional('description', queryValue(req, 'description')),
    })
    const { page, links } = paginate(req, 'security-groups', groups.map((g) => ({ id: g.group.id, g })))
    res.json({ security_groups: page.map(({ g }) => selectFields(renderGroup(g), fieldsOf(req))), ...optional('security_groups_links', links) })
  })

  router.post('/v2.0/security-groups', ...json, async (req, res) => {
    const b = resourceBody(req.body, 'security_group')
    onlyKeys(b, GROUP_CREATE_KEYS)
    if (b['stateful'] !== undefined && b['stateful'] !== true) throw badRequest('Stateless security groups are not supported by this cloud.')
    const caller = callerOf(res)
    const projectId = bodyProject(b, caller)
    const group = await store.create(caller, {
      name: b['name'] === undefined ? '' : groupText('name', b['name']),
      description: b['description'] === undefined ? '' : groupText('description', b['description']),
      ...optional('projectId', projectId),
    })
    res.status(201).json({ security_group: renderGroup(group) })
  })

  router.get('/v2.0/security-groups/:id', async (req, res) => {
    res.json({ security_group: selectFields(renderGroup(await store.get(callerOf(res), param(req))), fieldsOf(req)) })
  })

  router.put('/v2.0/security-groups/:id', ...json, async (req, res) => {
    const b = resourceBody(req.body, 'security_group')
    onlyKeys(b, GROUP_UPDATE_KEYS)
    const group = await store.update(callerOf(res), param(req), {
      ...optional('name', b['name'] === undefined ? undefined : groupText('name', b['name'])),
      ...optional('description', b['description'] === undefined ? undefined : groupText('description', b['description'])),
    })
    res.json({ security_group: renderGroup(group) })
  })

  router.delete('/v2.0/security-groups/:id', async (req, res) => {
    await store.delete(callerOf(res), param(req))
    res.status(204).end()
  })

  router.get('/v2.0/security-group-rules', async (req, res) => {
    const rules = await listRules(store, callerOf(res), {
      ...optional('projectId', projectFilter(req)),
      ...optional('ids', queryValues(req, 'id')),
      ...optional('securityGroupIds', queryValues(req, 'security_group_id')),
      ...optional('directions', queryValues(req, 'direction')),
      ...optional('ethertypes', queryValues(req, 'ethertype')),
      ...optional('protocols', queryValues(req, 'protocol')),
      ...optional('remoteGroupIds', queryValues(req, 'remote_group_id')),
    })
    const { page, links } = paginate(req, 'security-group-rules', rules)
    res.json({ security_group_rules: page.map((r) => selectFields(renderRule(r), fieldsOf(req))), ...optional('security_group_rules_links', links) })
  })

  router.post('/v2.0/security-group-rules', ...json, async (req, res) => {
    const b = resourceBody(req.body, 'security_group_rule')
    const rule = validateRule(b)
    bodyProject(b, callerOf(res))
    res.status(201).json({ security_group_rule: renderRule(await createRule(store, callerOf(res), rule)) })
  })

  router.get('/v2.0/security-group-rules/:id', async (req, res) => {
    res.json({ security_group_rule: selectFields(renderRule(await getRule(store, callerOf(res), param(req))), fieldsOf(req)) })
  })

  router.delete('/v2.0/security-group-rules/:id', async (req, res) => {
    await deleteRule(store, callerOf(res), param(req))
    res.status(204).end()
  })

  router.use(paths, neutronErrorHandler(deps.logger === undefined ? {} : { logger: deps.logger }))
  return router
}

/** The caller as the stores see it. */
export function callerOf(res: Response): NetworkCaller {
  const a = authOf(res)
  return { projectId: a.projectId, isAdmin: a.isAdmin }
}

/**
 * The project a body names: admins may name any, others only their own (Neutron's 400 otherwise).
 * Undefined when the body names none.
 */
export function bodyProject(b: Record<string, unknown>, caller: NetworkCaller): string | undefined {
  const projectId = ownerOf(b)
  if (projectId !== undefined && projectId !== caller.projectId && !caller.isAdmin) {
    throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
  }
  return projectId
}

/** 400 `Unrecognized attribute(s)` for keys a body may not have. */
export function onlyKeys(b: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  const extra = Object.keys(b).filter((k) => !allowed.has(k))
  if (extra.length > 0) throw badRequest(`Unrecognized attribute(s) '${extra.join(', ')}'`)
}

/** `{ [key]: value }` when the value is defined, else `{}` (for exactOptionalPropertyTypes-safe spreads). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function param(req: Request): string {
  return String(req.params['id'])
}
