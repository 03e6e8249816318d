/**
 * Instance events on the wire: {@link InstanceEvent} <-> `message InstanceEvent` of
 * proto/cell.proto, whose index fields travel as the typed `InstanceIndexPayload` (and a build
 * handed back up as a typed `BuildSpec`, mapped by build-mapping.ts). A field added to
 * {@link InstanceIndexPayload} goes into the message with the next free number and into both
 * functions here; test/unit/shared/cell-link/event-mapping.test.ts fails while one is missing.
 *
 * Cells of an older version send the payload as JSON (`payload_json`): it is still read when the
 * typed payload is unset.
 */
import { InvalidError } from '../errors.js'
import type { PbBuildSpec } from './build-mapping.js'
import { buildSpecFromPb, buildSpecToPb } from './build-mapping.js'
import { checkBuildSpec } from './build-spec-schema.js'
import type { InstanceEvent, InstanceIndexPayload } from './types.js'

/** `message InstanceIndexPayload` (snake_case; unset optionals absent). */
export interface PbInstanceIndexPayload {
  uuid: string
  project_id: string
  user_id: string
  name: string
  vm_state: string
  task_state?: string
  power_state: number
  host?: string
  availability_zone?: string
  flavor_id: string
  image_ref: string
  created_at_ms: number
  updated_at_ms: number
  deleted: boolean
  tags: string[]
  reschedule?: { spec: PbBuildSpec | null; tried_cells: string[]; faults: string[] }
}

/** `message InstanceEvent`. */
export interface PbInstanceEvent {
  instance_uuid: string
  version: number
  cell_path: string
  payload_json?: string
  payload?: PbInstanceIndexPayload | null
}

/** `undefined` and `null` both become an unset optional field. */
function opt<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return (value === null || value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

/** Domain -> wire. */
export function eventToPb(e: InstanceEvent): PbInstanceEvent {
  const p = e.payload
  return {
    instance_uuid: e.instanceUuid,
    version: e.version,
    cell_path: e.cellPath,
    payload: {
      uuid: p.uuid,
      project_id: p.projectId,
      user_id: p.userId,
      name: p.name,
      vm_state: p.vmState,
      ...opt('task_state', p.taskState),
      power_state: p.powerState,
      ...opt('host', p.host),
      ...opt('availability_zone', p.availabilityZone),
      flavor_id: p.flavorId,
      image_ref: p.imageRef,
      created_at_ms: p.createdAt,
      updated_at_ms: p.updatedAt,
      deleted: p.deleted,
      tags: [...(p.tags ?? [])],
      ...opt(
        'reschedule',
        p.reschedule && { spec: buildSpecToPb(p.reschedule.spec), tried_cells: [...p.reschedule.triedCells], faults: [...p.reschedule.faults] },
      ),
    },
  }
}

/**
 * Wire -> domain. Throws {@link InvalidError} for an event whose payload cannot be read (the
 * receiver then applies nothing of its batch and reads the stream again).
 */
export function eventFromPb(e: PbInstanceEvent): InstanceEvent {
  const head = { instanceUuid: e.instance_uuid, version: e.version, cellPath: e.cell_path }
  const p = e.payload
  if (p === null || p === undefined) {
    if (e.payload_json === undefined || e.payload_json === '') throw new InvalidError(`event ${e.instance_uuid}@${e.version} carries no payload`)
    return { ...head, payload: JSON.parse(e.payload_json) as InstanceIndexPayload }
  }
  const r = p.reschedule
  if (r !== undefined && (r.spec === null || r.spec === undefined)) throw new InvalidError(`event ${e.instance_uuid}@${e.version} hands back a build without its spec`)
  const payload: InstanceIndexPayload = {
    uuid: p.uuid,
    projectId: p.project_id,
    userId: p.user_id,
    name: p.name,
    vmState: p.vm_state,
    taskState: p.task_state ?? null,
    powerState: p.power_state,
    host: p.host ?? null,
    availabilityZone: p.availability_zone ?? null,
    flavorId: p.flavor_id,
    imageRef: p.image_ref,
    createdAt: p.created_at_ms,
    updatedAt: p.updated_at_ms,
    deleted: p.deleted,
    // A typed payload comes from a cell that knows tags: empty means none (the index clears them).
    tags: [...(p.tags ?? [])],
    // The build handed back is checked as a build sent down is: bounds, and the instance it names.
    ...opt('reschedule', r && { spec: checkBuildSpec({ instanceUuid: e.instance_uuid, spec: buildSpecFromPb(r.spec!) }), triedCells: [...r.tried_cells], faults: [...r.faults] }),
  }
  return { ...head, payload }
}
