import type { Request, Response, Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { Grant } from '../identity-store.js'
import { authorize } from '../policy.js'
import { createRoleSchema, parseBody } from '../request-schemas.js'
import type { AssignmentTarget } from '../schema.js'
import { listLinks, renderAssignment, renderRole } from '../views.js'
import type { AssignmentNames } from '../views.js'
import { ctxOf, found, param, queryParam, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** Roles, grants on projects and domains, and `GET /v3/role_assignments`. */
export function registerRoleRoutes(router: Router, deps: RouteDeps): void {
  router.get('/v3/roles', async (req, res) => {
    authorize(subjectOf(res), 'identity:list_roles')
    const roles = await deps.store.listRoles(ctxOf(res), { name: queryParam(req, 'name') })
    res.json({ roles: roles.map((r) => renderRole(deps.base, r)), links: listLinks(deps.base, '/roles') })
  })

  router.get('/v3/roles/:id', async (req, res) => {
    authorize(subjectOf(res), 'identity:get_role')
    const id = param(req, 'id')
    res.json({ role: renderRole(deps.base, found(await deps.store.getRole(ctxOf(res), id), 'role', id)) })
  })

  router.post('/v3/roles', async (req, res) => {
    authorize(subjectOf(res), 'identity:create_role')
    const { role } = parseBody(createRoleSchema, req.body)
    const row = await deps.store.createRole(ctxOf(res), { name: role.name, description: role.description ?? undefined })
    res.status(201).json({ role: renderRole(deps.base, row) })
  })

  router.delete('/v3/roles/:id', async (req, res) => {
    authorize(subjectOf(res), 'identity:delete_role')
    const id = param(req, 'id')
    if (!(await deps.store.deleteRole(ctxOf(res), id))) throw new NotFoundError(`Could not find role: ${id}.`)
    res.status(204).end()
  })

  for (const target of ['project', 'domain'] as const) registerGrantRoutes(router, deps, target)

  router.get('/v3/role_assignments', async (req, res) => {
    authorize(subjectOf(res), 'identity:list_role_assignments')
    const ctx = ctxOf(res)
    const projectId = queryParam(req, 'scope.project.id')
    const domainId = queryParam(req, 'scope.domain.id')
    const system = queryParam(req, 'scope.system')
    const [targetType, targetId]: [AssignmentTarget | undefined, string | undefined] =
      projectId !== undefined
        ? ['project', projectId]
        : domainId !== undefined
          ? ['domain', domainId]
          : system !== undefined
            ? ['system', 'all']
            : [undefined, undefined]
    const rows = await deps.store.listAssignments(ctx, {
      userId: queryParam(req, 'user.id'),
      roleId: queryParam(req, 'role.id'),
      targetType,
      targetId,
    })
    const names = req.query.include_names !== undefined && queryParam(req, 'include_names') !== 'false'
    const lookup = names ? await nameLookup(deps, res) : undefined
    const assignments = rows.map((a) => {
      const n: AssignmentNames | undefined = lookup && {
        user: lookup.users.get(a.user_id),
        role: lookup.roles.get(a.role_id),
        target: a.target_type === 'project' ? lookup.projects.get(a.target_id) : lookup.domains.get(a.target_id),
      }
      return renderAssignment(deps.base, a, n)
    })
    res.json({ role_assignments: assignments, links: listLinks(deps.base, '/role_assignments') })
  })
}

/** `PUT|HEAD|GET|DELETE /v3/{projects|domains}/{t}/users/{u}/roles/{r}` and the grant list. */
function registerGrantRoutes(router: Router, deps: RouteDeps, target: AssignmentTarget): void {
  const prefix = `/v3/${target}s/:targetId/users/:userId/roles`

  router.get(prefix, async (req, res) => {
    authorize(subjectOf(res), 'identity:check_grant')
    const grant = await resolveGrant(deps, req, res, target, false)
    const roles = await deps.store.rolesOn(ctxOf(res), grant.userId, target, grant.targetId)
    res.json({ roles: roles.map((r) => renderRole(deps.base, r)), links: listLinks(deps.base, req.path.slice(3)) })
  })

  router.put(`${prefix}/:roleId`, async (req, res) => {
    authorize(subjectOf(res), 'identity:create_grant')
    await deps.store.grant(ctxOf(res), await resolveGrant(deps, req, res, target, true))
    res.status(204).end()
  })

  // GET also answers HEAD: 204 when the grant exists (Keystone's "check grant").
  router.get(`${prefix}/:roleId`, async (req, res) => {
    authorize(subjectOf(res), 'identity:check_grant')
    const grant = await resolveGrant(deps, req, res, target, true)
    const exists = await deps.store.listAssignments(ctxOf(res), grant)
    if (exists.length === 0) throw new NotFoundError(`Could not find role assignment.`)
    res.status(204).end()
  })

  router.delete(`${prefix}/:roleId`, async (req, res) => {
    authorize(subjectOf(res), 'identity:revoke_grant')
    const ctx = ctxOf(res)
    const grant = await resolveGrant(deps, req, res, target, true)
    // Tokens carry their roles: the store revokes the user's tokens with the grant, whatever the target.
    if (!(await deps.store.revokeGrant(ctx, grant))) throw new NotFoundError('Could not find role assignment.')
    res.status(204).end()
  })
}

/** Checks that the target, the user and (with `withRole`) the role exist: Keystone's 404s. */
async function resolveGrant(deps: RouteDeps, req: Request, res: Response, target: AssignmentTarget, withRole: boolean): Promise<Grant> {
  const ctx = ctxOf(res)
  const targetId = param(req, 'targetId')
  const userId = param(req, 'userId')
  if (target === 'project') found(await deps.store.getProject(ctx, targetId), 'project', targetId)
  else if (target === 'domain') found(await deps.store.getDomain(ctx, targetId), 'domain', targetId)
  else throw new InvalidError(`unsupported grant target ${target}`)
  found(await deps.store.getUser(ctx, userId), 'user', userId)
  const roleId = withRole ? param(req, 'roleId') : ''
  if (withRole) found(await deps.store.getRole(ctx, roleId), 'role', roleId)
  return { userId, targetType: target, targetId, roleId }
}

type NameIndex = Record<'users' | 'roles' | 'projects' | 'domains', Map<string, string>>

async function nameLookup(deps: RouteDeps, res: Response): Promise<NameIndex> {
  const ctx = ctxOf(res)
  const [users, roles, projects, domains] = await Promise.all([
    deps.store.listUsers(ctx),
    deps.store.listRoles(ctx),
    deps.store.listProjects(ctx),
    deps.store.listDomains(ctx),
  ])
  const index = (rows: readonly { id: string; name: string }[]): Map<string, string> => new Map(rows.map((r) => [r.id, r.name]))
  return { users: index(users), roles: index(roles), projects: index(projects), domains: index(domains) }
}
