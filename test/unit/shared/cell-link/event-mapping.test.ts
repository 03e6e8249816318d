import * as protoLoader from '@grpc/proto-loader'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { PbInstanceEvent } from '../../../../shared/cell-link/event-mapping.js'
import { buildSpecToPb } from '../../../../shared/cell-link/build-mapping.js'
import { eventFromPb, eventToPb } from '../../../../shared/cell-link/event-mapping.js'
import { updateFromPb, updateToPb } from '../../../../shared/cell-link/mapping.js'
import type { PbCellUpdate } from '../../../../shared/cell-link/proto.js'
import { cellService } from '../../../../shared/cell-link/proto.js'
import type { CellUpdate, InstanceEvent } from '../../../../shared/cell-link/types.js'
import { InvalidError } from '../../../../shared/errors.js'
import { packageRoot } from '../../../../shared/paths.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'
import { PORT_A, PORT_B } from '../../../helpers/network-info.js'

const U1 = '11111111-1111-4111-8111-111111111111'

const plain: InstanceEvent = {
  instanceUuid: U1,
  version: 4,
  cellPath: 'api!r1!a',
  payload: {
    uuid: U1,
    projectId: 'p',
    userId: 'u',
    name: 'vm',
    vmState: 'active',
    taskState: null,
    powerState: 1,
    host: 'h1',
    availabilityZone: null,
    flavorId: '1',
    imageRef: 'img',
    createdAt: 1_765_000_000_000,
    updatedAt: 1_765_000_000_500,
    deleted: false,
    tags: ['web'],
  },
}
/** The last event of a leaf that gave the build up, every field set. */
const handedBack: InstanceEvent = {
  ...plain,
  version: 9,
  payload: {
    ...plain.payload,
    vmState: 'deleted',
    taskState: 'spawning',
    host: null,
    availabilityZone: 'az1',
    deleted: true,
    reschedule: {
      // The server's ports go back up with the build: the next leaf renders the same interfaces.
      spec: buildSpecFixture({ instanceUuid: U1, createdAt: 1, retry: { attempt: 1, triedCells: ['api!r1!b'], faults: ['x'], versionBase: 3 }, networkInfo: [PORT_A, PORT_B] }),
      triedCells: ['api!r1!b', 'api!r1!a'],
      faults: ['x', 'no host could spawn it'],
    },
  },
}

/** What the real wire does to a Watch update: encode with proto/cell.proto, decode as the client does. */
const watch = cellService().service['Watch']
if (watch === undefined) throw new Error('no Watch method in proto/cell.proto')
const overTheWire = (u: CellUpdate): CellUpdate | undefined => updateFromPb(watch!.responseDeserialize(watch!.responseSerialize(updateToPb(u))) as PbCellUpdate)

describe('instance event mapping', () => {
  it.each([
    ['a plain event', plain],
    ['an event handing a build back up', handedBack],
  ])('carries %s over the wire unchanged', (_what, ev) => {
    const u: CellUpdate = { kind: 'events', events: [ev], cursor: 12 }
    expect(overTheWire(u)).toEqual(u)
  })

  it('maps every field of message InstanceIndexPayload (a field added to the proto and not here fails)', () => {
    const def = protoLoader.loadSync(join(packageRoot(), 'proto', 'cell.proto'), { keepCase: true })
    const t = def['federation.cell.v1.InstanceIndexPayload'] as unknown as { type: { field: Array<{ name: string }> } }
    const every: InstanceEvent = { ...handedBack, payload: { ...handedBack.payload, host: 'h1' } }
    expect(Object.keys(eventToPb(every).payload ?? {}).sort()).toEqual(t.type.field.map((f) => f.name).sort())
  })

  it('reads the JSON payload of a cell of an older version', () => {
    const old: PbInstanceEvent = { instance_uuid: U1, version: 4, cell_path: 'api!r1!a', payload_json: JSON.stringify(plain.payload), payload: null }
    expect(eventFromPb(old)).toEqual(plain)
  })

  it.each<[string, PbInstanceEvent]>([
    ['no payload at all', { instance_uuid: U1, version: 4, cell_path: 'api!r1!a', payload_json: '', payload: null }],
    ['a build handed back without its spec', { ...eventToPb(handedBack), payload: { ...eventToPb(handedBack).payload!, reschedule: { spec: null, tried_cells: [], faults: [] } } }],
    [
      'a build handed back for another instance',
      { ...eventToPb(handedBack), payload: { ...eventToPb(handedBack).payload!, reschedule: { ...eventToPb(handedBack).payload!.reschedule!, spec: buildSpecToPb(buildSpecFixture()) } } },
    ],
  ])('refuses an event with %s', (_what, pb) => {
    expect(() => eventFromPb(pb)).toThrow(InvalidError)
  })
})
