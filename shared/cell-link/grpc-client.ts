import * as grpc from '@grpc/grpc-js'
import type { RequestContext } from '../context.js'
import { remainingMs } from '../context.js'
import type { AppError, WireError } from '../errors.js'
import { CellUnreachableError, fromWire, InternalError, RpcTimeoutError } from '../errors.js'
import { outcomeOf } from '../metrics/registry.js'
import { grpcClientCallSeconds, grpcClientCalls } from '../metrics/rpc-metrics.js'
import { buildRequestToPb } from './build-mapping.js'
import type { CellTls } from './cell-tls.js'
import { ctxToPb, updateFromPb } from './mapping.js'
import { cellService } from './proto.js'
import type { BuildCall, BuildOutcome, CellAdminCall, CellLink, CellUpdate, InstanceActionCall, InstanceVersion, InstanceVersionPage, WatchArgs } from './types.js'
import { isWithin } from './types.js'

/** Default deadline of a unary call to a child when the context has none. */
const DEFAULT_DEADLINE_MS = 30_000

/**
 * A parent's connection to one child cell, over mutual TLS: the parent presents its own cell
 * certificate and accepts the server only if its certificate names `childPath` (cell-tls.ts).
 * Every unary call carries a deadline (the context's, else 30 s); failures come back as our
 * error classes: the child's own errors rebuilt from their wire form, an unreachable (or
 * unauthenticated) child as {@link CellUnreachableError}, a missed deadline as
 * {@link RpcTimeoutError}.
 */
export class GrpcCellClient implements CellLink {
  readonly address: string
  /** The cell this client talks to: the name its server certificate must carry. */
  readonly childPath: string
  readonly #client: grpc.Client & Record<string, any>

