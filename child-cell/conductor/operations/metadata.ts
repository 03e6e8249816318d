import type { Selectable } from 'kysely'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'

/** Nova's `check_instance_state` for metadata changes: these vm_states, no task running. */
const METADATA_VM_STATES: ReadonlySet<string> = new Set(['active', 'paused', 'suspended', 'stopped'])

/** What `set_metadata` carries down the tree. */
interface MetadataArgs {
  /** Items to write. */
  readonly metadata?: unknown
  /** `replace` (PUT, default) or `merge` (POST and the item PUT). */
  readonly mode?: unknown
  /** One key to delete (the item DELETE). */
  readonly remove?: unknown
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')

/**
 * Changes an instance's metadata in this cell: replace, merge or delete one key, computed from the
 * row under the version check (two concurrent merges cannot lose each other's keys: the second
 * one's compare-and-swap fails and it answers 409). Refused with 409 outside Nova's states.
 */
export async function setMetadata(d: ConductorDeps, ctx: RequestContext, row: Selectable<InstancesTable>, args: MetadataArgs): Promise<unknown> {
  if (!METADATA_VM_STATES.has(row.vm_state) || row.task_state !== null) {
    throw new ConflictError(`Cannot 'update_metadata' instance ${row.uuid} while it is in vm_state ${row.vm_state}${row.task_state === null ? '' : ` task_state ${row.task_state}`}`)
  }
  const current = JSON.parse(row.metadata) as Record<string, string>
  let next: Record<string, string>
  if (typeof args.remove === 'string') {
    if (!Object.hasOwn(current, args.remove)) throw new NotFoundError('Metadata item was not found')
    next = Object.fromEntries(Object.entries(current).filter(([k]) => k !== args.remove))
  } else {
    if (!isStringMap(args.metadata)) throw new InvalidError('metadata must be an object of strings')
    next = args.mode === 'merge' ? { ...current, ...args.metadata } : { ...args.metadata }
  }
  const changed = await d.db.transaction().execute((tx) => d.store.change(tx, row.uuid, { metadata: JSON.stringify(next) }, { version: row.version }))
  if (changed === undefined) throw new ConflictError(`Instance ${row.uuid} changed concurrently, try again`)
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  return d.store.toRecord(changed)
}
