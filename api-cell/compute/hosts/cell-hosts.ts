import type { Kysely } from 'kysely'
import { z } from 'zod'
import type { RequestContext } from '../../../shared/context.js'
import type { Logger } from '../../../shared/logging.js'
import type { CellTree } from '../../cells/cell-tree.js'
import { API_PATH } from '../../cells/cell-tree.js'
import type { ComputeTables } from '../../db/compute-schema.js'

/** How long a listing waits for a region before going on without it. */
const LIST_DEADLINE_MS = 10_000

const serviceSchema = z.object({
  id: z.number(),
  uuid: z.string(),
  binary: z.string(),
  disabled: z.boolean(),
  disabledReason: z.string().nullable(),
  forcedDown: z.boolean(),
  up: z.boolean(),
  updatedAt: z.number(),
})

/**
 * One compute node with its nova-compute service, as a cell's `ListHosts` answers (JSON across
 * gRPC). The API cell keeps its own description of that contract (it may not import child-cell
 * code) and checks each entry against it: an entry it cannot read is logged and left out.
 */
const cellHostSchema = z.object({
  cellPath: z.string(),
  nodeId: z.number(),
  nodeUuid: z.string(),
  host: z.string(),
  hypervisorHostname: z.string(),
  hostIp: z.string(),
  availabilityZone: z.string(),
  vcpus: z.number(),
  vcpusUsed: z.number(),
  memoryMb: z.number(),
  memoryMbUsed: z.number(),
  localGb: z.number(),
  localGbUsed: z.number(),
  runningVms: z.number(),
  hypervisorType: z.string(),
  hypervisorVersion: z.number(),
  cpuInfo: z.string(),
  reservedHostMemoryMb: z.number(),
  reservedHostDiskGb: z.number(),
  service: serviceSchema.nullable(),
})

/** A compute node of some cell with its compute service (see {@link listCellHosts}). */
export type CellHost = z.infer<typeof cellHostSchema>

/** The nova-compute service of a {@link CellHost}. */
export type CellService = z.infer<typeof serviceSchema>

/** The region (`region-one`) a cell path (`api!region-one!dc1`) belongs to. */
export function regionOfPath(cellPath: string): string | undefined {
  return cellPath.split('!')[1]
}

/**
 * Every compute node of the federation (or of `region` only), asked from all regions in
 * parallel. A region the tree reports as down, or that fails or misses the deadline, is left out:
 * listings show what can be seen rather than fail as a whole (Nova skips down cells the same way).
 */
export async function listCellHosts(
  args: { readonly tree: CellTree; readonly regions: readonly string[]; readonly log: Logger },
  ctx: RequestContext,
  region: string | null,
): Promise<CellHost[]> {
  const wanted = region === null ? args.regions : args.regions.filter((r) => r === region)
  const down = new Set(args.tree.regionAggregates().filter((c) => !c.up).map((c) => c.path))
  const deadline = Math.min(ctx.deadline ?? Infinity, Date.now() + LIST_DEADLINE_MS)
  const perRegion = await Promise.all(
    wanted.map(async (r) => {
      const path = `${API_PATH}!${r}`
      if (down.has(path)) return []
      try {
        return await args.tree.clientFor(path).listHosts({ ...ctx, deadline })
      } catch (err) {
        args.log.warn({ requestId: ctx.requestId, region: r, err: String(err) }, 'region did not list its hosts; left out')
        return []
      }
    }),
  )
  const hosts: CellHost[] = []
  for (const raw of perRegion.flat()) {
    const parsed = cellHostSchema.safeParse(raw)
    if (parsed.success) hosts.push(parsed.data)
    else args.log.warn({ requestId: ctx.requestId, issue: parsed.error.issues[0]?.message }, 'unreadable host entry; left out')
  }
  return hosts
}

/** The response header that names the cells an admin listing could not include. */
export const CELLS_DOWN_HEADER = 'X-Federation-Cells-Down'

/**
 * The cells (of `region`, or of the whole tree) that are known to be down right now: admin
 * listings (hypervisors, services) cannot include their hosts, and say so in
 * {@link CELLS_DOWN_HEADER} rather than silently leave them out.
 */
export async function downCells(
  d: { readonly tree: CellTree; readonly db: Kysely<ComputeTables> },
  region: string | null,
): Promise<string[]> {
  let q = d.db.selectFrom('cells').select('path').where('path', 'like', `${API_PATH}!%`)
  if (region !== null) q = q.where('region', '=', region)
  const rows = await q.execute()
  return rows.map((r) => r.path).filter((p) => d.tree.isDown(p)).sort()
}

/** Sets {@link CELLS_DOWN_HEADER} when some cells are down. Returns them. */
export async function markDownCells(
  d: { readonly tree: CellTree; readonly db: Kysely<ComputeTables> },
  res: { setHeader(name: string, value: string): unknown },
  region: string | null,
): Promise<string[]> {
  const down = await downCells(d, region)
  if (down.length > 0) res.setHeader(CELLS_DOWN_HEADER, down.join(','))
  return down
}
