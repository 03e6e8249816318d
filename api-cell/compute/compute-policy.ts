import type { Response } from 'express'
import type { Kysely } from 'kysely'
import { ForbiddenError, InvalidError } from '../../shared/errors.js'
import type { ProjectTable } from '../identity/schema.js'
import { authOf } from '../identity/auth.js'

/**
 * Nova's policy-in-code defaults for the API-cell-only resources, reduced to what our three roles
 * can express: `admin` (Nova's ADMIN) and "the caller's own project/user" (Nova's PROJECT_MEMBER /
 * owner rules). A refusal is Nova's 403 body naming the rule, so a client sees the same message.
 */
export function policyError(rule: string): ForbiddenError {
  return new ForbiddenError(`Policy doesn't allow ${rule} to be performed.`)
}

/** 403 unless the caller holds the admin role. */
export function requireAdmin(res: Response, rule: string): void {
  if (!authOf(res).isAdmin) throw policyError(rule)
}

/** 403 unless the caller is an admin or acts on its own project. */
export function requireAdminOrProject(res: Response, rule: string, projectId: string): void {
  const a = authOf(res)
  if (!a.isAdmin && a.projectId !== projectId) throw policyError(rule)
}

/** 403 unless the caller is an admin or acts as itself (Nova's keypair owner rule). */
export function requireAdminOrUser(res: Response, rule: string, userId: string): void {
  const a = authOf(res)
  if (!a.isAdmin && a.userId !== userId) throw policyError(rule)
}

/**
 * Nova's `verify_project_id`: a project id that identity does not know is a 400. The compute API
 * shares the API database with identity, so this reads the projects table directly instead of
 * calling Keystone over HTTP as Nova does.
 */
export async function verifyProjectId(db: Kysely<any>, projectId: string): Promise<void> {
  const row = await (db as Kysely<{ projects: ProjectTable }>).selectFrom('projects').select('id').where('id', '=', projectId).executeTakeFirst()
  if (row === undefined) throw new InvalidError(`Project ID ${projectId} is not a valid project.`)
}
