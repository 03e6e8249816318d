import * as grpc from '@grpc/grpc-js'
import type { PeerCertificate } from 'node:tls'
import { AppError, ForbiddenError, InvalidError, toWire, UnauthorizedError } from '../errors.js'
import { cellPathOfPeer } from '../pki/cell-identity.js'
import type { CellTls } from './cell-tls.js'
import { ctxFromPb, updateToPb } from './mapping.js'
import type { PbContext } from './proto.js'
import type { PbBuildRequest } from './build-mapping.js'
import { buildCallFromPb } from './build-mapping.js'
import { cellService } from './proto.js'
import type { CellRpc } from './rpc-access.js'
import { checkCaller } from './rpc-access.js'
import type { CellLink, WatchSource } from './types.js'

/** A running gRPC server of one cell. */
export interface CellServer {
  readonly port: number
  close(): Promise<void>
}

/** HTTP-ish status of our errors -> gRPC status, so generic gRPC tooling reads them sensibly. */
function grpcCode(err: unknown): grpc.status {
  if (!(err instanceof AppError)) return grpc.status.INTERNAL
  switch (err.status) {
    case 400:
      return grpc.status.INVALID_ARGUMENT
    case 401:
      return grpc.status.UNAUTHENTICATED
    case 403:
      return grpc.status.PERMISSION_DENIED
    case 404:
      return grpc.status.NOT_FOUND
    case 409:
      return grpc.status.FAILED_PRECONDITION
    case 503:
      return grpc.status.UNAVAILABLE
    case 504:
      return grpc.status.DEADLINE_EXCEEDED
    default:
      return grpc.status.INTERNAL
  }
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline()
  if (d instanceof Date) return d.getTime()
  return Number.isFinite(d) && d > 0 ? d : undefined
}

const statusOf = (err: unknown): Partial<grpc.StatusObject> => ({ code: grpcCode(err), details: JSON.stringify(toWire(err)) })

/**
 * The caller's cell path from its certificate, if the Cell service's access table lets it call
 * `rpc` on `selfPath` (rpc-access.ts); else the error to answer with. Runs before the request's
 * user context is read.
 */
function authorize(rpc: CellRpc, selfPath: string, call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): string | AppError {
  const verdict = checkCaller(rpc, selfPath, cellPathOfPeer(call.getAuthContext()?.sslPeerCertificate))
  if (verdict.allowed) return verdict.caller
  return verdict.status === 'unauthenticated' ? new UnauthorizedError(verdict.reason) : new ForbiddenError(verdict.reason)
}

function unary<Req extends { ctx?: PbContext }, Res>(
  rpc: CellRpc,
  selfPath: string,
  fn: (req: Req, deadline: number | undefined, caller: string) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const caller = authorize(rpc, selfPath, call)
    if (caller instanceof AppError) {
      callback(statusOf(caller))
      return
    }
    fn(call.request, deadlineOf(call as grpc.ServerUnaryCall<unknown, unknown>), caller).then(
      (res) => callback(null, res),
      (err: unknown) => callback(statusOf(err)),
    )
  }
}

/** A request naming a parent must name the authenticated one (cursors are kept per parent). */
function otherParent(named: unknown, caller: string): InvalidError | undefined {
  return named === caller ? undefined : new InvalidError(`parent_path ${String(named)} is not the calling cell ${caller}`)
}

/**
 * Serves the Cell service for this cell's parent on `address` (`host:port`, port 0 = any free one),
 * over mutual TLS with the cell's identity (`tls`). Every call is checked against the access
 * table of rpc-access.ts before anything of the request is used.
 */
export async function serveCell(args: {
  readonly address: string
  readonly link: CellLink
  readonly watch: WatchSource
  readonly tls: CellTls
}): Promise<CellServer> {
  const { link, watch } = args
  const self = args.tls.cellPath
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 })
  server.addService(cellService().service, {
    Build: unary('Build', self, async (req: any, deadline) => {
      const ctx = ctxFromPb(req.ctx, deadline)
      // Checked at the boundary: protocol version, parts, bounds and instance (an InvalidError is
      // a definite refusal: the cell never sees the build).
      const out = await link.build(ctx, buildCallFromPb(req as PbBuildRequest))
      return out.accepted
        ? { accepted: true, cell_path: out.cellPath, host: out.host, reason: '' }
        : { accepted: false, cell_path: '', host: '', reason: out.reason }
    }),
    InstanceAction: unary('InstanceAction', self, async (req: any, deadline) => {
      const result = await link.instanceAction(ctxFromPb(req.ctx, deadline), {
        cellPath: req.cell_path,
        instanceUuid: req.instance_uuid,
        action: req.action,
        args: req.args_json === '' ? {} : JSON.parse(req.args_json),
      })
      return { result_json: JSON.stringify(result ?? null) }
    }),
    GetInstances: unary('GetInstances', self, async (req: any, deadline) => {
      const args = { cellPath: req.cell_path, uuids: req.uuids }
      if (link.getInstancesJson !== undefined) return { instances_json: await link.getInstancesJson(ctxFromPb(req.ctx, deadline), args) }
      const found = await link.getInstances(ctxFromPb(req.ctx, deadline), args)
      return { instances_json: found.map((i) => JSON.stringify(i)) }
    }),
    CellAdmin: unary('CellAdmin', self, async (req: any, deadline) => {
      const result = await link.cellAdmin(ctxFromPb(req.ctx, deadline), {
        cellPath: req.cell_path,
        op: req.op,
        args: req.args_json === '' ? {} : JSON.parse(req.args_json),
      })
      return { result_json: JSON.stringify(result ?? null) }
    }),
    ListHosts: unary('ListHosts', self, async (req: any, deadline) => {
      const hosts = await link.listHosts(ctxFromPb(req.ctx, deadline))
      return { hosts_json: hosts.map((h) => JSON.stringify(h)) }
    }),
    ListInstanceVersions: unary('ListInstanceVersions', self, async (req: any, deadline) => {
      const page = await link.listInstanceVersions(ctxFromPb(req.ctx, deadline), { afterUuid: String(req.after_uuid ?? ''), limit: Number(req.limit ?? 0) })
      return { versions: page.map((v) => ({ instance_uuid: v.uuid, version: v.version, cell_path: v.cellPath })) }
    }),
    AckEvents: unary('AckEvents', self, async (req: any, _deadline, caller) => {
      const wrong = otherParent(req.parent_path, caller)
      if (wrong !== undefined) throw wrong
      await link.ackEvents({ parentPath: req.parent_path, cursor: req.cursor })
      return {}
    }),
    Watch: (call: grpc.ServerWritableStream<any, unknown>) => {
      const req = call.request
      const caller = authorize('Watch', self, call)
      const refusal = caller instanceof AppError ? caller : otherParent(req.parent_path, caller)
      if (refusal !== undefined) {
        call.emit('error', statusOf(refusal))
        return
      }
      const stop = watch.watch(
        {
          parentPath: req.parent_path,
          cursor: req.cursor,
          flavors: (req.flavors as any[]).map((f) => ({
            id: f.id,
            memoryMb: f.memory_mb,
            vcpus: f.vcpus,
            diskGb: f.disk_gb,
          })),
        },
        (u) => {
          if (!call.cancelled && !call.destroyed) call.write(updateToPb(u))
        },
      )
      const end = (): void => stop()
      call.on('cancelled', end)
      call.on('close', end)
      call.on('error', end)
    },
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(args.address, args.tls.serverCredentials(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    )
  })
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, 2000)
        server.tryShutdown(() => {
          clearTimeout(timer)
          resolve()
        })
      }),
  }
}
