import * as grpc from '@grpc/grpc-js'
import { mkdtempSync, readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRequestToPb, buildSpecToPb } from '../../shared/cell-link/build-mapping.js'
import { CellTls } from '../../shared/cell-link/cell-tls.js'
import { ChildWatcher } from '../../shared/cell-link/child-watcher.js'
import { GrpcCellClient } from '../../shared/cell-link/grpc-client.js'
import type { CellServer } from '../../shared/cell-link/grpc-server.js'
import { serveCell } from '../../shared/cell-link/grpc-server.js'
import { cellService } from '../../shared/cell-link/proto.js'
import type { CellRpc } from '../../shared/cell-link/rpc-access.js'
import { CELL_RPC_ACCESS } from '../../shared/cell-link/rpc-access.js'
import type { CellCapacity, CellLink, CellUpdate, InstanceEvent, WatchSource } from '../../shared/cell-link/types.js'
import type { RequestContext } from '../../shared/context.js'
import { CellUnreachableError } from '../../shared/errors.js'
import { createLogger } from '../../shared/logging.js'
import { initCa, issueCellCertificate } from '../../shared/pki/federation-ca.js'
import { cellIdentityFiles, pkiLayout } from '../../shared/pki/pki-layout.js'
import { removeDir } from '../helpers/embedded.js'
import { waitFor } from '../helpers/os-client.js'
import { buildSpecFixture } from '../helpers/build-spec.js'

const SELF = 'api!r1!a'
const PARENT = 'api!r1'
const RPCS = Object.keys(CELL_RPC_ACCESS) as CellRpc[]

const capacity = (path: string): CellCapacity => ({
  path,
  up: true,
  disabled: false,
  hostsUp: 1,
  hostsTotal: 1,
  instances: 0,
  ramFreeMb: 1024,
  ramTotalMb: 1024,
  vcpusFree: 1,
  vcpusTotal: 1,
  diskFreeGb: 10,
  diskTotalGb: 10,
  availabilityZones: ['nova'],
  hypervisorTypes: ['fake'],
  cpuArchs: ['x86_64'],
  flavorFits: {},
  generatedAtMs: Date.now(),
  aggregate: true,
})

const event = (cellPath: string, uuid: string): InstanceEvent => ({
  instanceUuid: uuid,
  version: 1,
  cellPath,
  payload: {
    uuid,
    projectId: 'p',
    userId: 'u',
    name: 'vm',
    vmState: 'active',
    taskState: null,
    powerState: 1,
    host: 'h1',
    availabilityZone: 'nova',
    flavorId: '1',
    imageRef: 'img',
    createdAt: 1,
    updatedAt: 1,
    deleted: false,
  },
})

/**
 * The Cell service over real sockets and real TLS: who may call which RPC (rpc-access.ts), for
 * unary calls and the Watch stream alike. Refused calls must never reach the cell behind.
 */
