import type { Kysely } from 'kysely'
import type { CellSchema } from '../db/schema.js'
import type { HostState } from './host-state.js'
import { loadHostStates } from './host-states.js'

/**
 * The host states one scheduler decides on (Nova's HostManager). With `ttlMs` 0 every decision
 * reads the cell DB afresh; with a positive `ttlMs` the states are reused for that long, updated in
 * place by this scheduler's own claims and dropped when a claim loses a race.
 *
 * A cached view is never a correctness problem: the claim is a conditional write that re-checks
 * capacity in the database, so a stale view only costs a lost claim and a re-read. It trades
 * freshness of what the scheduler *sees* (a host disabled a moment ago may still be tried) for
 * one read of every compute node per decision, which dominates at thousands of hosts.
 */
export class HostStateCache {
  readonly #db: Kysely<CellSchema>
  readonly #serviceDownMs: number
  readonly #ttlMs: number
  #hosts: HostState[] | undefined
  #byNode = new Map<number, number>()
  #loadedAt = 0
  #loading: Promise<HostState[]> | undefined

  constructor(args: { readonly db: Kysely<CellSchema>; readonly serviceDownMs: number; readonly ttlMs: number }) {
    this.#db = args.db
    this.#serviceDownMs = args.serviceDownMs
    this.#ttlMs = Math.max(0, args.ttlMs)
  }

  /** The host states to decide on: cached while younger than the TTL, else read (one read at a time). */
  async get(): Promise<readonly HostState[]> {
    if (this.#ttlMs === 0) return loadHostStates(this.#db, this.#serviceDownMs)
    if (this.#hosts !== undefined && Date.now() - this.#loadedAt < this.#ttlMs) return this.#hosts
    this.#loading ??= loadHostStates(this.#db, this.#serviceDownMs).then(
      (hosts) => {
        this.#hosts = hosts
        this.#byNode = new Map(hosts.map((h, i) => [h.nodeId, i]))
        this.#loadedAt = Date.now()
        this.#loading = undefined
        return hosts
      },
      (err: unknown) => {
        this.#loading = undefined
        throw err
      },
    )
    return this.#loading
  }

  /** This scheduler claimed on `nodeId`: count it in the cached state until the next read. */
  consumed(nodeId: number, used: { readonly memoryMb: number; readonly vcpus: number; readonly diskGb: number }): void {
    const i = this.#byNode.get(nodeId)
    const h = i === undefined ? undefined : this.#hosts?.[i]
    if (h === undefined || this.#hosts === undefined || i === undefined) return
    this.#hosts[i] = {
      ...h,
      memoryMbUsed: h.memoryMbUsed + used.memoryMb,
      vcpusUsed: h.vcpusUsed + used.vcpus,
      localGbUsed: h.localGbUsed + used.diskGb,
      instances: h.instances + 1,
      generation: h.generation + 1,
    }
  }

  /** Someone else changed the hosts (a lost claim): read afresh next time. */
  invalidate(): void {
    this.#loadedAt = 0
  }
}
