import type { Kysely } from 'kysely'
import type { BuildGroup, BuildSpec } from '../../shared/cell-link/build-spec.js'
import { buildGroupOf } from '../compute/server-groups/group-store.js'
import type { ComputeTables } from '../db/compute-schema.js'

/**
 * The current members of a build's server group, read from the API DB right before the global
 * scheduler sends the build down (the spec's list was taken when the request came in; builds of
 * the group placed since then count too: the dispatcher writes a placed build's host into the
 * index with its mapping). `undefined` when the group is gone: the spec's list stands.
 */
export function groupMembersLookup(db: Kysely<ComputeTables>): (spec: BuildSpec) => Promise<BuildGroup['members'] | undefined> {
  return async (spec) => {
    if (spec.group === undefined) return undefined
    const row = await db.selectFrom('instance_groups').selectAll().where('uuid', '=', spec.group.uuid).executeTakeFirst()
    if (row === undefined) return undefined
    const current = await buildGroupOf(db, row)
    return current.members
  }
}
