import type { BuildSpec, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import type { CellCapacity } from '../../../shared/cell-link/types.js'
import type { RequestContext } from '../../../shared/context.js'
import { InvalidError } from '../../../shared/errors.js'
import type { UnshelvePlan } from '../../scheduler/unshelve-mover.js'
import { aggregatesForBuild } from '../aggregates/aggregate-store.js'
import type { BootImage, ComputeDeps } from '../deps.js'

/** Where an unshelve of an offloaded instance goes: its own cell (as before), or another one. */
export type UnshelveDecision = { readonly kind: 'in-cell' } | { readonly kind: 'move'; readonly plan: UnshelvePlan }

/** What the unshelve request asked for (2.77 / 2.91); `null` zone: unpinned (2.91). */
export interface UnshelveAsk {
  readonly availabilityZone?: string | null
  readonly host?: string
}

/**
 * Decides where an unshelve of a SHELVED_OFFLOADED instance goes, with Nova's 400s for what cannot
 * be honoured (an unknown host or zone, a host outside the zone asked for) before anything changes:
 *
 * - a `host` (2.91, admin): its cell, found in the host mappings; another cell than the owner's
 *   means a move there, the host and `target_cell` travelling in the build as for a 2.74 boot;
 * - an `availability_zone`: a zone some cell in scope reports; the owner's cell when it has that
 *   zone, else a move to the regions the global scheduler ranks for the zone;
 * - neither: the owner's cell while it reports room for the flavor (no data moves), else a move
 *   to the regions the global scheduler ranks (the instance may land in any cell).
 *
 * Zones here belong to leaf cells (deploy/regions), so an instance's last zone is not a pin: a
 * move chooses among every zone unless one is asked for.
 */
export async function decideUnshelve(d: ComputeDeps, ctx: RequestContext, region: string | null, inst: InstanceRecord, ask: UnshelveAsk, image: BootImage | undefined): Promise<UnshelveDecision> {
  const owner = inst.cellPath
  const inScope = (c: CellCapacity): boolean => region === null || c.path === `api!${region}` || c.path.startsWith(`api!${region}!`)
  const reports = d.tree.reports().filter((c) => inScope(c) && c.up && !c.disabled)
  const az = ask.availabilityZone ?? undefined
  if (az !== undefined && !reports.some((c) => c.availabilityZones.includes(az))) throw new InvalidError('The requested availability zone is not available')
  let target: { host: string; cellPath: string } | undefined
  if (ask.host !== undefined) {
    const m = await d.db.selectFrom('host_mappings').select(['host', 'cell_path']).where('host', '=', ask.host).executeTakeFirst()
    if (m === undefined || (region !== null && !inScope({ path: m.cell_path } as CellCapacity))) throw new InvalidError(`Compute host ${ask.host} could not be found.`)
    if (az !== undefined && !reports.some((c) => c.path === m.cell_path && c.availabilityZones.includes(az))) {
      throw new InvalidError(`Host '${ask.host}' is not in availability zone '${az}'.`)
    }
    target = { host: m.host, cellPath: m.cell_path }
    if (m.cell_path === owner) return { kind: 'in-cell' }
  } else {
    const own = reports.filter((c) => c.path === owner)
    if (az !== undefined && own.some((c) => c.availabilityZones.includes(az))) return { kind: 'in-cell' }
    const fits = own.some((c) => (c.flavorFits[inst.flavor.id]?.count ?? 0) > 0)
    // An owner that never reported (an older cell, a test tree without reports) keeps the instance.
    if (az === undefined && (fits || d.tree.reports().every((c) => c.path !== owner))) return { kind: 'in-cell' }
  }
  if (image === undefined || inst.shelvedImageId === undefined) return { kind: 'in-cell' }
  const spec = await specOf(d, inst, image, az ?? null, target)
  const ranked = target === undefined ? d.dispatcher.rankRegions(ctx, spec, region, [owner]) : [`api!${target.cellPath.split('!')[1] ?? ''}`]
  return { kind: 'move', plan: { instanceUuid: inst.uuid, sourceCell: owner, ranked, spec } }
}

/** The build of the instance's copy in another cell: same uuid, spawned from the shelved image. */
async function specOf(d: ComputeDeps, inst: InstanceRecord, image: BootImage, az: string | null, target: { host: string; cellPath: string } | undefined): Promise<BuildSpec> {
  const idx = await d.db.selectFrom('instance_index').select('version').where('uuid', '=', inst.uuid).executeTakeFirst()
  const aggregates = await aggregatesForBuild(d.db)
  return {
    instanceUuid: inst.uuid,
    name: inst.name,
    hostname: inst.hostname,
    projectId: inst.projectId,
    userId: inst.userId,
    flavor: inst.flavor,
    image: {
      id: image.id,
      name: image.name,
      properties: image.properties,
      ...(image.downloadUrl === undefined ? {} : { downloadUrl: image.downloadUrl }),
      ...(image.checksum === undefined ? {} : { checksum: image.checksum }),
      ...(image.diskFormat === undefined ? {} : { diskFormat: image.diskFormat }),
    },
    unshelveImageRef: inst.imageRef,
    availabilityZone: az,
    metadata: inst.metadata,
    keyName: inst.keyName,
    keyData: null,
    userData: inst.userData,
    description: inst.description,
    reservationId: inst.reservationId,
    launchIndex: inst.launchIndex,
    schedulerHints: target === undefined ? {} : { target_cell: target.cellPath },
    ...(target === undefined ? {} : { requestedHost: target.host }),
    // The new copy numbers its events past every version the index has seen, so they all apply.
    retry: { attempt: 0, triedCells: [inst.cellPath], faults: [], versionBase: Math.max(inst.version, idx?.version ?? 0) },
    ...(aggregates.length === 0 ? {} : { aggregates }),
    ...(inst.tags === undefined || inst.tags.length === 0 ? {} : { tags: inst.tags }),
    ...(inst.accessIpV4 === null ? {} : { accessIpV4: inst.accessIpV4 }),
    ...(inst.accessIpV6 === null ? {} : { accessIpV6: inst.accessIpV6 }),
    // The copy's guest renders the interfaces the instance has (its ports stay its ports).
    ...(inst.networkInfo === undefined || inst.networkInfo.length === 0 ? {} : { networkInfo: inst.networkInfo }),
    // The copy keeps its config drive (rebuilt by the new cell's conductor from this spec).
    ...(inst.configDrive === 'True' ? { configDrive: true } : {}),
    createdAt: inst.createdAt,
  }
}
