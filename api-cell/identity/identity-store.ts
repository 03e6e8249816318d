import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { isDuplicateKey, now } from '../../shared/db/database.js'
import type { RequestContext } from '../../shared/context.js'
import { ConflictError } from '../../shared/errors.js'
import { hashPassword } from './password-hasher.js'
import type { ScryptCost } from './password-hasher.js'
import type { TokenRevoker } from './revocation-store.js'
import type {
  AssignmentTarget,
  DomainTable,
  IdentityTables,
  ProjectTable,
  RoleAssignmentTable,
  RoleTable,
  UserTable,
} from './schema.js'

/** A domain row. */
export type DomainRow = DomainTable
/** A project row. */
export type ProjectRow = ProjectTable
/** A user row (with its password hash: never render it). */
export type UserRow = UserTable
/** A role row. */
export type RoleRow = RoleTable
/** A role assignment row. */
export type AssignmentRow = RoleAssignmentTable

/** Attributes of a new project. */
export interface NewProject {
  readonly id?: string
  readonly name: string
  readonly domainId: string
  readonly description?: string
  readonly enabled?: boolean
  readonly extra?: Readonly<Record<string, unknown>>
}

/** Attributes of a new user. */
export interface NewUser {
  readonly id?: string
  readonly name: string
  readonly domainId: string
  readonly password?: string | undefined
  readonly enabled?: boolean
  readonly defaultProjectId?: string | undefined
  readonly description?: string | undefined
  readonly extra?: Readonly<Record<string, unknown>>
}

/** One role assignment's coordinates. */
export interface Grant {
  readonly userId: string
  readonly targetType: AssignmentTarget
  readonly targetId: string
  readonly roleId: string
}

/** How an {@link IdentityStore} is built. */
export interface IdentityStoreOptions {
  /**
   * Told after every committed change that takes something away from live tokens: a grant removed,
   * a role deleted, a user disabled, deleted or given a new password, a project disabled or deleted.
   * Required, so that no caller can write identity data without revoking (Keystone revokes on the
   * same changes).
   */
  readonly revoker: TokenRevoker
  /** Overrides the scrypt cost of new hashes (tests use a cheap one). */
  readonly passwordCost?: ScryptCost | undefined
}

/**
 * Reads and writes the identity tables. Thin on purpose: routes decide policy, this only speaks SQL,
 * and reports each privilege-reducing write to the {@link TokenRevoker}. Name uniqueness is enforced
 * by unique keys; a duplicate surfaces as {@link ConflictError}.
 */
export class IdentityStore {
  readonly #db: Kysely<IdentityTables>
  readonly #cost: ScryptCost | undefined
  readonly #revoker: TokenRevoker

  constructor(db: Kysely<IdentityTables>, options: IdentityStoreOptions) {
    this.#db = db
    this.#cost = options.passwordCost
    this.#revoker = options.revoker
  }

  // --- domains ---------------------------------------------------------------------------------

  /** The domain with this id. */
  getDomain(_ctx: RequestContext, id: string): Promise<DomainRow | undefined> {
    return this.#db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** The domain with this (unique) name. */
  findDomainByName(_ctx: RequestContext, name: string): Promise<DomainRow | undefined> {
    return this.#db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst()
  }

  /** Domains by name, optionally only the one named `name`. */
  listDomains(_ctx: RequestContext, filter: { readonly name?: string | undefined } = {}): Promise<DomainRow[]> {
    let q = this.#db.selectFrom('domains').selectAll().orderBy('name')
    if (filter.name !== undefined) q = q.where('name', '=', filter.name)
    return q.execute()
  }

  /** Creates a domain; returns false when the id already exists. */
  async ensureDomain(_ctx: RequestContext, row: Omit<DomainRow, 'created_at'>): Promise<boolean> {
    return this.#insertIgnoringDuplicate(() => this.#db.insertInto('domains').values({ ...row, created_at: now() }).execute())
  }

  // --- projects --------------------------------------------------------------------------------

  /** The project with this id. */
  getProject(_ctx: RequestContext, id: string): Promise<ProjectRow | undefined> {
    return this.#db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** The project named `name` in `domainId` (names are unique per domain). */
  findProjectByName(_ctx: RequestContext, domainId: string, name: string): Promise<ProjectRow | undefined> {
    return this.#db.selectFrom('projects').selectAll().where('domain_id', '=', domainId).where('name', '=', name).executeTakeFirst()
  }

  /** Projects ordered by name, filtered by exact name, domain and enabled flag. */
  listProjects(
    _ctx: RequestContext,
    filter: { readonly name?: string | undefined; readonly domainId?: string | undefined; readonly enabled?: boolean | undefined } = {},
  ): Promise<ProjectRow[]> {
    let q = this.#db.selectFrom('projects').selectAll().orderBy('name').orderBy('id')
    if (filter.name !== undefined) q = q.where('name', '=', filter.name)
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId)
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0)
    return q.execute()
  }

