import type { Kysely } from 'kysely'
import type { SecurityRuleInfo } from '../../../shared/network/network-info.js'
import { parseAddress } from './ip-prefix.js'
import { portsOfGroups } from './port-bindings.js'
import type { SecurityGroupTables } from './schema.js'

/**
 * The fixed addresses of ports, as the port service knows them. `rulesForPort` asks it for the
 * members of remote groups; the port service (api-cell/network) implements it over its tables.
 */
export interface PortAddressLookup {
  /** Each port's fixed IP addresses (ports unknown or without addresses may be left out). */
  fixedIpsOf(portIds: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>>
}

/** What {@link rulesForPort} reads. */
export interface RulesForPortDeps {
  readonly db: Kysely<SecurityGroupTables>
  readonly addresses: PortAddressLookup
}

/**
 * The rules a port's driver enforces: the union of the rules of `groupIds`, each rule with a
 * `remote_group_id` expanded into one rule per fixed address of the ports in that group (a host
 * prefix, /32 or /128, of the rule's ethertype), so the driver renders prefixes only. A remote
 * group with no member addresses allows nothing, so its rule disappears. Duplicates are merged;
 * the order is stable (groups' rules oldest first, addresses sorted).
 *
 * @example
 *   const rules = await rulesForPort({ db, addresses: ports }, await store.resolve(caller, ['default']))
 */
export async function rulesForPort(deps: RulesForPortDeps, groupIds: readonly string[]): Promise<SecurityRuleInfo[]> {
  if (groupIds.length === 0) return []
  const rules = await deps.db
    .selectFrom('securitygrouprules')
    .selectAll()
    .where('security_group_id', 'in', [...new Set(groupIds)])
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  const remoteGroups = [...new Set(rules.map((r) => r.remote_group_id).filter((g): g is string => g !== null))]
  const members = await portsOfGroups(deps.db, remoteGroups)
  const allPorts = [...new Set([...members.values()].flat())]
  const addresses = allPorts.length === 0 ? new Map<string, readonly string[]>() : await deps.addresses.fixedIpsOf(allPorts)

  const out: SecurityRuleInfo[] = []
  const seen = new Set<string>()
  const push = (r: SecurityRuleInfo): void => {
    const key = JSON.stringify(r)
    if (seen.has(key)) return
    seen.add(key)
    out.push(r)
  }
  for (const r of rules) {
    const ethertype = r.ethertype === 'IPv6' ? 'IPv6' : 'IPv4'
    const base = {
      direction: r.direction === 'egress' ? 'egress' : 'ingress',
      ethertype,
      protocol: r.protocol,
      portRangeMin: r.port_range_min,
      portRangeMax: r.port_range_max,
    } as const
    if (r.remote_group_id === null) {
      push({ ...base, remoteIpPrefix: r.remote_ip_prefix })
      continue
    }
    const version = ethertype === 'IPv6' ? 6 : 4
    const prefixes = new Set<string>()
    for (const port of members.get(r.remote_group_id) ?? []) {
      for (const ip of addresses.get(port) ?? []) {
        const parsed = parseAddress(ip)
        if (parsed?.version === version) prefixes.add(`${ip}/${version === 4 ? 32 : 128}`)
      }
    }
    for (const prefix of [...prefixes].sort()) push({ ...base, remoteIpPrefix: prefix })
  }
  return out
}
