/**
 * Members of a server group per host, for the soft-affinity weighers. `spec.group.hosts` has one
 * entry per other member (a host may repeat); a de-duplicated list still gives 0 or 1 per host.
 */
export function countMembersByHost(hosts: readonly string[]): ReadonlyMap<string, number> {
  const counts = new Map<string, number>()
  for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1)
  return counts
}
