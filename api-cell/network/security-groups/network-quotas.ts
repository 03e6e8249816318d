import type { Kysely } from 'kysely'
import type { NetworkQuotaLocksTable } from './schema.js'

/** The network quota resources this folder enforces, as Neutron names them. */
export const NETWORK_QUOTA_RESOURCES = ['security_group', 'security_group_rule', 'floatingip'] as const
/** One of {@link NETWORK_QUOTA_RESOURCES}. */
export type NetworkQuotaResource = (typeof NETWORK_QUOTA_RESOURCES)[number]

/** Neutron's `[quotas]` defaults. -1 means unlimited. */
export const NEUTRON_DEFAULT_QUOTAS: Readonly<Record<NetworkQuotaResource, number>> = Object.freeze({
  security_group: 10,
  security_group_rule: 100,
  floatingip: 50,
})

/**
 * Where a project's limits come from. The Neutron quota API (api-cell/network, with its own
 * overrides) implements it; without one, {@link DEFAULT_NETWORK_QUOTA_LIMITS} applies Neutron's
 * defaults to every project.
 */
export interface NetworkQuotaLimits {
  /** The project's limit for `resource`; -1 for unlimited. */
  limitOf(projectId: string, resource: NetworkQuotaResource): Promise<number>
}

/** Neutron's defaults for every project. */
export const DEFAULT_NETWORK_QUOTA_LIMITS: NetworkQuotaLimits = Object.freeze({
  limitOf: (_projectId: string, resource: NetworkQuotaResource) => Promise.resolve(NEUTRON_DEFAULT_QUOTAS[resource]),
})

/** The one table {@link withNetworkQuotaLock} needs (created by the security group migrations). */
export interface QuotaLockTables {
  network_quota_locks: NetworkQuotaLocksTable
}

/**
 * Runs `fn` in one transaction that first takes the lock row of `scope` (`<resource>:<project>`),
 * so that the count a quota check makes and the insert it allows are not interleaved with
 * another caller's (MySQL: the row's exclusive lock, taken before the transaction's snapshot;
 * SQLite: the database's write lock). The row is created outside the transaction, as compute's
 * quota locks are, so that two first callers do not deadlock upgrading a shared lock.
 */
export async function withNetworkQuotaLock<DB extends QuotaLockTables, T>(database: Kysely<DB>, scope: string, fn: (tx: Kysely<DB>) => Promise<T>): Promise<T> {
  const db = database as unknown as Kysely<QuotaLockTables>
  await db.insertInto('network_quota_locks').orIgnore().values({ scope, generation: 0 }).execute()
  return db.transaction().execute(async (tx) => {
    await tx
      .updateTable('network_quota_locks')
      .set((eb) => ({ generation: eb('generation', '+', 1) }))
      .where('scope', '=', scope)
      .execute()
    return fn(tx as unknown as Kysely<DB>)
  })
}
