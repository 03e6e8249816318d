import type { Session } from './os-client.js'
import { call, login } from './os-client.js'

/** A project with one user, created through the Keystone API as Tempest's dynamic credentials do. */
export interface ProjectUser {
  readonly projectId: string
  readonly userId: string
  readonly session: Session
}

/**
 * Creates project `name` and user `name` (password `pw-<name>`) with the `member` role on it
 * (POST /v3/projects, POST /v3/users, PUT role assignment), then logs the user in.
 */
export async function createProjectUser(identityUrl: string, admin: Session, name: string, role = 'member'): Promise<ProjectUser> {
  const v3 = `${identityUrl}/v3`
  const project = await call(admin, 'POST', `${v3}/projects`, { project: { name, domain_id: 'default' } })
  if (project.status !== 201) throw new Error(`project ${name}: ${project.status} ${JSON.stringify(project.body)}`)
  const projectId = project.body.project.id as string
  const user = await call(admin, 'POST', `${v3}/users`, { user: { name, password: `pw-${name}`, domain_id: 'default', default_project_id: projectId } })
  if (user.status !== 201) throw new Error(`user ${name}: ${user.status} ${JSON.stringify(user.body)}`)
  const userId = user.body.user.id as string
  const roles = await call(admin, 'GET', `${v3}/roles?name=${role}`)
  const roleId = roles.body.roles[0].id as string
  const grant = await call(admin, 'PUT', `${v3}/projects/${projectId}/users/${userId}/roles/${roleId}`)
  if (grant.status !== 204) throw new Error(`grant ${name}: ${grant.status}`)
  return { projectId, userId, session: await login(identityUrl, name, `pw-${name}`, name) }
}

/** Headers asking for compute microversion `v`. */
export function mv(v: string): Record<string, string> {
  return { 'OpenStack-API-Version': `compute ${v}` }
}
