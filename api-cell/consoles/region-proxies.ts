import type { Kysely } from 'kysely'
import type { ConsoleDenial, ConsoleProxy } from '../../shared/console/console-proxy.js'
import { startConsoleProxy } from '../../shared/console/console-proxy.js'
import type { Logger } from '../../shared/logging.js'
import { API_PATH } from '../cells/cell-tree.js'
import type { ConsoleService } from '../compute/servers/console-routes.js'
import type { ConsoleRefusal } from './console-tokens.js'
import { ConsoleTokens } from './console-tokens.js'

/** The HTTP status and reason a refused token's upgrade is answered with. */
export const REFUSALS: Readonly<Record<ConsoleRefusal, ConsoleDenial>> = {
  malformed: { status: 400, reason: 'Malformed console token' },
  unknown: { status: 401, reason: 'Invalid console token' },
  expired: { status: 401, reason: 'The console token has expired' },
  used: { status: 401, reason: 'The console token was already used' },
  'other-instance': { status: 403, reason: 'The console token is for another instance' },
  'other-region': { status: 403, reason: "The console token is for another region's proxy" },
}

/** What {@link startRegionConsoleProxies} starts. */
export interface RegionConsoleProxies {
  readonly service: ConsoleService
  /** Each region's proxy, `http://publicHost:port`. */
  readonly urls: Readonly<Record<string, string>>
  close(): Promise<void>
}

/**
 * One console proxy per region (each its own listener, the first on `port`, then `port + 1`...;
 * 0: free ports), all checking tokens in the API database. A proxy opens only consoles of its own
 * region's instances, so a region's URL never reaches into another region.
 */
export async function startRegionConsoleProxies(a: {
  db: Kysely<any>
  host: string
  publicHost: string
  regions: readonly string[]
  port: number
  tokenTtlMs: number
  log: Logger
}): Promise<RegionConsoleProxies> {
  const tokens = new ConsoleTokens({ db: a.db, ttlMs: a.tokenTtlMs })
  const proxies: ConsoleProxy[] = []
  const urls: Record<string, string> = {}
  try {
    for (const [i, region] of a.regions.entries()) {
      const regionPrefix = `${API_PATH}!${region}`
      const proxy = await startConsoleProxy({
        name: region,
        host: a.host,
        port: a.port === 0 ? 0 : a.port + i,
        log: a.log,
        authorize: async (req) => {
          const found = await tokens.consume(req.token, { regionPrefix, ...(req.instanceUuid === undefined ? {} : { instanceUuid: req.instanceUuid }) })
          return typeof found === 'string' ? REFUSALS[found] : { host: found.host, port: found.port, instanceUuid: found.instanceUuid }
        },
      })
      proxies.push(proxy)
      urls[region] = `http://${a.publicHost}:${proxy.port}`
    }
  } catch (err) {
    for (const p of proxies) await p.close()
    throw err
  }
  const regionOf = (cellPath: string): string | undefined => cellPath.split('!')[1]
  return {
    service: {
      tokens,
      proxyUrl: (cellPath) => {
        const region = regionOf(cellPath)
        return region === undefined ? undefined : urls[region]
      },
    },
    urls,
    close: async () => {
      for (const p of proxies) await p.close()
    },
  }
}
