import type { Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { authorize } from '../policy.js'
import { createUserSchema, parseBody, updateUserSchema } from '../request-schemas.js'
import { listLinks, renderUser } from '../views.js'
import { boolParam, callerOf, ctxOf, extraAttributes, found, param, queryParam, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** Attributes that are columns or computed: the rest of a user body is kept as "extra". */
const USER_CORE = [
  'id',
  'name',
  'domain_id',
  'password',
  'enabled',
  'default_project_id',
  'description',
  'password_expires_at',
  'options',
  'links',
] as const

/** Users: list, show, create, update (enable/disable, password), delete. */
export function registerUserRoutes(router: Router, deps: RouteDeps): void {
  router.get('/v3/users', async (req, res) => {
    authorize(subjectOf(res), 'identity:list_users')
    const users = await deps.store.listUsers(ctxOf(res), {
      name: queryParam(req, 'name'),
      domainId: queryParam(req, 'domain_id'),
      enabled: boolParam(req, 'enabled'),
    })
    res.json({ users: users.map((u) => renderUser(deps.base, u)), links: listLinks(deps.base, '/users') })
  })

  router.get('/v3/users/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:get_user', { userId: id })
    const user = found(await deps.store.getUser(ctxOf(res), id), 'user', id)
    res.json({ user: renderUser(deps.base, user) })
  })

  router.post('/v3/users', async (req, res) => {
    authorize(subjectOf(res), 'identity:create_user')
    const { user: body } = parseBody(createUserSchema, req.body)
    const ctx = ctxOf(res)
    const caller = callerOf(res)
    const domainId = body.domain_id ?? (caller.scope.kind === 'project' ? caller.scope.domainId : 'default')
    if ((await deps.store.getDomain(ctx, domainId)) === undefined) throw new NotFoundError(`Could not find domain: ${domainId}.`)
    if (body.default_project_id != null && (await deps.store.getProject(ctx, body.default_project_id)) === undefined) {
      throw new InvalidError(`Could not find project ${body.default_project_id} for default_project_id.`)
    }
    const user = await deps.store.createUser(ctx, {
      name: body.name,
      domainId,
      password: body.password ?? undefined,
      enabled: body.enabled ?? true,
      defaultProjectId: body.default_project_id ?? undefined,
      description: body.description ?? undefined,
      extra: extraAttributes(body, USER_CORE),
    })
    res.status(201).json({ user: renderUser(deps.base, user) })
  })

  router.patch('/v3/users/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:update_user', { userId: id })
    const { user: body } = parseBody(updateUserSchema, req.body)
    const ctx = ctxOf(res)
    const current = found(await deps.store.getUser(ctx, id), 'user', id)
    if (body.domain_id !== undefined && body.domain_id !== current.domain_id) {
      throw new InvalidError('Cannot change the domain of a user.')
    }
    const extra = { ...(JSON.parse(current.extra) as Record<string, unknown>), ...extraAttributes(body, USER_CORE) }
    const updated = await deps.store.updateUser(ctx, id, {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.enabled === undefined ? {} : { enabled: body.enabled ? 1 : 0 }),
      ...(body.default_project_id === undefined ? {} : { default_project_id: body.default_project_id }),
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.password === undefined ? {} : { password: body.password }),
      extra: JSON.stringify(extra),
    })
    // A disabled user, or one whose password changed, keeps no live token: the store revokes them.
    res.json({ user: renderUser(deps.base, found(updated, 'user', id)) })
  })

  router.delete('/v3/users/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:delete_user', { userId: id })
    const ctx = ctxOf(res)
    if (!(await deps.store.deleteUser(ctx, id))) throw new NotFoundError(`Could not find user: ${id}.`)
    res.status(204).end()
  })
}
