import type { Kysely } from 'kysely'
import { isForeignKeyViolation, groupNotFound } from './security-group-store.js'
import type { SecurityGroupTables } from './schema.js'

/**
 * Which security groups each port has (Neutron's `securitygroupportbindings`). The ports
 * themselves belong to the port service (api-cell/network); it calls these when a port is
 * created, updated (`security_groups`) or deleted, in its own transaction when it passes one.
 * A binding names an existing group (foreign key): a group cannot be deleted while bound.
 */

/** Replaces the groups of `portId` with `groupIds` (ids resolved beforehand, e.g. with `SecurityGroupStore.resolve`). */
export async function setPortGroups(db: Kysely<SecurityGroupTables>, portId: string, groupIds: readonly string[]): Promise<void> {
  const write = async (tx: Kysely<SecurityGroupTables>): Promise<void> => {
    await tx.deleteFrom('securitygroupportbindings').where('port_id', '=', portId).execute()
    const unique = [...new Set(groupIds)]
    if (unique.length > 0) await tx.insertInto('securitygroupportbindings').values(unique.map((g) => ({ port_id: portId, security_group_id: g }))).execute()
  }
  try {
    if (db.isTransaction) await write(db)
    else await db.transaction().execute(write)
  } catch (err) {
    // The group was deleted between resolve and bind.
    if (isForeignKeyViolation(err)) throw groupNotFound(groupIds.join(', '))
    throw err
  }
}

/** Removes every binding of a port (on port delete). Idempotent. */
export async function clearPortGroups(db: Kysely<SecurityGroupTables>, portId: string): Promise<void> {
  await db.deleteFrom('securitygroupportbindings').where('port_id', '=', portId).execute()
}

/** The group ids of many ports, by port id (ports without groups map to `[]`). */
export async function groupsOfPorts(db: Kysely<SecurityGroupTables>, portIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(portIds.map((p) => [p, []]))
  if (portIds.length === 0) return out
  const rows = await db.selectFrom('securitygroupportbindings').selectAll().where('port_id', 'in', [...portIds]).orderBy('security_group_id').execute()
  for (const r of rows) out.get(r.port_id)?.push(r.security_group_id)
  return out
}

/** The ports bound to any of `groupIds`, by group id. */
export async function portsOfGroups(db: Kysely<SecurityGroupTables>, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(groupIds.map((g) => [g, []]))
  if (groupIds.length === 0) return out
  const rows = await db.selectFrom('securitygroupportbindings').selectAll().where('security_group_id', 'in', [...groupIds]).orderBy('port_id').execute()
  for (const r of rows) out.get(r.security_group_id)?.push(r.port_id)
  return out
}
