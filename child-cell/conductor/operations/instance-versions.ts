import type { InstanceVersion, InstanceVersionPage } from '../../../shared/cell-link/types.js'
import { VERSION_PAGE_SIZE } from '../../../shared/cell-link/anti-entropy.js'
import type { ConductorDeps } from '../deps.js'

/**
 * One page of what this cell knows of instance versions, for its parent's anti-entropy pass: its own
 * instances (deleted ones too) merged with the index it keeps of its children's (an intermediate
 * cell), the newer version winning, sorted by uuid. Each source is read with the same limit, so the
 * first `limit` of their union is exact.
 */
export async function instanceVersions(d: ConductorDeps, page: InstanceVersionPage): Promise<InstanceVersion[]> {
  const limit = Math.min(Math.max(1, Math.floor(Number(page.limit) || VERSION_PAGE_SIZE)), VERSION_PAGE_SIZE)
  const after = typeof page.afterUuid === 'string' ? page.afterUuid : ''
  const [own, relayed] = await Promise.all([
    d.db.selectFrom('instances').select(['uuid', 'version']).where('uuid', '>', after).orderBy('uuid').limit(limit).execute(),
    d.db.selectFrom('instance_index').select(['uuid', 'version', 'cell_path']).where('uuid', '>', after).orderBy('uuid').limit(limit).execute(),
  ])
  const merged = new Map<string, InstanceVersion>()
  for (const r of own) merged.set(r.uuid, { uuid: r.uuid, version: r.version, cellPath: d.cellPath })
  for (const r of relayed) {
    const mine = merged.get(r.uuid)
    if (mine === undefined || r.version > mine.version) merged.set(r.uuid, { uuid: r.uuid, version: r.version, cellPath: r.cell_path })
  }
  return [...merged.values()].sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0)).slice(0, limit)
}

/**
 * An intermediate cell's side of anti-entropy with one child: of a page of the child's versions,
 * those this cell's index lacks or holds older. (Repairs go through relayEvents, which also ships
 * them further up.)
 */
export async function staleVersions(d: ConductorDeps, page: readonly InstanceVersion[]): Promise<InstanceVersion[]> {
  if (page.length === 0) return []
  const rows = await d.db
    .selectFrom('instance_index')
    .select(['uuid', 'version'])
    .where('uuid', 'in', page.map((v) => v.uuid))
    .execute()
  const known = new Map(rows.map((r) => [r.uuid, r.version]))
  return page.filter((v) => (known.get(v.uuid) ?? -1) < v.version)
}
