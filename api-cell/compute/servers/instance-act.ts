import type { Response } from 'express'
import type { InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { ConflictError } from '../../../shared/errors.js'
import { CELL0_PATH } from '../../cells/cell0.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'

/** The caller of a request, for the locator's visibility rules. */
export function callerOf(res: Response): { projectId: string; isAdmin: boolean } {
  const a = authOf(res)
  return { projectId: a.projectId, isAdmin: a.isAdmin }
}

/**
 * Sends an instance action DOWN to the cell that owns the instance and applies the record it
 * answers to the index. A build still looking for a cell (or in cell0) and an instance whose
 * cell is down are 409s: nothing is sent, nothing changes.
 */
export async function actOnInstance(d: ComputeDeps, res: Response, uuid: string, action: string, args: unknown): Promise<unknown> {
  const mapping = await d.locator.mapping(callerOf(res), uuid)
  if (mapping.cell_path === null || mapping.cell_path === CELL0_PATH) {
    throw new ConflictError(`Cannot '${action}' instance ${uuid} while it is in vm_state ${mapping.cell_path === null ? 'building' : 'error'}`)
  }
  if (d.tree.isDown(mapping.cell_path)) {
    throw new ConflictError(`Cannot '${action}' instance ${uuid}: its cell ${mapping.cell_path} is down (status UNKNOWN)`)
  }
  const result = await d.tree.clientFor(mapping.cell_path).instanceAction(contextOf(res), { cellPath: mapping.cell_path, instanceUuid: uuid, action, args })
  if (isRecord(result)) await d.tree.applyRecord(result)
  return result
}

/** An action answered with the instance's record (not a list of actions, not null). */
export function isRecord(v: unknown): v is InstanceRecord {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { version?: unknown }).version === 'number' && typeof (v as { cellPath?: unknown }).cellPath === 'string'
}
