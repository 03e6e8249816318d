import type { Kysely, Selectable } from 'kysely'
import type { SecurityGroupRulesTable, SecurityGroupsTable, SecurityGroupTables } from './schema.js'
import { DEFAULT_GROUP_NAME, baseRuleRow, defaultGroupId, ensureDefaultGroup } from './default-group.js'
import type { NetworkQuotaLimits } from './network-quotas.js'
import { DEFAULT_NETWORK_QUOTA_LIMITS, withNetworkQuotaLock } from './network-quotas.js'
import { badRequest, conflict, notFound, overQuota } from './neutron-faults.js'
import { isUuid } from '../../../shared/uuid.js'

/** Who asks: a project, and whether the caller holds `admin` (admins see every project). */
export interface NetworkCaller {
  readonly projectId: string
  readonly isAdmin: boolean
}

/** A group row. */
export type SecurityGroupRow = Selectable<SecurityGroupsTable>
/** A rule row. */
export type SecurityRuleRow = Selectable<SecurityGroupRulesTable>
/** A group with its rules, as the views render it. */
export interface SecurityGroupWithRules {
  readonly group: SecurityGroupRow
  readonly rules: readonly SecurityRuleRow[]
}

/** Filters of a group list (Neutron's query parameters). */
export interface GroupFilters {
  readonly projectId?: string
  readonly ids?: readonly string[]
  readonly names?: readonly string[]
  readonly description?: string
}

/**
 * Security groups in the API database: Neutron's semantics for the `default` group (created on a
 * project's first list or use; never renamed; deleted by admins only), quotas counted under a
 * per-project lock, and a group a port uses never deleted (a foreign key, not a check, so no race
 * lets it happen). Another project's group is a 404 to non-admins.
 */
export class SecurityGroupStore {
  readonly db: Kysely<SecurityGroupTables>
  readonly limits: NetworkQuotaLimits
  /**
   * Told, after the write, which groups' rules changed (a rule created or deleted): the port
   * service recomputes `rulesForPort` for the ports of those groups, and of groups whose rules
   * name them as remote group, and sends the new rules to their hosts. Its failure does not undo
   * the write; it is the caller's to retry.
   */
  readonly onRulesChanged: (groupIds: readonly string[]) => Promise<void>

  constructor(args: {
    readonly db: Kysely<SecurityGroupTables>
    readonly limits?: NetworkQuotaLimits
    readonly onRulesChanged?: (groupIds: readonly string[]) => Promise<void>
  }) {
    this.db = args.db
    this.limits = args.limits ?? DEFAULT_NETWORK_QUOTA_LIMITS
    this.onRulesChanged = args.onRulesChanged ?? (() => Promise.resolve())
  }

  /** See {@link ensureDefaultGroup}. */
  ensureDefault(projectId: string): Promise<string> {
    return ensureDefaultGroup(this.db, projectId)
  }

