import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ComputeDriver } from '../../child-cell/compute/virt/driver.js'
import { writeTestHostXml } from '../../child-cell/compute/virt/host-xml.js'
import { LibvirtDriver } from '../../child-cell/compute/virt/libvirt-driver.js'
import { interfacesOf, nwfilterXml, portsInMetadata } from '../../child-cell/compute/virt/libvirt-network-xml.js'
import { buildInstance } from '../../child-cell/conductor/operations/build.js'
import { ConductorApi } from '../../child-cell/conductor/rpc-api.js'
import { principalName } from '../../shared/bus/caller.js'
import type { PbBuildRequest } from '../../shared/cell-link/build-mapping.js'
import { buildCallFromPb, buildRequestToPb } from '../../shared/cell-link/build-mapping.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import { recordFromSpec } from '../../shared/cell-link/build-spec.js'
import { cellService } from '../../shared/cell-link/proto.js'
import type { InstanceIndexPayload } from '../../shared/cell-link/types.js'
import { systemContext } from '../../shared/context.js'
import { buildSpecFixture } from '../helpers/build-spec.js'
import type { LeafCell } from '../helpers/leaf-cell.js'
import { startLeafCell } from '../helpers/leaf-cell.js'
import { PORT_A, PORT_B } from '../helpers/network-info.js'
import { waitFor } from '../helpers/os-client.js'

const CELL = 'api!r!net'
const ctx = { request_id: 'req-net', user_id: 'u', project_id: 'p', roles: ['admin'] }

/** The build as a parent sends it: encoded with proto/cell.proto, decoded and checked as the leaf's agent does. */
function overTheWire(spec: BuildSpec): BuildSpec {
  const build = cellService().service['Build']
  if (build === undefined) throw new Error('no Build method in proto/cell.proto')
  const req = build.requestDeserialize(build.requestSerialize(buildRequestToPb(ctx, { instanceUuid: spec.instanceUuid, spec, triedCells: [] }))) as PbBuildRequest
  return buildCallFromPb(req).spec
}

/**
 * Issue #13: a build whose spec carries the server's ports (as the API cell's network service puts
 * them there) ends, in a leaf whose hosts run libvirt's test driver, with a domain holding one
 * bridge interface per port and the port's nwfilter; the cell DB keeps them, so that a reboot, a
 * rebuild and a host restart's guest re-creation render the same interfaces.
 */
