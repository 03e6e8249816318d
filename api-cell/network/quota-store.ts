import type { Kysely } from 'kysely'
import { overQuota } from './faults.js'
import type { NetworkTables } from './schema.js'

/** The resources the network service keeps quotas for (Neutron's names). */
export const NETWORK_QUOTA_RESOURCES = ['network', 'subnet', 'port', 'security_group', 'security_group_rule', 'floatingip', 'router', 'rbac_policy', 'subnetpool'] as const
/** One of {@link NETWORK_QUOTA_RESOURCES}. */
export type NetworkQuotaResource = (typeof NETWORK_QUOTA_RESOURCES)[number]

/** Neutron's defaults (`[quotas]` in neutron.conf); -1 is unlimited. */
export const DEFAULT_NETWORK_QUOTAS: Readonly<Record<NetworkQuotaResource, number>> = Object.freeze({
  network: 100,
  subnet: 100,
  port: 500,
  security_group: 10,
  security_group_rule: 100,
  floatingip: 50,
  router: 10,
  rbac_policy: 10,
  subnetpool: -1,
})

/** The tables whose rows count against the resources this service owns (the others: N2's counters). */
const COUNTED: Partial<Record<NetworkQuotaResource, 'networks' | 'subnets' | 'ports'>> = { network: 'networks', subnet: 'subnets', port: 'ports' }

/**
 * Per-project limits of the network service. Limits are plain numbers per resource; the checks of
 * networks, subnets and ports are here, the security group and floating IP services read
 * {@link NetworkQuotas.limitOf} and count their own rows. A check is a count then an insert, not a
 * reservation: two creates racing at the limit may both pass, as in Neutron without its
 * reservation engine (the limit is a guard against runaway use, not an exact ledger).
 */
export class NetworkQuotas {
  readonly #db: Kysely<NetworkTables>

  constructor(db: Kysely<NetworkTables>) {
    this.#db = db
  }

  /** Every limit of a project, defaults filled in. */
  async limitsOf(projectId: string): Promise<Record<NetworkQuotaResource, number>> {
    const rows = await this.#db.selectFrom('network_quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute()
    const out = { ...DEFAULT_NETWORK_QUOTAS }
    for (const r of rows) if ((NETWORK_QUOTA_RESOURCES as readonly string[]).includes(r.resource)) out[r.resource as NetworkQuotaResource] = r.hard_limit
    return out
  }

  /** One limit of a project (-1: unlimited). */
  async limitOf(projectId: string, resource: NetworkQuotaResource): Promise<number> {
    return (await this.limitsOf(projectId))[resource]
  }

  /** Projects with an override. */
  async projects(): Promise<string[]> {
    return (await this.#db.selectFrom('network_quotas').select('project_id').distinct().execute()).map((r) => r.project_id)
  }

  /** Sets some limits of a project. */
  async set(projectId: string, limits: Partial<Record<NetworkQuotaResource, number>>): Promise<void> {
    for (const [resource, limit] of Object.entries(limits)) {
      const res = await this.#db.updateTable('network_quotas').set({ hard_limit: limit }).where('project_id', '=', projectId).where('resource', '=', resource).executeTakeFirst()
      if (Number(res.numUpdatedRows) === 0) {
        await this.#db
          .insertInto('network_quotas')
          .values({ project_id: projectId, resource, hard_limit: limit })
          .execute()
          .catch(async () => this.#db.updateTable('network_quotas').set({ hard_limit: limit }).where('project_id', '=', projectId).where('resource', '=', resource).execute())
      }
    }
  }

  /** Back to the defaults. */
  async reset(projectId: string): Promise<void> {
    await this.#db.deleteFrom('network_quotas').where('project_id', '=', projectId).execute()
  }

  /** How many networks, subnets and ports a project holds. */
  async usageOf(projectId: string): Promise<Partial<Record<NetworkQuotaResource, number>>> {
    const out: Partial<Record<NetworkQuotaResource, number>> = {}
    for (const [resource, table] of Object.entries(COUNTED)) {
      const r = await this.#db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirst()
      out[resource as NetworkQuotaResource] = Number(r?.n ?? 0)
    }
    return out
  }

  /** Throws Neutron's 409 `OverQuota` when `adding` more of `resource` would pass the limit. */
  async check(projectId: string, resource: 'network' | 'subnet' | 'port', adding = 1): Promise<void> {
    const limit = await this.limitOf(projectId, resource)
    if (limit < 0) return
    const table = COUNTED[resource]!
    const r = await this.#db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirst()
    if (Number(r?.n ?? 0) + adding > limit) throw overQuota(resource)
  }
}
