import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'

/** The cell agent's topic on the cell bus. */
export const AGENT_TOPIC = 'cell-agent'

/** Nudges to the cell agent (fanouts: every agent of the cell hears them). */
export class AgentApi {
  readonly #bus: MessageBus

  constructor(bus: MessageBus) {
    this.#bus = bus
  }

  /** New outbox events are committed: ship them upward now. */
  outboxChanged(ctx: RequestContext): Promise<void> {
    return this.#bus.fanout(ctx, { topic: AGENT_TOPIC, method: 'outbox_changed', args: {} })
  }

  /** Capacity changed significantly: report upward soon (debounced by the agent). */
  capacityChanged(ctx: RequestContext): Promise<void> {
    return this.#bus.fanout(ctx, { topic: AGENT_TOPIC, method: 'capacity_changed', args: {} })
  }
}