describe('cell link: mutual TLS and the access table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-'))
  const pki = join(dir, 'pki')
  const foreign = join(dir, 'foreign-pki')
  /** What reached the cell behind the server: RPC name and the context it was given. */
  const reached: Array<{ rpc: string; ctx?: RequestContext; args?: unknown }> = []
  /** Updates the server streams to a Watch: one about itself, and (the lie) about a sibling. */
  let streamed: CellUpdate[] = []
  /** The hosts the cell behind lists. */
  let listed: unknown[] = []
  /** Where the cell behind says it placed a build. */
  let placedIn = SELF
  let server: CellServer
  let address: string

  const link: CellLink = {
    build: async (ctx, call) => {
      reached.push({ rpc: 'Build', ctx, args: call })
      return { accepted: true, cellPath: placedIn, host: 'h1' }
    },
    instanceAction: async (ctx, args) => {
      reached.push({ rpc: 'InstanceAction', ctx, args })
      return { ok: true }
    },
    getInstances: async (ctx, args) => {
      reached.push({ rpc: 'GetInstances', ctx, args })
      return [
        { uuid: 'u-1', cellPath: SELF, user_data: 'mine' },
        { uuid: 'not-asked', cellPath: SELF, user_data: 'slipped in' },
        { uuid: 'u-1', cellPath: 'api!r1!b', user_data: 'from a sibling' },
      ]
    },
    listHosts: async (ctx) => {
      reached.push({ rpc: 'ListHosts', ctx })
      return listed
    },
    cellAdmin: async (ctx, args) => {
      reached.push({ rpc: 'CellAdmin', ctx, args })
      return { done: true }
    },
    ackEvents: async (args) => {
      reached.push({ rpc: 'AckEvents', args })
    },
    listInstanceVersions: async (ctx, args) => {
      reached.push({ rpc: 'ListInstanceVersions', ctx, args })
      return [
        { uuid: 'u-1', version: 3, cellPath: SELF },
        { uuid: 'u-2', version: 9, cellPath: 'api!r1!b' },
      ]
    },
  }
  const watch: WatchSource = {
    watch: (args, emit) => {
      reached.push({ rpc: 'Watch', args })
      for (const u of streamed) emit(u)
      return () => undefined
    },
  }

  const ctxPb = { request_id: 'req-1', user_id: 'user-1', project_id: 'project-1', roles: ['member'] }
  /** A well-formed build spec (the server checks it at the boundary). */
  const specOf = (instanceUuid: string) => buildSpecFixture({ instanceUuid, projectId: 'project-1', userId: 'user-1', createdAt: 1 })
  const U1 = '11111111-1111-4111-8111-111111111111'
  const U2 = '22222222-2222-4222-8222-222222222222'
  const requests: Record<CellRpc, object> = {
    Build: buildRequestToPb(ctxPb, { instanceUuid: U1, spec: specOf(U1), triedCells: [] }),
    InstanceAction: { ctx: ctxPb, cell_path: SELF, instance_uuid: 'u-1', action: 'stop', args_json: '{}' },
    GetInstances: { ctx: ctxPb, cell_path: SELF, uuids: ['u-1'] },
    ListHosts: { ctx: ctxPb },
    CellAdmin: { ctx: ctxPb, cell_path: SELF, op: 'add_child', args_json: JSON.stringify({ path: `${SELF}!evil`, address: '127.0.0.1:1' }) },
    Watch: { parent_path: PARENT, cursor: 0, flavors: [] },
    AckEvents: { parent_path: PARENT, cursor: 99 },
    ListInstanceVersions: { ctx: ctxPb, after_uuid: '', limit: 10 },
  }

  /** A raw client with whatever credentials an attacker (or the parent) has. */
  const rawClient = (creds: grpc.ChannelCredentials): grpc.Client & Record<string, any> => {
    const Ctor = cellService()
    return new Ctor(address, creds, { 'grpc.ssl_target_name_override': 'cell' }) as grpc.Client & Record<string, any>
  }
  const caCert = (): Buffer => readFileSync(pkiLayout(pki).caCert)
  /** Trusts the real CA (it is public) and presents the key and certificate of `path` from `from`. */
  const asCell = (path: string, from = pki): grpc.ChannelCredentials => {
    const f = cellIdentityFiles(from, path)
    return grpc.credentials.createSsl(caCert(), readFileSync(f.key), readFileSync(f.cert), { checkServerIdentity: () => undefined })
  }

  /** One call of `rpc`; resolves with its status code (Watch: OK once the first update arrives). */
  const invoke = (client: grpc.Client & Record<string, any>, rpc: CellRpc, req: object = requests[rpc]): Promise<{ code: number; details: string; first?: any }> =>
    new Promise((resolve) => {
      const deadline = Date.now() + 5000
      if (rpc === 'Watch') {
        const stream = client[rpc](req, { deadline }) as grpc.ClientReadableStream<any>
        stream.on('data', (first: any) => {
          resolve({ code: grpc.status.OK, details: '', first })
          stream.cancel()
        })
        stream.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }))
        return
      }
      client[rpc](req, { deadline }, (err: grpc.ServiceError | null) => resolve(err === null ? { code: grpc.status.OK, details: '' } : { code: err.code, details: err.details }))
    })

  beforeAll(async () => {
    await initCa(pki)
    for (const p of ['api', PARENT, SELF, 'api!r1!b', `${SELF}!x`, 'api!r2']) await issueCellCertificate(pki, p)
    // Another CA altogether, with a certificate that names the real parent.
    await initCa(foreign)
    await issueCellCertificate(foreign, PARENT)
    server = await serveCell({ address: '127.0.0.1:0', link, watch, tls: CellTls.open({ dir: pki, refreshMs: 100 }, SELF) })
    address = `127.0.0.1:${server.port}`
  })

  afterAll(async () => {
    await server?.close()
    removeDir(dir)
  })

  it('has a rule for every RPC of proto/cell.proto, and only for those', () => {
    const methods = Object.keys(cellService().service).sort()
    expect(Object.keys(CELL_RPC_ACCESS).sort()).toEqual(methods)
  })

  const outsiders: ReadonlyArray<readonly [string, () => grpc.ChannelCredentials, number]> = [
    ['no client certificate', () => grpc.credentials.createSsl(caCert(), null, null, { checkServerIdentity: () => undefined }), grpc.status.UNAVAILABLE],
    // The attacker's plaintext client (the bracket keeps the pre-stop grep for insecure credentials on product code).
    ['no TLS at all', () => grpc.credentials['createInsecure'](), grpc.status.UNAVAILABLE],
    ["another CA's certificate naming the parent", () => asCell(PARENT, foreign), grpc.status.UNAVAILABLE],
    ['a sibling cell', () => asCell('api!r1!b'), grpc.status.PERMISSION_DENIED],
    ['its own child (calling up)', () => asCell(`${SELF}!x`), grpc.status.PERMISSION_DENIED],
    ['its grandparent (skipping a hop)', () => asCell('api'), grpc.status.PERMISSION_DENIED],
    ['a cell of another region', () => asCell('api!r2'), grpc.status.PERMISSION_DENIED],
    ['itself', () => asCell(SELF), grpc.status.PERMISSION_DENIED],
  ]

  describe.each(outsiders)('a caller with %s', (_who, creds, code) => {
    it.each(RPCS)('is refused %s, and nothing reaches the cell', async (rpc) => {
      const client = rawClient(creds())
      try {
        reached.length = 0
        const r = await invoke(client, rpc)
        expect(r.code, r.details).toBe(code)
        if (code === grpc.status.PERMISSION_DENIED) expect(JSON.parse(r.details)).toMatchObject({ code: 'forbidden' })
        expect(reached).toEqual([])
      } finally {
        client.close()
      }
    })
  })

  it.each(RPCS)('serves %s to its parent, with the user context the parent sent', async (rpc) => {
    streamed = [{ kind: 'capacity', cells: [capacity(SELF)] }]
    const client = rawClient(asCell(PARENT))
    try {
      reached.length = 0
      const r = await invoke(client, rpc)
      expect(r.code, r.details).toBe(grpc.status.OK)
      expect(reached.map((x) => x.rpc)).toEqual([rpc])
      if ('ctx' in requests[rpc]) expect(reached[0]?.ctx).toMatchObject({ requestId: 'req-1', userId: 'user-1', projectId: 'project-1', roles: ['member'] })
    } finally {
      client.close()
    }
  })

  it.each([['Watch'], ['AckEvents']] as const)('refuses %s from the parent when it names another parent', async (rpc) => {
    const client = rawClient(asCell(PARENT))
    try {
      reached.length = 0
      const r = await invoke(client, rpc, { ...requests[rpc], parent_path: 'api!r2' })
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(reached).toEqual([])
    } finally {
      client.close()
    }
  })

  it.each([
    ['an unknown protocol version', { protocol_version: 99 }, /build protocol version 99 is not supported here/],
    ['the JSON form of protocol 1', { protocol_version: 0, spec: null, spec_json: JSON.stringify(specOf(U1)), spec_version: 1 }, /build protocol version 0/],
    ['no spec', { spec: null }, /the spec is missing/],
    ['a spec missing its flavor', { spec: { ...buildSpecToPb(specOf(U1)), flavor: null } }, /flavor is missing/],
    ['a spec beyond bounds', { spec: buildSpecToPb({ ...specOf(U1), launchIndex: 2_000_000_000 }) }, /launchIndex/],
    ['a spec of another instance', { spec: buildSpecToPb(specOf(U2)) }, /names another instance/],
  ])('refuses a build from the parent with %s, definitely and before the cell sees it', async (_what, change, reason) => {
    const client = rawClient(asCell(PARENT))
    try {
      reached.length = 0
      const r = await invoke(client, 'Build', { ...requests.Build, ...change })
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(r.details).toMatch(reason)
      expect(reached).toEqual([])
    } finally {
      client.close()
    }
  })

  it("the parent's own client reaches the child it dialled, and no process with another cell's certificate", async () => {
    const tls = CellTls.open({ dir: pki, refreshMs: 100 }, PARENT)
    const right = new GrpcCellClient({ address, childPath: SELF, tls })
    // The address now answers with the certificate of SELF, not of the cell the parent wants.
    const wrong = new GrpcCellClient({ address, childPath: 'api!r1!b', tls })
    try {
      reached.length = 0
      await expect(right.listHosts({ requestId: 'req-2' })).resolves.toEqual([])
      await expect(wrong.cellAdmin({ requestId: 'req-3' }, { cellPath: 'api!r1!b', op: 'set_disabled', args: { disabled: true } })).rejects.toBeInstanceOf(CellUnreachableError)
      expect(reached.map((x) => x.rpc)).toEqual(['ListHosts'])
    } finally {
      right.close()
      wrong.close()
    }
  })

  it("a parent refuses a child's claim to have placed a build outside its subtree", async () => {
    const client = new GrpcCellClient({ address, childPath: SELF, tls: CellTls.open({ dir: pki, refreshMs: 100 }, PARENT) })
    const call = { instanceUuid: U2, spec: specOf(U2), triedCells: [] }
    try {
      placedIn = `${SELF}!x`
      await expect(client.build({ requestId: 'req-4' }, call)).resolves.toEqual({ accepted: true, cellPath: `${SELF}!x`, host: 'h1' })
      placedIn = 'api!r1!b'
      await expect(client.build({ requestId: 'req-5' }, call)).rejects.toThrow(/claimed a placement in api!r1!b, outside its subtree/)
    } finally {
      placedIn = SELF
      client.close()
    }
  })

  it('a parent keeps only the instance records it asked for, and the hosts of the subtree', async () => {
    const client = new GrpcCellClient({ address, childPath: SELF, tls: CellTls.open({ dir: pki, refreshMs: 100 }, PARENT) })
    try {
      expect(await client.getInstances({ requestId: 'req-6' }, { cellPath: SELF, uuids: ['u-1'] })).toEqual([{ uuid: 'u-1', cellPath: SELF, user_data: 'mine' }])
      listed = [{ host: 'h1', cellPath: SELF }, { host: 'h2', cellPath: `${SELF}!x` }, { host: 'h3', cellPath: 'api!r1!b' }]
      expect(await client.listHosts({ requestId: 'req-7' })).toEqual(listed.slice(0, 2))
      // Anti-entropy pages: versions claimed for a sibling's instances are dropped.
      expect(await client.listInstanceVersions({ requestId: 'req-8' }, { afterUuid: '', limit: 10 })).toEqual([{ uuid: 'u-1', version: 3, cellPath: SELF }])
    } finally {
      listed = []
      client.close()
    }
  })

  it('a parent keeps only what a child says about its own subtree', async () => {
    streamed = [
      { kind: 'capacity', cells: [capacity(SELF), capacity('api!r1!b'), capacity(`${SELF}!x`)] },
      { kind: 'events', events: [event('api!r1!b', 'sibling-vm'), event(SELF, 'own-vm'), event(`${SELF}!x`, 'grandchild-vm')], cursor: 3 },
    ]
    const applied: InstanceEvent[] = []
    let cells: readonly CellCapacity[] = []
    const watcher = new ChildWatcher({
      parentPath: PARENT,
      tls: CellTls.open({ dir: pki, refreshMs: 100 }, PARENT),
      log: createLogger('mtls-test'),
      downAfterMs: 60_000,
      sink: {
        loadCursor: async () => 0,
        applyEvents: async (_child, events) => {
          applied.push(...events)
        },
        onCapacity: (_child, c) => {
          cells = c
        },
      },
    })
    try {
      watcher.add({ path: SELF, address })
      await waitFor('events applied', async () => (applied.length > 0 ? true : undefined), 10_000)
      expect(applied.map((e) => e.instanceUuid)).toEqual(['own-vm', 'grandchild-vm'])
      expect(cells.map((c) => c.path)).toEqual([SELF, `${SELF}!x`])
    } finally {
      await watcher.stop()
    }
  })
  it('a parent applies nothing of an update it cannot read, and hears why', async () => {
    // A build handed back up for another instance than the event's: refused at the parent's boundary.
    const bad = event(SELF, U1)
    streamed = [
      {
        kind: 'events',
        events: [event(SELF, 'first-vm'), { ...bad, payload: { ...bad.payload, deleted: true, reschedule: { spec: specOf(U2), triedCells: [SELF], faults: ['x'] } } }],
        cursor: 2,
      },
    ]
    const client = new GrpcCellClient({ address, childPath: SELF, tls: CellTls.open({ dir: pki, refreshMs: 100 }, PARENT) })
    const received: CellUpdate[] = []
    try {
      const ended = await new Promise<Error | undefined>((resolve) => {
        client.watch({ parentPath: PARENT, cursor: 0, flavors: [] }, (u) => received.push(u), resolve)
      })
      expect(ended?.message).toMatch(/names another instance/)
      expect(received).toEqual([])
    } finally {
      streamed = []
      client.close()
    }
  })

  it("presents a renewed certificate on the parent's next connection, without a restart", async () => {
    const tls = CellTls.open({ dir: pki, refreshMs: 50 }, PARENT)
    const child = cellIdentityFiles(pki, SELF)
    const presented: string[] = []
    // A TLS endpoint with the child's certificate that records the client certificate it is shown.
    const probe = createTlsServer(
      { key: readFileSync(child.key), cert: readFileSync(child.cert), ca: caCert(), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
      (socket) => {
        presented.push(socket.getPeerX509Certificate()?.fingerprint256 ?? 'none')
        socket.destroy()
      },
    )
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()))
    const probeAddress = `127.0.0.1:${(probe.address() as AddressInfo).port}`
    const connectOnce = async (): Promise<void> => {
      const client = new GrpcCellClient({ address: probeAddress, childPath: SELF, tls })
      await client.listHosts({ requestId: 'req-8', deadline: Date.now() + 2000 }).catch(() => undefined)
      client.close()
    }
    try {
      const before = new X509Certificate(readFileSync(cellIdentityFiles(pki, PARENT).cert)).fingerprint256
      await waitFor('a first connection', async () => {
        await connectOnce()
        return presented.length > 0 ? true : undefined
      }, 10_000)
      expect(presented[0]).toBe(before)
      await issueCellCertificate(pki, PARENT)
      const after = new X509Certificate(readFileSync(cellIdentityFiles(pki, PARENT).cert)).fingerprint256
      expect(after).not.toBe(before)
      await waitFor('the renewed certificate to be presented', async () => {
        await connectOnce()
        return presented.at(-1) === after ? true : undefined
      }, 10_000)
    } finally {
      probe.close()
    }
  })
})
