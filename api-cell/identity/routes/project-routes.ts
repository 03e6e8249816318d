import type { Router } from 'express'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import { authorize } from '../policy.js'
import { createProjectSchema, parseBody, updateProjectSchema } from '../request-schemas.js'
import { listLinks, renderProject } from '../views.js'
import { boolParam, callerOf, ctxOf, extraAttributes, found, param, queryParam, subjectOf } from './route-kit.js'
import type { RouteDeps } from './route-kit.js'

/** Attributes that are columns or computed: the rest of a project body is kept as "extra". */
const PROJECT_CORE = ['id', 'name', 'domain_id', 'description', 'enabled', 'is_domain', 'parent_id', 'options', 'links'] as const

/** Projects: list, show, create, update, delete, and a user's projects. */
export function registerProjectRoutes(router: Router, deps: RouteDeps): void {
  router.get('/v3/projects', async (req, res) => {
    authorize(subjectOf(res), 'identity:list_projects')
    const projects = await deps.store.listProjects(ctxOf(res), {
      name: queryParam(req, 'name'),
      domainId: queryParam(req, 'domain_id'),
      enabled: boolParam(req, 'enabled'),
    })
    res.json({ projects: projects.map((p) => renderProject(deps.base, p)), links: listLinks(deps.base, '/projects') })
  })

  router.get('/v3/projects/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:get_project', { projectId: id })
    const project = found(await deps.store.getProject(ctxOf(res), id), 'project', id)
    res.json({ project: renderProject(deps.base, project) })
  })

  router.post('/v3/projects', async (req, res) => {
    authorize(subjectOf(res), 'identity:create_project')
    const { project: body } = parseBody(createProjectSchema, req.body)
    const ctx = ctxOf(res)
    const caller = callerOf(res)
    const domainId = body.domain_id ?? (caller.scope.kind === 'project' ? caller.scope.domainId : 'default')
    if ((await deps.store.getDomain(ctx, domainId)) === undefined) throw new NotFoundError(`Could not find domain: ${domainId}.`)
    if (body.parent_id !== undefined && body.parent_id !== null && body.parent_id !== domainId) {
      throw new InvalidError('Project hierarchies are not supported: parent_id must be the domain.')
    }
    const project = await deps.store.createProject(ctx, {
      name: body.name,
      domainId,
      description: body.description ?? '',
      enabled: body.enabled ?? true,
      extra: extraAttributes(body, PROJECT_CORE),
    })
    res.status(201).json({ project: renderProject(deps.base, project) })
  })

  router.patch('/v3/projects/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:update_project', { projectId: id })
    const { project: body } = parseBody(updateProjectSchema, req.body)
    const ctx = ctxOf(res)
    const current = found(await deps.store.getProject(ctx, id), 'project', id)
    if (body.domain_id !== undefined && body.domain_id !== current.domain_id) {
      throw new InvalidError('Cannot change the domain of a project.')
    }
    const extra = { ...(JSON.parse(current.extra) as Record<string, unknown>), ...extraAttributes(body, PROJECT_CORE) }
    const updated = await deps.store.updateProject(ctx, id, {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.description === undefined ? {} : { description: body.description ?? '' }),
      ...(body.enabled === undefined ? {} : { enabled: body.enabled ? 1 : 0 }),
      extra: JSON.stringify(extra),
    })
    res.json({ project: renderProject(deps.base, found(updated, 'project', id)) })
  })

  router.delete('/v3/projects/:id', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:delete_project', { projectId: id })
    const ctx = ctxOf(res)
    if (!(await deps.store.deleteProject(ctx, id))) throw new NotFoundError(`Could not find project: ${id}.`)
    res.status(204).end()
  })

  router.get('/v3/users/:id/projects', async (req, res) => {
    const id = param(req, 'id')
    authorize(subjectOf(res), 'identity:list_user_projects', { userId: id })
    const ctx = ctxOf(res)
    found(await deps.store.getUser(ctx, id), 'user', id)
    const projects = await deps.store.projectsOfUser(ctx, id)
    res.json({
      projects: projects.map((p) => renderProject(deps.base, p)),
      links: listLinks(deps.base, `/users/${id}/projects`),
    })
  })
}