  /** Groups the caller may see, with their rules, oldest first; the target project's default is made first. */
  async list(caller: NetworkCaller, f: GroupFilters = {}): Promise<SecurityGroupWithRules[]> {
    await this.ensureDefault(f.projectId !== undefined && caller.isAdmin ? f.projectId : caller.projectId)
    let q = this.db.selectFrom('securitygroups').selectAll()
    if (!caller.isAdmin) q = q.where('project_id', '=', caller.projectId)
    if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId)
    if (f.ids !== undefined) q = q.where('id', 'in', f.ids.length === 0 ? [''] : [...f.ids])
    if (f.names !== undefined) q = q.where('name', 'in', f.names.length === 0 ? [''] : [...f.names])
    if (f.description !== undefined) q = q.where('description', '=', f.description)
    const groups = await q.orderBy('created_at').orderBy('id').execute()
    return this.#withRules(groups)
  }

  /** One group the caller may see, or Neutron's 404. */
  async get(caller: NetworkCaller, id: string): Promise<SecurityGroupWithRules> {
    const [found] = await this.#withRules([await this.row(caller, id)])
    if (found === undefined) throw groupNotFound(id)
    return found
  }

  /** The group's row (no rules), or Neutron's 404. */
  async row(caller: NetworkCaller, id: string): Promise<SecurityGroupRow> {
    const g = isUuid(id) ? await this.db.selectFrom('securitygroups').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined
    if (g === undefined || (!caller.isAdmin && g.project_id !== caller.projectId)) throw groupNotFound(id)
    return g
  }

  /**
   * Creates a group in `projectId` (the caller's unless an admin names another) with Neutron's two
   * egress rules, after the project's default group; 409 `OverQuota` past `security_group`.
   */
  async create(caller: NetworkCaller, a: { readonly name: string; readonly description: string; readonly projectId?: string }): Promise<SecurityGroupWithRules> {
    const projectId = a.projectId ?? caller.projectId
    if (a.name.toLowerCase() === DEFAULT_GROUP_NAME) throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.')
    await this.ensureDefault(projectId)
    const limit = await this.limits.limitOf(projectId, 'security_group')
    const id = crypto.randomUUID()
    const now = Date.now()
    await withNetworkQuotaLock(this.db, `security_group:${projectId}`, async (tx) => {
      if (limit >= 0) {
        const { n } = await tx.selectFrom('securitygroups').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirstOrThrow()
        if (Number(n) + 1 > limit) throw overQuota('security_group')
      }
      await tx
        .insertInto('securitygroups')
        .values({ id, project_id: projectId, name: a.name, description: a.description, stateful: 1, revision_number: 0, created_at: now, updated_at: now })
        .execute()
      const egress = (['IPv4', 'IPv6'] as const).map((ethertype) =>
        baseRuleRow({ id: crypto.randomUUID(), projectId, groupId: id, now, direction: 'egress', ethertype, remote_group_id: null }),
      )
      await tx.insertInto('securitygrouprules').values(egress).execute()
    })
    return this.get({ projectId, isAdmin: true }, id)
  }

  /** Renames or re-describes a group; the `default` group keeps its name (409), no group takes it (409). */
  async update(caller: NetworkCaller, id: string, a: { readonly name?: string; readonly description?: string }): Promise<SecurityGroupWithRules> {
    const g = await this.row(caller, id)
    if (a.name !== undefined && g.name === DEFAULT_GROUP_NAME && (await defaultGroupId(this.db, g.project_id)) === g.id) {
      throw conflict('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.')
    }
    if (a.name !== undefined && a.name.toLowerCase() === DEFAULT_GROUP_NAME) throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.')
    await this.db
      .updateTable('securitygroups')
      .set({ ...(a.name === undefined ? {} : { name: a.name }), ...(a.description === undefined ? {} : { description: a.description }), updated_at: Date.now(), revision_number: g.revision_number + 1 })
      .where('id', '=', g.id)
      .execute()
    return this.get(caller, g.id)
  }

  /**
   * Deletes a group and its rules (and the rules of other groups that name it as their remote
   * group). The `default` group: admins only (409 otherwise, as Neutron). A group a port uses: 409.
   */
  async delete(caller: NetworkCaller, id: string): Promise<void> {
    const g = await this.row(caller, id)
    const isDefault = (await defaultGroupId(this.db, g.project_id)) === g.id
    if (isDefault && !caller.isAdmin) throw conflict('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.')
    const inUse = conflict('SecurityGroupInUse', `Security Group ${g.id} in use.`)
    const bound = await this.db.selectFrom('securitygroupportbindings').select('port_id').where('security_group_id', '=', g.id).executeTakeFirst()
    if (bound !== undefined) throw inUse
    const referring = await this.db.selectFrom('securitygrouprules').select('security_group_id').where('remote_group_id', '=', g.id).where('security_group_id', '!=', g.id).execute()
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('securitygrouprules').where((eb) => eb.or([eb('security_group_id', '=', g.id), eb('remote_group_id', '=', g.id)])).execute()
        if (isDefault) await tx.deleteFrom('default_security_groups').where('project_id', '=', g.project_id).execute()
        await tx.deleteFrom('securitygroups').where('id', '=', g.id).execute()
      })
    } catch (err) {
      if (isForeignKeyViolation(err)) throw inUse
      throw err
    }
    // Groups that allowed traffic from this one lost those rules with it.
    const changed = [...new Set(referring.map((r) => r.security_group_id))]
    if (changed.length > 0) await this.onRulesChanged(changed)
  }

  /**
   * The ids of groups named by `namesOrIds` (Nova's `security_groups` of a boot, or a port's),
   * in the caller's project; the project's `default` is created when named. 404
   * `SecurityGroupNotFound` for an unknown one, 409 `NoUniqueMatch` for a name two groups share.
   */
  async resolve(caller: NetworkCaller, namesOrIds: readonly string[]): Promise<string[]> {
    const out: string[] = []
    for (const key of namesOrIds) {
      if (key === DEFAULT_GROUP_NAME) {
        out.push(await this.ensureDefault(caller.projectId))
        continue
      }
      if (isUuid(key)) {
        const byId = await this.db.selectFrom('securitygroups').select(['id', 'project_id']).where('id', '=', key.toLowerCase()).executeTakeFirst()
        if (byId !== undefined && (caller.isAdmin || byId.project_id === caller.projectId)) {
          out.push(byId.id)
          continue
        }
      }
      const byName = await this.db.selectFrom('securitygroups').select('id').where('project_id', '=', caller.projectId).where('name', '=', key).execute()
      if (byName.length > 1) throw conflict('NoUniqueMatch', `Multiple security_group matches found for name '${key}', use an ID to be more specific.`)
      const only = byName[0]
      if (only === undefined) throw groupNotFound(key)
      out.push(only.id)
    }
    return [...new Set(out)]
  }

  /** Rules of many groups, grouped by group id. */
  async rulesOf(groupIds: readonly string[]): Promise<Map<string, SecurityRuleRow[]>> {
    const out = new Map<string, SecurityRuleRow[]>(groupIds.map((id) => [id, []]))
    if (groupIds.length === 0) return out
    const rows = await this.db.selectFrom('securitygrouprules').selectAll().where('security_group_id', 'in', [...groupIds]).orderBy('created_at').orderBy('id').execute()
    for (const r of rows) out.get(r.security_group_id)?.push(r)
    return out
  }

  async #withRules(groups: readonly SecurityGroupRow[]): Promise<SecurityGroupWithRules[]> {
    const rules = await this.rulesOf(groups.map((g) => g.id))
    return groups.map((group) => ({ group, rules: rules.get(group.id) ?? [] }))
  }
}

/** Neutron's 404 for a group. */
export function groupNotFound(id: string): Error {
  return notFound('SecurityGroupNotFound', `Security group ${id} does not exist`)
}

/** A delete or insert refused by a foreign key (MySQL, SQLite). */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string } | undefined
  return e?.code === 'ER_ROW_IS_REFERENCED_2' || e?.code === 'ER_NO_REFERENCED_ROW_2' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
}

/** A name or description field of a group body: a string of at most 255 characters. */
export function groupText(field: 'name' | 'description', v: unknown): string {
  if (typeof v !== 'string' || v.length > 255) throw badRequest(`Invalid input for ${field}. Reason: '${String(v).slice(0, 300)}' is not a valid string or exceeds 255 characters.`)
  return v
}
