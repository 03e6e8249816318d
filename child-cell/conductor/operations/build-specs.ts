import type { Transaction } from 'kysely'
import type { BuildSpec } from '../../../shared/cell-link/build-spec.js'
import type { CellSchema } from '../../db/schema.js'

/**
 * The build specs a leaf keeps while its instances build (table `build_specs`): what a reschedule
 * after a failed spawn needs, on this cell's hosts or handed back up the tree (see reschedule.ts).
 */

/** Keeps the build spec while the instance is building (in the transaction that inserts it). */
export async function rememberBuild(tx: Transaction<CellSchema>, spec: BuildSpec): Promise<void> {
  await tx
    .insertInto('build_specs')
    .values({ instance_uuid: spec.instanceUuid, spec: JSON.stringify(spec), tried_hosts: '[]', faults: '[]', created_at: Date.now() })
    .execute()
}

/** The build is over here (the instance is ACTIVE or deleted): nothing left to retry. */
export async function forgetBuild(tx: Transaction<CellSchema>, uuid: string): Promise<void> {
  await tx.deleteFrom('build_specs').where('instance_uuid', '=', uuid).execute()
}
