import type { Selectable } from 'kysely'
import type { RequestContext } from '../../../shared/context.js'
import { ConflictError, InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { InstancesTable } from '../../db/schema.js'
import type { ConductorDeps } from '../deps.js'

/** Nova's `MAX_INSTANCE_TAGS`. */
const MAX_TAGS = 50

/** The vm_states in which Nova's server tags API changes tags (and no task may be running). */
const TAG_VM_STATES: ReadonlySet<string> = new Set(['active', 'paused', 'suspended', 'stopped', 'shelved', 'shelved_offloaded'])

/** What `set_tags` carries down the tree: exactly one of `tags` (replace), `add` or `remove`. */
interface TagArgs {
  readonly tags?: unknown
  readonly add?: unknown
  readonly remove?: unknown
}

const isTag = (t: unknown): t is string => typeof t === 'string' && t.length >= 1 && t.length <= 60 && !t.includes(',') && !t.includes('/')

/**
 * Changes an instance's tags in this cell under its version check (two concurrent adds cannot
 * lose one another: the second compare-and-swap fails, 409). The API checked the request
 * already; the leaf checks again, since it keeps the truth. 409 outside Nova's states, 404 when
 * removing a tag the instance does not have.
 */
export async function setTags(d: ConductorDeps, ctx: RequestContext, row: Selectable<InstancesTable>, args: TagArgs): Promise<unknown> {
  if (!TAG_VM_STATES.has(row.vm_state) || row.task_state !== null) {
    throw new ConflictError(`Cannot 'update tags' instance ${row.uuid} while it is in vm_state ${row.vm_state}${row.task_state === null ? '' : ` task_state ${row.task_state}`}`)
  }
  const current = JSON.parse(row.tags) as string[]
  let next: string[]
  if (Array.isArray(args.tags)) {
    if (!args.tags.every(isTag)) throw new InvalidError('Invalid tag')
    next = [...new Set(args.tags)]
  } else if (isTag(args.add)) {
    next = current.includes(args.add) ? current : [...current, args.add]
  } else if (typeof args.remove === 'string') {
    if (!current.includes(args.remove)) throw new NotFoundError(`Tag ${args.remove} could not be found on instance ${row.uuid}.`)
    next = current.filter((t) => t !== args.remove)
  } else throw new InvalidError('set_tags needs tags, add or remove')
  if (next.length > MAX_TAGS) throw new InvalidError(`The number of tags exceeded the per-server limit ${MAX_TAGS}`)
  const changed = await d.db.transaction().execute((tx) => d.store.change(tx, row.uuid, { tags: JSON.stringify(next) }, { version: row.version }))
  if (changed === undefined) throw new ConflictError(`Instance ${row.uuid} changed concurrently, try again`)
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  return d.store.toRecord(changed)
}
