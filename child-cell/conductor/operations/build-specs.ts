import type { Transaction } from 'kysely'
import type { BuildImage, BuildSpec, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { imageFetchOf } from '../../../shared/cell-link/build-spec.js'
import type { NetworkInfo } from '../../../shared/network/network-info.js'
import type { CellSchema } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'
import type { ConfigDriveSpec } from './config-drive-files.js'
import { configDriveFilesOf } from './config-drive-files.js'
import { IN_PROGRESS_STATUSES } from './migrations-store.js'

/**
 * The build specs a leaf keeps while its instances build (table `build_specs`): what a reschedule
 * after a failed spawn needs, on this cell's hosts or handed back up the tree (see reschedule.ts),
 * and how compute fetches the image (the signed download URL of the spec's image).
 */

/** Keeps the build spec while the instance is building (in the transaction that inserts it). */
export async function rememberBuild(tx: Transaction<CellSchema>, spec: BuildSpec): Promise<void> {
  await tx
    .insertInto('build_specs')
    .values({ instance_uuid: spec.instanceUuid, spec: JSON.stringify(spec), tried_hosts: '[]', faults: '[]', created_at: Date.now() })
    .execute()
}

/**
 * The record compute spawns from, with how to fetch the image. The signed URL comes from the build
 * spec: it expires, so it is kept in `build_specs` while the instance builds, never in `instances`.
 */
export function withImageFetch(record: InstanceRecord, spec: { readonly image: Readonly<Partial<BuildImage>> }): InstanceRecord {
  const image = imageFetchOf(spec.image)
  return image === undefined ? record : { ...record, image }
}

/**
 * What compute spawns for a build: the record with how to fetch the spec's image and, when the
 * build asked for one, the files of its config drive. An unshelve into
 * this cell spawns from the shelved snapshot (`spec.image`) though the record keeps the instance's
 * own image (`spec.unshelveImageRef`), so the host's image cache is keyed by the snapshot.
 */
export function spawnRecordOf(record: InstanceRecord, spec: Pick<BuildSpec, 'image' | 'unshelveImageRef'> & Partial<ConfigDriveSpec>): InstanceRecord {
  const withFetch = withImageFetch(record, spec)
  // Rendered from the record as stored (its own image, the zone it landed in), before an unshelve swaps the image.
  const files = spec.metadata === undefined || spec.keyName === undefined || spec.keyData === undefined || spec.userData === undefined ? undefined : configDriveFilesOf(record, spec as ConfigDriveSpec)
  const withDrive = files === undefined ? withFetch : { ...withFetch, configDriveFiles: files }
  return spec.unshelveImageRef === undefined ? withDrive : { ...withDrive, imageRef: spec.image.id }
}

/**
 * The live instances of `host`, for a compute host that starts up. Those still building carry how
 * to fetch their image, so that an interrupted spawn can be finished.
 */
export async function instancesOnHost(d: Pick<ConductorDeps, 'db' | 'store'>, host: string): Promise<InstanceRecord[]> {
  const own = await d.db.selectFrom('instances').selectAll().where('host', '=', host).where('deleted', '=', 0).execute()
  // A resize or migration not yet confirmed keeps its guest on the source: not an orphan there.
  const moving = await d.db
    .selectFrom('migrations')
    .select('instance_uuid')
    .where('source_host', '=', host)
    .where('migration_type', 'in', ['resize', 'migration'])
    .where('status', 'in', [...IN_PROGRESS_STATUSES])
    .execute()
  const kept = moving.length === 0 ? [] : await d.db.selectFrom('instances').selectAll().where('uuid', 'in', moving.map((m) => m.instance_uuid)).where('deleted', '=', 0).where('host', '!=', host).execute()
  const rows = [...own, ...kept]
  const building = rows.filter((r) => r.vm_state === 'building').map((r) => r.uuid)
  const specs = new Map<string, string>()
  if (building.length > 0) {
    const specRows = await d.db.selectFrom('build_specs').select(['instance_uuid', 'spec']).where('instance_uuid', 'in', building).execute()
    for (const k of specRows) specs.set(k.instance_uuid, k.spec)
  }
  return rows.map((r) => {
    const record = d.store.toRecord(r)
    const spec = specs.get(r.uuid)
    return spec === undefined ? record : spawnRecordOf(record, JSON.parse(spec) as BuildSpec)
  })
}

/** The build is over here (the instance is ACTIVE or deleted): nothing left to retry. */
export async function forgetBuild(tx: Transaction<CellSchema>, uuid: string): Promise<void> {
  await tx.deleteFrom('build_specs').where('instance_uuid', '=', uuid).execute()
}

/**
 * Whether an instance row is a build this leaf handed back up the tree (reschedule.ts `handUp` is
 * the only writer of a deleted row in ERROR; a delete leaves `vm_state` deleted). The leaf keeps
 * nothing of such a build: asked for it again, it refuses, as if it had never held it, so that the
 * parent routes it on instead of recording a placement in a cell that holds no instance.
 */
export function isHandedBack(row: { readonly deleted: number; readonly vm_state: string }): boolean {
  return row.deleted === 1 && row.vm_state === 'error'
}

/**
 * The `instances.network_info` value of a build's interfaces: JSON, or NULL for none (absent or
 * empty), so that a record read back has `networkInfo` exactly when there is something to render.
 */
export function networkInfoColumn(info: NetworkInfo | undefined): string | null {
  return info === undefined || info.length === 0 ? null : JSON.stringify(info)
}
