import type { Transaction } from 'kysely'
import type { InstanceEvent } from '../../shared/cell-link/types.js'
import type { ComputeTables } from '../db/compute-schema.js'
import { fromMoveTarget, moveTargets } from './moves-in-flight.js'

/**
 * Splits a batch of instance events into those the reporting cell may speak for, and the rest.
 *
 * A cell speaks for an instance only if the API cell mapped that instance to it: the instance
 * mapping names the event's cell, or has no cell yet (a placement in flight: the leaf's first
 * events may overtake the dispatcher recording where the build went). Events about instances the
 * API never mapped, or mapped to another cell (cell0 included), are someone else's: applying them
 * would let one cell (compromised, or misconfigured with another's identity) rewrite the index
 * row, and so the routing, of any project's instance elsewhere, or plant instances nobody booted.
 * The transport already limits a child to its own subtree (shared/cell-link/child-watcher.ts);
 * this check is what keeps one leaf of a region from speaking for its sibling. The one exception:
 * the cell a cross-cell move in flight is building the new copy in (see moves-in-flight.ts) speaks
 * for it before the mapping moves, so that none of the new copy's events is lost.
 */
export async function splitOwnedEvents(
  tx: Transaction<ComputeTables>,
  events: readonly InstanceEvent[],
): Promise<{ owned: InstanceEvent[]; foreign: InstanceEvent[] }> {
  if (events.length === 0) return { owned: [], foreign: [] }
  const uuids = [...new Set(events.map((e) => e.instanceUuid))]
  const rows = await tx.selectFrom('instance_mappings').select(['instance_uuid', 'cell_path']).where('instance_uuid', 'in', uuids).execute()
  const cellOf = new Map(rows.map((r) => [r.instance_uuid, r.cell_path]))
  const targets = await moveTargets(tx, uuids)
  const owned: InstanceEvent[] = []
  const foreign: InstanceEvent[] = []
  for (const ev of events) {
    const cell = cellOf.get(ev.instanceUuid)
    if (cell === null || (cell !== undefined && cell === ev.cellPath) || (cell !== undefined && fromMoveTarget(ev, targets))) owned.push(ev)
    else foreign.push(ev)
  }
  return { owned, foreign }
}
