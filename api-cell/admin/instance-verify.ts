import type { RequestContext } from '../../shared/context.js'
import { NotFoundError } from '../../shared/errors.js'
import { CELL0_PATH } from '../cells/cell0.js'
import { askTimeoutContext, messageOf } from './cell-admin-call.js'
import type { AdminDeps } from './deps.js'

/** Where an instance is mapped and whether that cell really has it. */
export interface InstanceVerification {
  readonly uuid: string
  readonly project_id: string
  /** Null while its build is still looking for a cell. */
  readonly cell_path: string | null
  /** The owning cell answered that it has the (not deleted) instance; null when it could not be asked. */
  readonly present: boolean | null
  readonly vm_state: string | null
  readonly host: string | null
  readonly detail: string
}

/** A record as a cell returns it (the fields read here). */
interface FoundRecord {
  readonly uuid?: unknown
  readonly vmState?: unknown
  readonly host?: unknown
  readonly deleted?: unknown
}

/**
 * Checks an instance's mapping against its cell (Nova's `verify_instance`, extended to the tree):
 * the mapping must exist (else 404), and the leaf it names (or cell0) is asked for the instance.
 */
export async function verifyInstance(d: AdminDeps, ctx: RequestContext, uuid: string): Promise<InstanceVerification> {
  const m = await d.db.selectFrom('instance_mappings').selectAll().where('instance_uuid', '=', uuid).executeTakeFirst()
  if (m === undefined) throw new NotFoundError(`Instance ${uuid} has no mapping.`, { uuid })
  const base = { uuid, project_id: m.project_id, cell_path: m.cell_path }
  if (m.cell_path === null) {
    return { ...base, present: false, vm_state: 'building', host: null, detail: 'the build is still looking for a cell' }
  }
  let found: FoundRecord | undefined
  try {
    if (m.cell_path === CELL0_PATH) found = (await d.cell0.get([uuid]))[0] as FoundRecord | undefined
    else found = (await d.tree.clientFor(m.cell_path).getInstances(askTimeoutContext(ctx), { cellPath: m.cell_path, uuids: [uuid] }))[0] as FoundRecord | undefined
  } catch (err) {
    return { ...base, present: null, vm_state: null, host: null, detail: `cell ${m.cell_path} could not be asked: ${messageOf(err)}` }
  }
  if (found === undefined) return { ...base, present: false, vm_state: null, host: null, detail: `cell ${m.cell_path} does not have it` }
  const vmState = typeof found.vmState === 'string' ? found.vmState : null
  const host = typeof found.host === 'string' ? found.host : null
  if (found.deleted === true) return { ...base, present: false, vm_state: vmState, host, detail: `cell ${m.cell_path} has it deleted` }
  return { ...base, present: true, vm_state: vmState, host, detail: `cell ${m.cell_path} has it` }
}
