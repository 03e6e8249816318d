import type { Kysely } from 'kysely'
import type { Caller } from '../../shared/bus/caller.js'
import { ForbiddenError, InvalidError } from '../../shared/errors.js'
import type { CellSchema } from '../db/schema.js'

/**
 * Who may call what on the conductor, by the caller the bus vouches for (the broker-validated AMQP
 * `user_id`; see shared/bus/caller.ts).
 *
 * A compute host is the least trusted service of a cell (it runs guests), so a compromised one must
 * not reach beyond itself, as Nova's conductor does for its compute RPC. A compute caller may only
 * use the methods compute needs ({@link COMPUTE_METHODS}), and only for its own hosts and for
 * instances placed on them; admin methods (`admin_*`), builds, instance actions, the outbox and
 * cell state are refused. A message without identity is refused outright. The other services of
 * the cell (agent, scheduler, another conductor) and operators are trusted.
 *
 * Refusals are `ForbiddenError` (403) and happen before anything is read or written for the call.
 */
export async function authorizeConductorCall(db: Kysely<CellSchema>, caller: Caller, method: string, args: unknown): Promise<void> {
  if (caller.role === 'anonymous') throw new ForbiddenError(`conductor.${method} refused: the message carries no identity`)
  if (caller.role !== 'compute') return
  const check = COMPUTE_METHODS[method]
  if (check === undefined) throw refuse(caller, method, 'not a compute method')
  await check({ db, caller, method, args: (args ?? {}) as Record<string, unknown> })
}

interface CheckArgs {
  readonly db: Kysely<CellSchema>
  readonly caller: Caller
  readonly method: string
  readonly args: Record<string, unknown>
}

type Check = (a: CheckArgs) => Promise<void>

/** The conductor methods a compute host calls (child-cell/compute/), each with what it may touch. */
const COMPUTE_METHODS: Readonly<Record<string, Check>> = Object.freeze({
  service_heartbeat: async (a) => ownHost(a, a.args['host']),
  compute_node_update: async (a) => ownHost(a, a.args['host']),
  instances_on_host: async (a) => ownHost(a, a.args['host']),
  instance_update: async (a) => {
    const event = a.args['event'] as Record<string, unknown> | undefined
    if (event !== undefined && event !== null && typeof event === 'object' && 'host' in event) ownHost(a, event['host'])
    await ownInstances(a, [a.args['uuid']])
  },
  instance_destroyed: async (a) => {
    ownHost(a, a.args['host'])
    await ownInstances(a, [a.args['uuid']])
  },
  get_instances: async (a) => {
    const uuids = a.args['uuids']
    if (!Array.isArray(uuids)) throw new InvalidError(`conductor.${a.method}: uuids must be a list of instance uuids`)
    await ownInstances(a, uuids)
  },
})

function ownHost(a: CheckArgs, host: unknown): void {
  if (typeof host !== 'string' || !a.caller.hosts.includes(host)) {
    throw refuse(a.caller, a.method, `host ${typeof host === 'string' ? host : '(none)'} is not one of its own`)
  }
}

/**
 * Every named instance that exists must sit on one of the caller's hosts. An unknown uuid passes:
 * the operations themselves treat it as "nothing to do".
 */
async function ownInstances(a: CheckArgs, uuids: readonly unknown[]): Promise<void> {
  // Anything but uuid strings could match rows the check did not look at: refused as malformed.
  if (!uuids.every((u): u is string => typeof u === 'string')) throw new InvalidError(`conductor.${a.method}: instance uuids must be strings`)
  const wanted = uuids as readonly string[]
  if (wanted.length === 0) return
  const rows = await a.db.selectFrom('instances').select(['uuid', 'host']).where('uuid', 'in', wanted).execute()
  const foreign = rows.find((r) => r.host === null || !a.caller.hosts.includes(r.host))
  if (foreign !== undefined) throw refuse(a.caller, a.method, `instance ${foreign.uuid} is not on its hosts`)
}

function refuse(caller: Caller, method: string, why: string): ForbiddenError {
  return new ForbiddenError(`conductor.${method} refused for compute ${caller.hosts.join(',')}: ${why}`, {
    principal: caller.principal,
    method,
  })
}
