import type { Kysely } from 'kysely'
import type { Logger } from '../../shared/logging.js'
import type { AddressLookup } from '../../shared/network/network-info.js'
import type { InstanceLocator } from '../compute/servers/locator.js'
import type { ComputeTables } from '../db/compute-schema.js'
import type { InterfaceSource } from './metadata-facts.js'
import { MetadataFacts } from './metadata-facts.js'
import type { MetadataServer } from './metadata-server.js'
import { startMetadataServer } from './metadata-server.js'

/** What {@link startRegionMetadataServers} starts. */
export interface RegionMetadataServers {
  /** Each region's metadata API, `http://publicHost:port`. */
  readonly urls: Readonly<Record<string, string>>
  close(): Promise<void>
}

/** An address lookup that knows no address: every request by address is a 404. */
export const NO_ADDRESSES: AddressLookup = { instanceByAddress: () => Promise.resolve(undefined) }

/**
 * One metadata API per region (Nova's port 8775), each its own listener: the first on `port`,
 * then `port + 1`... (0: free ports), in the order of `regions`, as the console proxies are laid
 * out. Each finds only its own region's instances; they share one facts cache.
 */
export async function startRegionMetadataServers(a: {
  db: Kysely<ComputeTables>
  locator: InstanceLocator
  host: string
  publicHost: string
  regions: readonly string[]
  port: number
  proxySecret?: string
  addresses: AddressLookup
  interfaces?: InterfaceSource
  log: Logger
}): Promise<RegionMetadataServers> {
  const facts = new MetadataFacts({ db: a.db, locator: a.locator, ...(a.interfaces === undefined ? {} : { interfaces: a.interfaces }) })
  const servers: MetadataServer[] = []
  const urls: Record<string, string> = {}
  try {
    for (const [i, region] of a.regions.entries()) {
      const server = await startMetadataServer({
        region,
        host: a.host,
        port: a.port === 0 ? 0 : a.port + i,
        facts,
        addresses: a.addresses,
        ...(a.proxySecret === undefined ? {} : { proxySecret: a.proxySecret }),
        log: a.log.child({ region }),
      })
      servers.push(server)
      urls[region] = `http://${a.publicHost}:${server.port}`
    }
  } catch (err) {
    for (const s of servers) await s.close()
    throw err
  }
  return {
    urls,
    close: async () => {
      for (const s of servers) await s.close()
    },
  }
}
