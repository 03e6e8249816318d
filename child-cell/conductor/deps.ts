import type { Kysely } from 'kysely'
import type { Logger } from '../../shared/logging.js'
import type { CellSchema } from '../db/schema.js'
import type { AgentApi } from '../agent/rpc-api.js'
import type { ComputeApi } from '../compute/rpc-api.js'
import type { SchedulerApi } from '../scheduler/rpc-api.js'
import type { InstanceStore } from './instance-store.js'

/** What every conductor operation works with. */
export interface ConductorDeps {
  readonly db: Kysely<CellSchema>
  readonly store: InstanceStore
  readonly scheduler: SchedulerApi
  readonly compute: ComputeApi
  readonly agent: AgentApi
  readonly cellPath: string
  /** A compute service silent longer than this is down (Nova's service_down_time). */
  readonly serviceDownMs: number
  /** Lines about a request carry its `requestId`. */
  readonly log: Logger
  /**
   * Hosts of this cell one build may try (Nova's `max_attempts`): after that many failed spawns
   * the build is handed back up the tree.
   */
  readonly maxBuildAttempts: number
  /**
   * Nova's `shelved_offload_time` in seconds: 0 (default) offloads a shelved instance at once,
   * -1 never (an admin's shelveOffload does). Other values keep it on its host as -1 does.
   */
  readonly shelvedOffloadTimeS?: number
}