  constructor(args: { readonly address: string; readonly childPath: string; readonly tls: CellTls }) {
    const { address } = args
    this.address = address
    this.childPath = args.childPath
    const Ctor = cellService()
    this.#client = new Ctor(address, args.tls.channelCredentials(args.childPath), {
      // Cells are dialled by address; the TLS server name (SNI) is the cell's, not an IP address.
      // The identity check itself reads the certificate's cell URI (cell-tls.ts).
      'grpc.ssl_target_name_override': args.childPath.split('!').join('.'),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    }) as grpc.Client & Record<string, any>
  }

  #unary<T>(method: string, ctx: RequestContext | undefined, req: object): Promise<T> {
    const deadline = Date.now() + (ctx === undefined ? DEFAULT_DEADLINE_MS : remainingMs(ctx, DEFAULT_DEADLINE_MS))
    const start = process.hrtime.bigint()
    const done = (outcome: string): void => {
      grpcClientCalls.inc({ method, outcome })
      grpcClientCallSeconds.observe({ method, outcome }, Number(process.hrtime.bigint() - start) / 1e9)
    }
    return new Promise<T>((resolve, reject) => {
      this.#client[method](req, { deadline }, (err: grpc.ServiceError | null, res: T) => {
        if (err === null) {
          done('ok')
          resolve(res)
        } else {
          const e = this.#error(method, err)
          done(outcomeOf(e))
          reject(e)
        }
      })
    })
  }

  #error(method: string, err: grpc.ServiceError): AppError {
    if (err.code === grpc.status.DEADLINE_EXCEEDED) {
      return new RpcTimeoutError(`cell at ${this.address} did not answer ${method} in time`)
    }
    try {
      const wire = JSON.parse(err.details) as WireError
      if (typeof wire.code === 'string') return fromWire(wire)
    } catch {
      // not one of ours: transport failure
    }
    return new CellUnreachableError(`cell at ${this.address} unreachable (${method}): ${err.details}`)
  }

  async build(ctx: RequestContext, call: BuildCall): Promise<BuildOutcome> {
    const res = await this.#unary<any>('Build', ctx, buildRequestToPb(ctxToPb(ctx), call))
    if (!res.accepted) return { accepted: false, reason: res.reason }
    // A child places builds in its own subtree only; an answer naming another cell is not one.
    if (typeof res.cell_path !== 'string' || !isWithin(res.cell_path, this.childPath)) {
      throw new InternalError(`cell ${this.childPath} claimed a placement in ${String(res.cell_path)}, outside its subtree`)
    }
    return { accepted: true, cellPath: res.cell_path, host: res.host }
  }

  async instanceAction(ctx: RequestContext, args: InstanceActionCall): Promise<unknown> {
    const res = await this.#unary<any>('InstanceAction', ctx, {
      ctx: ctxToPb(ctx),
      cell_path: args.cellPath,
      instance_uuid: args.instanceUuid,
      action: args.action,
      args_json: JSON.stringify(args.args ?? {}),
    })
    return JSON.parse(res.result_json || 'null')
  }

  /** The records' JSON texts as the child sent them (see {@link CellLink.getInstancesJson}: relays only). */
  async getInstancesJson(ctx: RequestContext, args: { cellPath: string; uuids: readonly string[] }): Promise<string[]> {
    const res = await this.#unary<{ instances_json: string[] }>('GetInstances', ctx, { ctx: ctxToPb(ctx), cell_path: args.cellPath, uuids: [...args.uuids] })
    return res.instances_json
  }

  async getInstances(ctx: RequestContext, args: { cellPath: string; uuids: readonly string[] }): Promise<unknown[]> {
    const res = await this.#unary<any>('GetInstances', ctx, {
      ctx: ctxToPb(ctx),
      cell_path: args.cellPath,
      uuids: [...args.uuids],
    })
    // Only what was asked, from the cell asked: a child cannot slip in records of other instances.
    const asked = new Set(args.uuids)
    return (res.instances_json as string[])
      .map((j) => JSON.parse(j) as { uuid?: unknown; cellPath?: unknown })
      .filter((r) => typeof r.uuid === 'string' && asked.has(r.uuid) && (r.cellPath === undefined || r.cellPath === args.cellPath))
  }

  async listHosts(ctx: RequestContext): Promise<unknown[]> {
    const res = await this.#unary<any>('ListHosts', ctx, { ctx: ctxToPb(ctx) })
    // Hosts of the child's own subtree only.
    return (res.hosts_json as string[])
      .map((j) => JSON.parse(j) as { cellPath?: unknown })
      .filter((h) => typeof h.cellPath !== 'string' || isWithin(h.cellPath, this.childPath))
  }

  async cellAdmin(ctx: RequestContext, args: CellAdminCall): Promise<unknown> {
    const res = await this.#unary<any>('CellAdmin', ctx, {
      ctx: ctxToPb(ctx),
      cell_path: args.cellPath,
      op: args.op,
      args_json: JSON.stringify(args.args ?? {}),
    })
    return JSON.parse(res.result_json || 'null')
  }

  async listInstanceVersions(ctx: RequestContext, args: InstanceVersionPage): Promise<InstanceVersion[]> {
    const res = await this.#unary<any>('ListInstanceVersions', ctx, { ctx: ctxToPb(ctx), after_uuid: args.afterUuid, limit: args.limit })
    // A child speaks for its own subtree only: versions claimed for cells elsewhere are dropped.
    return (res.versions as any[])
      .map((v) => ({ uuid: String(v.instance_uuid), version: Number(v.version), cellPath: String(v.cell_path) }))
      .filter((v) => isWithin(v.cellPath, this.childPath))
  }

  async ackEvents(args: { parentPath: string; cursor: number }): Promise<void> {
    await this.#unary('AckEvents', undefined, { parent_path: args.parentPath, cursor: args.cursor })
  }

  /**
   * Opens a Watch stream. `onUpdate` gets every update; `onEnd` runs once when the stream ends
   * for any reason (the caller reconnects). Returns a cancel function.
   */
  watch(args: WatchArgs, onUpdate: (u: CellUpdate) => void, onEnd: (err?: Error) => void): () => void {
    const stream = this.#client['Watch']({
      parent_path: args.parentPath,
      cursor: args.cursor,
      flavors: args.flavors.map((f) => ({ id: f.id, memory_mb: f.memoryMb, vcpus: f.vcpus, disk_gb: f.diskGb })),
    }) as grpc.ClientReadableStream<any>
    let ended = false
    const finish = (err?: Error): void => {
      if (ended) return
      ended = true
      onEnd(err)
    }
    stream.on('data', (pb: any) => {
      if (ended) return
      let u: CellUpdate | undefined
      try {
        u = updateFromPb(pb)
      } catch (err) {
        // An update it cannot read: none of it is applied (its events come again after the
        // cursor on the next stream), and the caller hears why.
        finish(err instanceof Error ? err : new Error(String(err)))
        stream.cancel()
        return
      }
      if (u !== undefined) onUpdate(u)
    })
    stream.on('error', (err: Error) => finish(err))
    stream.on('end', () => finish())
    return () => {
      ended = true
      stream.cancel()
    }
  }

  close(): void {
    this.#client.close()
  }
}
