import type { ServiceRole } from '../shared/bus/caller.js'
import type { BusUsage, Topology } from '../shared/bus/amqp-permissions.js'
import { cellTopology } from '../shared/bus/amqp-permissions.js'
import { AGENT_TOPIC } from './agent/rpc-api.js'
import { computeTopic } from './compute/rpc-api.js'
import { CONDUCTOR_TOPIC } from './conductor/rpc-api.js'
import { SCHEDULER_TOPIC } from './scheduler/rpc-api.js'

/**
 * What each service of a cell does on the cell's bus: the input of its least-privilege broker
 * permissions (shared/bus/amqp-permissions.ts). Keep in step with the rpc-api.ts clients and the
 * `serve` calls of each manager; test/integration/bus-privilege.test.ts checks the result against
 * a real broker.
 *
 * - conductor: serves `conductor`; calls the scheduler, casts to every compute host, nudges the agent;
 * - scheduler: serves `scheduler`; sends nothing;
 * - compute: serves `compute.<host>` for its own hosts only; calls the conductor;
 * - agent: serves `cell-agent` (fanouts from the conductor); calls the conductor.
 *
 * Every server answers calls: a call put into its queue through the default exchange (which every
 * role answering calls may write) gets a refusal instead of costing the server its channel.
 */
export function cellBusUsage(role: ServiceRole, cellHosts: readonly string[], ownHosts: readonly string[] = cellHosts): BusUsage {
  switch (role) {
    case 'conductor':
      return {
        serves: [{ topic: CONDUCTOR_TOPIC, fanout: false }],
        sendsTo: [SCHEDULER_TOPIC, ...cellHosts.map(computeTopic)],
        fansOutTo: [AGENT_TOPIC],
        answersCalls: true,
      }
    case 'scheduler':
      return { serves: [{ topic: SCHEDULER_TOPIC, fanout: false }], sendsTo: [], fansOutTo: [], answersCalls: true }
    case 'compute':
      return { serves: ownHosts.map((h) => ({ topic: computeTopic(h), fanout: false })), sendsTo: [CONDUCTOR_TOPIC], fansOutTo: [], answersCalls: true }
    case 'agent':
      // Nobody calls the agent, but anyone who may write the default exchange can put a call into
      // its queue: it must be able to answer (with a refusal) rather than lose its channel.
      return { serves: [{ topic: AGENT_TOPIC, fanout: true }], sendsTo: [CONDUCTOR_TOPIC], fansOutTo: [], answersCalls: true }
  }
}

/** The exchanges, queues and bindings of a cell's vhost, declared by the administrator. */
export function cellBusTopology(cellHosts: readonly string[]): Topology {
  return cellTopology([CONDUCTOR_TOPIC, SCHEDULER_TOPIC, AGENT_TOPIC, ...cellHosts.map(computeTopic)], [AGENT_TOPIC])
}
