import type { Response } from 'express'
import type { FlavorSnapshot, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { AppError, ConflictError } from '../../../shared/errors.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps, CrossCell } from '../deps.js'
import { regionOf } from '../request-scope.js'
import { inFlightSaga } from './saga-store.js'
import { cellOfHost, crossCellAllowed } from './targets.js'

/** A move action as move-actions.ts sends it to the instance's own cell. */
export type InCell = () => Promise<unknown>

/** Nova's "no valid host" 400 of a move the instance's own cell could not place. */
const noValidHost = (err: unknown): boolean => err instanceof AppError && err.status === 400 && err.message.startsWith('No valid host')

/**
 * A cold migration or a resize: within the instance's cell (move-actions.ts's `inCell`), or to
 * another cell when an admin names a host there (migrate 2.56), or when the own cell has no valid
 * host and the cross-cell rule lets this caller move across cells. Answers whether it went across.
 */
export async function migrateOrResize(
  d: ComputeDeps,
  res: Response,
  uuid: string,
  a: { kind: 'migration' | 'resize'; host?: string; flavor?: FlavorSnapshot },
  inCell: InCell,
): Promise<'in-cell' | 'cross-cell'> {
  const x = d.crossCell
  const auth = authOf(res)
  const mapping = await d.locator.mapping({ projectId: auth.projectId, isAdmin: auth.isAdmin }, uuid)
  if ((await inFlightSaga(d.db, uuid)) !== undefined) throw new ConflictError(`Cannot '${a.kind === 'resize' ? 'resize' : 'migrate'}' instance ${uuid}: it is moving to another cell`)
  if (x !== undefined && a.host !== undefined && mapping.cell_path !== null) {
    const cell = await cellOfHost(d.db, a.host)
    if (cell !== undefined && cell !== mapping.cell_path) {
      await startCrossCell(d, x, res, uuid, mapping.cell_path, { ...a, targets: [cell] })
      return 'cross-cell'
    }
  }
  try {
    await inCell()
    return 'in-cell'
  } catch (err) {
    if (x === undefined || a.host !== undefined || mapping.cell_path === null || !noValidHost(err) || !crossCellAllowed(x.rule, auth.isAdmin)) throw err
    await startCrossCell(d, x, res, uuid, mapping.cell_path, { ...a, targets: undefined })
    return 'cross-cell'
  }
}

async function startCrossCell(
  d: ComputeDeps,
  x: CrossCell,
  res: Response,
  uuid: string,
  sourceCell: string,
  a: { kind: 'migration' | 'resize'; host?: string; flavor?: FlavorSnapshot; targets: readonly string[] | undefined },
): Promise<void> {
  const auth = authOf(res)
  const found = await d.locator.get(contextOf(res), { projectId: auth.projectId, isAdmin: auth.isAdmin }, uuid)
  const current: InstanceRecord = found.record
  const flavor = a.flavor ?? current.flavor
  // A region's endpoint schedules into its region only; an admin's named host goes where it is.
  const region = regionOf(res)
  const targets = a.targets ?? x.targets(flavor, [sourceCell]).filter((c) => region === null || c.startsWith(`api!${region}!`) || c === `api!${region}`)
  await x.moves.start(contextOf(res), {
    uuid,
    kind: a.kind,
    sourceCell,
    flavor,
    oldFlavor: current.flavor,
    targets,
    ...(a.host === undefined ? {} : { host: a.host }),
  })
}

/**
 * Confirm or revert of an instance whose move crossed cells: handled by the saga (the target
 * cell's copy is in VERIFY_RESIZE). Answers undefined when the instance has no such move (the
 * action goes to its cell as usual), else the flavor to charge quota for (confirm) or null (revert).
 */
export async function confirmOrRevertCrossCell(d: ComputeDeps, res: Response, uuid: string, action: 'confirm' | 'revert'): Promise<{ uuid: string; flavor: FlavorSnapshot } | null | undefined> {
  const x = d.crossCell
  if (x === undefined) return undefined
  const m = await inFlightSaga(d.db, uuid)
  if (m === undefined) return undefined
  if (m.status !== 'finished') throw new ConflictError(`Cannot '${action}Resize' instance ${uuid} while its move to another cell is in status ${m.status}`)
  if (action === 'confirm') return { uuid, flavor: await x.moves.confirm(contextOf(res), m) }
  await x.moves.revert(contextOf(res), m)
  return null
}