describe('a build with network info, on libvirt test-driver hosts', () => {
  let dir = ''
  let cell: LeafCell
  let hostCounter = 0

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'network-build-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  beforeEach(async () => {
    const makeDriver = async (host: string, memoryMb: number): Promise<ComputeDriver> => {
      const n = ++hostCounter
      const uri = await writeTestHostXml({ path: join(dir, `${host}-${n}.xml`), vcpus: 8, memoryMb })
      return new LibvirtDriver({ uri, diskGb: 100, saveDir: join(dir, `save-${n}`) })
    }
    cell = await startLeafCell({ cellPath: CELL, hosts: [['h1', 16384], ['h2', 8192]], makeDriver, maxBuildAttempts: 2 })
  })
  afterEach(async () => {
    await cell.stop()
  })

  const row = (uuid: string) => cell.database.db.selectFrom('instances').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow()
  const settled = (uuid: string, what: string) =>
    waitFor(what, async () => {
      const r = await row(uuid)
      return r.task_state === null && r.vm_state === 'active' ? r : undefined
    })
  /** The live domain XML of the guest on `host`. */
  const domainOf = async (host: string, uuid: string): Promise<string> => {
    const driver = cell.hostDrivers.get(host)
    if (driver === undefined) throw new Error(`no driver for ${host}`)
    return (await driver.migrationSource(uuid)).definition
  }
  const expectPorts = (xml: string): void => {
    expect(interfacesOf(xml).map((i) => [i.portId, i.macAddress, i.bridge, i.filter])).toEqual([
      [PORT_A.portId, PORT_A.macAddress, PORT_A.bridge, `federation-${PORT_A.portId}`],
      [PORT_B.portId, PORT_B.macAddress, PORT_B.bridge, null],
    ])
    expect(portsInMetadata(xml).get(PORT_A.macAddress)?.filterXml).toBe(nwfilterXml(PORT_A))
  }

  it('renders the ports into the domain, and renders them again after a reboot, a rebuild and a host restart', async () => {
    const spec = overTheWire(buildSpecFixture({ networkInfo: [PORT_A, PORT_B] }))
    expect(spec.networkInfo).toEqual([PORT_A, PORT_B])
    const { host } = await buildInstance(cell.conductor.deps, systemContext(), spec)
    const built = await settled(spec.instanceUuid, 'ACTIVE')
    expect(built.host).toBe(host)
    expect(JSON.parse(built.network_info ?? 'null')).toEqual([PORT_A, PORT_B])
    const xml = await domainOf(host, spec.instanceUuid)
    expectPorts(xml)
    expect(xml).toContain(`<parameter name='IP' value='10.0.0.5'/>`)

    const api = new ConductorApi(cell.bus.as(principalName(CELL, 'agent')))
    await api.instanceAction(systemContext(), { uuid: spec.instanceUuid, action: 'reboot', args: { type: 'HARD' }, isAdmin: true })
    await settled(spec.instanceUuid, 'rebooted')
    expectPorts(await domainOf(host, spec.instanceUuid))

    const before = (await row(spec.instanceUuid)).version
    await api.instanceAction(systemContext(), { uuid: spec.instanceUuid, action: 'rebuild', args: { imageRef: 'img-2' }, isAdmin: true })
    await waitFor('rebuilt', async () => {
      const r = await row(spec.instanceUuid)
      return r.version > before && r.task_state === null ? r : undefined
    })
    const rebuilt = await domainOf(host, spec.instanceUuid)
    expect(rebuilt).toContain('img-2')
    expectPorts(rebuilt)

    // libvirt's test driver forgets its guests with its connection: compute recreates them at start.
    await cell.restartCompute(host)
    expect(await cell.hostDrivers.get(host)?.listInstances()).toEqual([spec.instanceUuid])
    expectPorts(await domainOf(host, spec.instanceUuid))
  })

  it('a cold migration renders the same ports on the target host', async () => {
    const spec = overTheWire(buildSpecFixture({ networkInfo: [PORT_A, PORT_B] }))
    const { host } = await buildInstance(cell.conductor.deps, systemContext(), spec)
    await settled(spec.instanceUuid, 'ACTIVE')
    const api = new ConductorApi(cell.bus.as(principalName(CELL, 'agent')))
    await api.instanceAction(systemContext(), { uuid: spec.instanceUuid, action: 'migrate', args: {}, isAdmin: true })
    const resized = await waitFor('VERIFY_RESIZE', async () => {
      const r = await row(spec.instanceUuid)
      return r.vm_state === 'resized' && r.task_state === null ? r : undefined
    })
    expect(resized.host).not.toBe(host)
    expectPorts(await domainOf(resized.host ?? '', spec.instanceUuid))
  })

  it('a cross-cell move\'s copy in this cell keeps the ports of the source\'s record', async () => {
    const uuid = randomUUID()
    const record = { ...recordFromSpec(buildSpecFixture({ instanceUuid: uuid })), cellPath: 'api!r!other', host: 'src', networkInfo: [PORT_A, PORT_B] }
    const flavor = record.flavor
    const api = new ConductorApi(cell.bus.as(principalName(CELL, 'agent')))
    await api.instanceAction(systemContext(), { uuid, action: 'xcell_target_prepare', args: { instance: record, keyData: null, actions: [], flavor, kind: 'migrate' }, isAdmin: true })
    const copy = await row(uuid)
    expect(JSON.parse(copy.network_info ?? 'null')).toEqual([PORT_A, PORT_B])
  })

  it('a build no host here could spawn goes back up the tree with its ports', async () => {
    for (const driver of cell.hostDrivers.values()) driver.spawn = () => Promise.reject(new Error('this hypervisor is broken'))
    const spec = overTheWire(buildSpecFixture({ networkInfo: [PORT_A, PORT_B] }))
    await buildInstance(cell.conductor.deps, systemContext(), spec)
    const last = await waitFor('handed back', async () => {
      const events = await cell.database.db.selectFrom('outbox').select('payload').where('instance_uuid', '=', spec.instanceUuid).orderBy('id').execute()
      const payload = JSON.parse(events.at(-1)?.payload ?? '{}') as InstanceIndexPayload
      return payload.reschedule
    })
    expect(last.spec.networkInfo).toEqual([PORT_A, PORT_B])
  })

  it('a build without network info gets no interface and stores none', async () => {
    const spec = overTheWire(buildSpecFixture())
    const { host } = await buildInstance(cell.conductor.deps, systemContext(), spec)
    const built = await settled(spec.instanceUuid, 'ACTIVE')
    expect(built.network_info).toBeNull()
    expect(await cell.hostDrivers.get(host)?.getInterfaces(spec.instanceUuid)).toEqual([])
  })
})