  /** Creates a project; a duplicate name in the domain is a {@link ConflictError}. */
  async createProject(_ctx: RequestContext, p: NewProject): Promise<ProjectRow> {
    const t = now()
    const row: ProjectRow = {
      id: p.id ?? newId(),
      name: p.name,
      domain_id: p.domainId,
      description: p.description ?? '',
      enabled: p.enabled === false ? 0 : 1,
      extra: JSON.stringify(p.extra ?? {}),
      created_at: t,
      updated_at: t,
    }
    await this.#insertOrConflict(`project - Duplicate entry found with name ${p.name} at domain ID ${p.domainId}`, () =>
      this.#db.insertInto('projects').values(row).execute(),
    )
    return row
  }

  /** Updates columns of a project and returns it (undefined when it does not exist). */
  async updateProject(
    ctx: RequestContext,
    id: string,
    patch: Partial<Pick<ProjectRow, 'name' | 'description' | 'enabled' | 'extra'>>,
  ): Promise<ProjectRow | undefined> {
    await this.#insertOrConflict(`project - Duplicate entry found with name ${patch.name ?? ''}`, () =>
      this.#db.updateTable('projects').set({ ...patch, updated_at: now() }).where('id', '=', id).execute(),
    )
    if (patch.enabled === 0) await this.#revoker.revokeProject(ctx, id)
    return this.getProject(ctx, id)
  }

  /** Deletes the project and every role assignment on it. Returns false when it did not exist. */
  async deleteProject(ctx: RequestContext, id: string): Promise<boolean> {
    const deleted = await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('role_assignments').where('target_type', '=', 'project').where('target_id', '=', id).execute()
      const r = await trx.deleteFrom('projects').where('id', '=', id).executeTakeFirst()
      return Number(r.numDeletedRows) > 0
    })
    if (deleted) await this.#revoker.revokeProject(ctx, id)
    return deleted
  }

  // --- users -----------------------------------------------------------------------------------

  /** The user with this id. */
  getUser(_ctx: RequestContext, id: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** The user named `name` in `domainId` (names are unique per domain). */
  findUserByName(_ctx: RequestContext, domainId: string, name: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('domain_id', '=', domainId).where('name', '=', name).executeTakeFirst()
  }

  /** Users ordered by name, filtered by exact name, domain and enabled flag. */
  listUsers(
    _ctx: RequestContext,
    filter: { readonly name?: string | undefined; readonly domainId?: string | undefined; readonly enabled?: boolean | undefined } = {},
  ): Promise<UserRow[]> {
    let q = this.#db.selectFrom('users').selectAll().orderBy('name').orderBy('id')
    if (filter.name !== undefined) q = q.where('name', '=', filter.name)
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId)
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0)
    return q.execute()
  }

  /** Creates a user, hashing its password; a duplicate name in the domain is a {@link ConflictError}. */
  async createUser(_ctx: RequestContext, u: NewUser): Promise<UserRow> {
    const t = now()
    const row: UserRow = {
      id: u.id ?? newId(),
      name: u.name,
      domain_id: u.domainId,
      password_hash: u.password === undefined ? null : await hashPassword(u.password, this.#cost),
      enabled: u.enabled === false ? 0 : 1,
      default_project_id: u.defaultProjectId ?? null,
      description: u.description ?? null,
      extra: JSON.stringify(u.extra ?? {}),
      created_at: t,
      updated_at: t,
    }
    await this.#insertOrConflict(`user - Duplicate entry found with name ${u.name} at domain ID ${u.domainId}`, () =>
      this.#db.insertInto('users').values(row).execute(),
    )
    return row
  }

  /** Updates a user; `password` (plain) is hashed here. Disabling it or setting a password revokes its tokens. */
  async updateUser(
    ctx: RequestContext,
    id: string,
    patch: Partial<Pick<UserRow, 'name' | 'enabled' | 'default_project_id' | 'description' | 'extra'>> & {
      readonly password?: string
    },
  ): Promise<UserRow | undefined> {
    const { password, ...rest } = patch
    const hash = password === undefined ? {} : { password_hash: await hashPassword(password, this.#cost) }
    const set = { ...rest, updated_at: now(), ...hash }
    await this.#insertOrConflict(`user - Duplicate entry found with name ${patch.name ?? ''}`, () =>
      this.#db.updateTable('users').set(set).where('id', '=', id).execute(),
    )
    if (patch.enabled === 0 || password !== undefined) await this.#revoker.revokeUser(ctx, id)
    return this.getUser(ctx, id)
  }

  /** Deletes the user and its role assignments. Returns false when it did not exist. */
  async deleteUser(ctx: RequestContext, id: string): Promise<boolean> {
    const deleted = await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('role_assignments').where('user_id', '=', id).execute()
      const r = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst()
      return Number(r.numDeletedRows) > 0
    })
    if (deleted) await this.#revoker.revokeUser(ctx, id)
    return deleted
  }

  // --- roles -----------------------------------------------------------------------------------

  /** The role with this id. */
  getRole(_ctx: RequestContext, id: string): Promise<RoleRow | undefined> {
    return this.#db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** Roles ordered by name, optionally only the one named `name`. */
  listRoles(_ctx: RequestContext, filter: { readonly name?: string | undefined } = {}): Promise<RoleRow[]> {
    let q = this.#db.selectFrom('roles').selectAll().orderBy('name')
    if (filter.name !== undefined) q = q.where('name', '=', filter.name)
    return q.execute()
  }

  /** Creates a role; a duplicate name is a {@link ConflictError}. */
  async createRole(
    _ctx: RequestContext,
    r: { readonly id?: string; readonly name: string; readonly description?: string | undefined },
  ): Promise<RoleRow> {
    const row: RoleRow = { id: r.id ?? newId(), name: r.name, description: r.description ?? null, created_at: now() }
    await this.#insertOrConflict(`role - Duplicate entry found with name ${r.name}`, () =>
      this.#db.insertInto('roles').values(row).execute(),
    )
    return row
  }

  /** Deletes the role and every assignment of it, revoking every token that carries it. False when it did not exist. */
  async deleteRole(ctx: RequestContext, id: string): Promise<boolean> {
    const deleted = await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('role_assignments').where('role_id', '=', id).execute()
      const r = await trx.deleteFrom('roles').where('id', '=', id).executeTakeFirst()
      return Number(r.numDeletedRows) > 0
    })
    if (deleted) await this.#revoker.revokeRole(ctx, id)
    return deleted
  }

  // --- assignments -----------------------------------------------------------------------------

  /** Grants a role. Idempotent. */
  async grant(_ctx: RequestContext, g: Grant): Promise<void> {
    const row = { user_id: g.userId, target_type: g.targetType, target_id: g.targetId, role_id: g.roleId, created_at: now() }
    await this.#insertIgnoringDuplicate(() => this.#db.insertInto('role_assignments').values(row).execute())
  }

  /**
   * Removes a grant (any target: project, domain, system) and revokes the user's tokens, which may
   * carry the role; returns false when there was none.
   */
  async revokeGrant(ctx: RequestContext, g: Grant): Promise<boolean> {
    const r = await this.#db
      .deleteFrom('role_assignments')
      .where('user_id', '=', g.userId)
      .where('target_type', '=', g.targetType)
      .where('target_id', '=', g.targetId)
      .where('role_id', '=', g.roleId)
      .executeTakeFirst()
    const deleted = Number(r.numDeletedRows) > 0
    if (deleted) await this.#revoker.revokeUser(ctx, g.userId)
    return deleted
  }

  /** Role assignments matching every given coordinate. */
  listAssignments(
    _ctx: RequestContext,
    f: {
      readonly userId?: string | undefined
      readonly targetType?: AssignmentTarget | undefined
      readonly targetId?: string | undefined
      readonly roleId?: string | undefined
    },
  ): Promise<AssignmentRow[]> {
    let q = this.#db.selectFrom('role_assignments').selectAll().orderBy('user_id').orderBy('target_id').orderBy('role_id')
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId)
    if (f.targetType !== undefined) q = q.where('target_type', '=', f.targetType)
    if (f.targetId !== undefined) q = q.where('target_id', '=', f.targetId)
    if (f.roleId !== undefined) q = q.where('role_id', '=', f.roleId)
    return q.execute()
  }

  /** Roles `userId` holds directly on the target. */
  rolesOn(_ctx: RequestContext, userId: string, targetType: AssignmentTarget, targetId: string): Promise<RoleRow[]> {
    return this.#db
      .selectFrom('role_assignments as a')
      .innerJoin('roles as r', 'r.id', 'a.role_id')
      .selectAll('r')
      .where('a.user_id', '=', userId)
      .where('a.target_type', '=', targetType)
      .where('a.target_id', '=', targetId)
      .orderBy('r.name')
      .execute()
  }

  /** Projects on which `userId` holds at least one role. */
  projectsOfUser(_ctx: RequestContext, userId: string): Promise<ProjectRow[]> {
    return this.#db
      .selectFrom('projects')
      .selectAll()
      .where('id', 'in', (eb) =>
        eb.selectFrom('role_assignments').select('target_id').where('user_id', '=', userId).where('target_type', '=', 'project'),
      )
      .orderBy('name')
      .execute()
  }

  async #insertOrConflict(what: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run()
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConflictError(`Conflict occurred attempting to store ${what}.`)
      throw err
    }
  }

  async #insertIgnoringDuplicate(run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run()
      return true
    } catch (err) {
      if (isDuplicateKey(err)) return false
      throw err
    }
  }
}

/** A new Keystone-style id: 32 hex digits. */
export function newId(): string {
  return randomUUID().replace(/-/g, '')
}
