import type { Kysely } from 'kysely'
import { systemContext } from '../../shared/context.js'
import { CellUnreachableError, NotFoundError } from '../../shared/errors.js'
import type { InstanceFacts } from '../../shared/metadata/instance-facts.js'
import type { NetworkAllocator } from '../../shared/network/network-info.js'
import type { ComputeTables } from '../db/compute-schema.js'
import type { InstanceLocator } from '../compute/servers/locator.js'

/** How long an instance's facts are served from memory (Nova's `metadata_cache_expiration`: 15 s). */
export const METADATA_CACHE_TTL_MS = 15_000

/**
 * Where the metadata service reads a server's interfaces (`network_data.json`, `local-ipv4`) and
 * the names of its ports' security groups (EC2's `security-groups`): the network service's allocator.
 */
export interface InterfaceSource extends Pick<NetworkAllocator, 'interfacesOf'> {
  securityGroupNamesOf?(instanceUuids: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>>
}

/** The facts of one instance as the metadata service serves them, with where it lives. */
export interface ServedInstance {
  readonly facts: InstanceFacts
  /** The region of the leaf cell that owns it (`api!region!...`). */
  readonly region: string | undefined
}

/**
 * Gathers what the metadata content of an instance is rendered from: the owning leaf's record
 * (through the instance locator, the same read `GET /servers/{id}` makes: the user data lives
 * only in the leaf), the public key of its key pair from the API database, and its interfaces
 * from the network service. Kept {@link METADATA_CACHE_TTL_MS} per instance: a guest's boot reads
 * many paths in a row, and each would otherwise be a gRPC call down the tree.
 */
export class MetadataFacts {
  readonly #db: Kysely<ComputeTables>
  readonly #locator: InstanceLocator
  readonly #interfaces: InterfaceSource | undefined
  readonly #ttlMs: number
  readonly #cache = new Map<string, { readonly at: number; readonly served: Promise<ServedInstance | undefined> }>()

  constructor(args: { db: Kysely<ComputeTables>; locator: InstanceLocator; interfaces?: InterfaceSource; ttlMs?: number }) {
    this.#db = args.db
    this.#locator = args.locator
    this.#interfaces = args.interfaces
    this.#ttlMs = args.ttlMs ?? METADATA_CACHE_TTL_MS
  }

  /**
   * The instance's facts; undefined when there is no such live instance. Rejects with
   * {@link CellUnreachableError} when its cell cannot answer (never stale facts rebuilt from the
   * index, which lacks the user data).
   */
  async of(uuid: string): Promise<ServedInstance | undefined> {
    const now = Date.now()
    for (const [k, v] of this.#cache) if (now - v.at >= this.#ttlMs) this.#cache.delete(k)
    const hit = this.#cache.get(uuid)
    if (hit !== undefined) return hit.served
    const served = this.#load(uuid)
    const entry = { at: now, served }
    this.#cache.set(uuid, entry)
    // A failed read is not kept: the next request asks again.
    served.catch(() => {
      if (this.#cache.get(uuid) === entry) this.#cache.delete(uuid)
    })
    return served
  }

  async #load(uuid: string): Promise<ServedInstance | undefined> {
    let located
    try {
      located = await this.#locator.get(systemContext(10_000), { projectId: '', isAdmin: true }, uuid)
    } catch (err) {
      if (err instanceof NotFoundError) return undefined
      throw err
    }
    if (located.unknown) throw new CellUnreachableError(`the cell of instance ${uuid} cannot answer`)
    const r = located.record
    const key =
      r.keyName === null
        ? undefined
        : await this.#db.selectFrom('key_pairs').select('public_key').where('user_id', '=', r.userId).where('name', '=', r.keyName).executeTakeFirst()
    const networkInfo = (await this.#interfaces?.interfacesOf([uuid]))?.get(uuid) ?? []
    const securityGroups = (await this.#interfaces?.securityGroupNamesOf?.([uuid]))?.get(uuid) ?? []
    return {
      region: r.cellPath.split('!')[1],
      facts: {
        uuid: r.uuid,
        name: r.name,
        hostname: r.hostname,
        projectId: r.projectId,
        launchIndex: r.launchIndex,
        availabilityZone: r.availabilityZone,
        reservationId: r.reservationId,
        imageId: r.imageRef,
        flavorName: r.flavor.name,
        metadata: r.metadata,
        keyName: key === undefined ? null : r.keyName,
        keyData: key?.public_key ?? null,
        userData: r.userData,
        // The leaf keeps no security group names: the groups of the server's ports.
        securityGroups,
        networkInfo,
      },
    }
  }
}
