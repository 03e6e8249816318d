import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { Router } from 'express'
import type { Kysely } from 'kysely'
import { answerClientErrors } from '../shared/http/client-errors.js'
import type { Logger } from '../shared/logging.js'
import { observeHttp } from '../shared/metrics/http-metrics.js'
import type { CellTree } from './cells/cell-tree.js'
import type { ComputeTables } from './db/compute-schema.js'
import type { TokenService } from './identity/tokens.js'
import { PortAllocator } from './network/allocator.js'
import { seedRegionNetworks } from './network/bootstrap.js'
import { neutronFaultBody } from './network/faults.js'
import { networkApi } from './network/router.js'
import type { NetworkTables } from './network/schema.js'
import type { AllNetworkTables, NetworkSecurity } from './network/security-wiring.js'
import { networkSecurity } from './network/security-wiring.js'
import { NetworkService } from './network/service.js'

/** Default port of the network API (Neutron's). */
export const DEFAULT_NETWORK_PORT = 9696

/** The network service as the API cell runs it. */
export interface NetworkRuntime {
  readonly service: NetworkService
  readonly allocator: PortAllocator
  /** Security groups and floating IPs (mounted on the listener; `nova` for the compute API). */
  readonly security: NetworkSecurity
  /** `http://host:port` of the listener. */
  readonly url: string
  /** The network endpoint of each Keystone region: the federation-wide one at the root. */
  readonly urls: Readonly<Record<string, string>>
  close(): Promise<void>
}

/**
 * Starts the network service of the API cell: the default network of each region (first start),
 * and the Neutron v2.0 listener on `port` (0: any free port) with networks, subnets, ports,
 * security groups and floating IPs over the one API database. Kept out of runtime.ts, which wires
 * the other services, so that each stays readable.
 */
export async function startNetworkRuntime(a: {
  readonly db: Kysely<AllNetworkTables>
  readonly host: string
  readonly publicHost: string
  readonly port: number
  readonly tokens: TokenService
  readonly regions: readonly string[]
  readonly federationRegion: string
  readonly adminProjectId: string
  readonly log: Logger
  /**
   * More `/v2.0` routers built over the service (security groups, floating IPs): see
   * `extraRoutes` of network/router.ts.
   */
  readonly extraRoutes?: (service: NetworkService) => readonly Router[]
}): Promise<NetworkRuntime> {
  const security = networkSecurity({ db: a.db, tokens: a.tokens, logger: a.log })
  const service = new NetworkService(a.db, { security: security.ports })
  await seedRegionNetworks(service, a.adminProjectId, a.regions)
  const app = networkApi({ service, tokens: a.tokens, regions: a.regions, logger: a.log, extraRoutes: [...security.routers, ...(a.extraRoutes?.(service) ?? [])] })
  const server: Server = createServer(observeHttp({ listener: 'network', handler: app, log: a.log.child({ service: 'access' }) }))
  answerClientErrors(server, (status, message) => neutronFaultBody(status, message))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(a.port, a.host, () => resolve())
  })
  const addr = server.address()
  const url = `http://${a.publicHost}:${typeof addr === 'object' && addr !== null ? addr.port : a.port}`
  return {
    service,
    allocator: new PortAllocator(service),
    security,
    url,
    urls: { [a.federationRegion]: url, ...Object.fromEntries(a.regions.map((r) => [r, `${url}/regions/${r}`])) },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** How often ports of servers the index shows deleted are looked for (a release missed by a crash). */
const SWEEP_INTERVAL_MS = 5 * 60_000

/**
 * Releases the ports of servers the instance index shows deleted: the safety net behind the
 * release on each deletion event, which a crash between applying the event and releasing can
 * miss. Returns how many servers it released.
 */
export async function sweepDeletedServers(db: Kysely<NetworkTables & Pick<ComputeTables, 'instance_index'>>, allocator: PortAllocator): Promise<number> {
  const devices = (await db.selectFrom('ports').select('device_id').distinct().where('device_owner', 'like', 'compute:%').where('device_id', '!=', '').execute()).map((r) => r.device_id)
  let released = 0
  for (let i = 0; i < devices.length; i += 500) {
    const gone = await db.selectFrom('instance_index').select('uuid').where('uuid', 'in', devices.slice(i, i + 500)).where('vm_state', '=', 'deleted').execute()
    for (const g of gone) {
      await allocator.release({ instanceUuid: g.uuid })
      released += 1
    }
  }
  return released
}

/**
 * Ports follow their servers: released when the index applies a deletion (binding on placement is
 * the dispatcher's `onPlaced`), and swept now and then for a release a crash missed. Returns the
 * unsubscribe. Failures are logged, never thrown: release is idempotent.
 */
export function followServers(a: { readonly tree: CellTree; readonly db: Kysely<NetworkTables & Pick<ComputeTables, 'instance_index'>>; readonly allocator: PortAllocator; readonly log: Logger }): () => void {
  const off = a.tree.onDeleted((instanceUuid) => {
    a.allocator.release({ instanceUuid }).catch((err: unknown) => a.log.warn({ instance: instanceUuid, err: String(err) }, 'releasing ports failed'))
  })
  const sweep = (): void => {
    sweepDeletedServers(a.db, a.allocator)
      .then((n) => {
        if (n > 0) a.log.info({ servers: n }, 'released the ports of deleted servers')
      })
      .catch((err: unknown) => a.log.warn({ err: String(err) }, 'sweeping ports of deleted servers failed'))
  }
  sweep()
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS)
  timer.unref()
  return () => {
    off()
    clearInterval(timer)
  }
}
