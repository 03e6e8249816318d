import type { MessageBus } from '../../shared/bus/message-bus.js'
import type { RequestContext } from '../../shared/context.js'
import type { RequestSpec } from './host-state.js'

/** The scheduler's topic on the cell bus. */
export const SCHEDULER_TOPIC = 'scheduler'

/** A host chosen and claimed for one instance. */
export interface Selection {
  readonly host: string
  readonly nodeId: number
  readonly nodeName: string
  readonly availabilityZone: string
}

/** Client of the cell's scheduler. */
export class SchedulerApi {
  readonly #bus: MessageBus

  constructor(bus: MessageBus) {
    this.#bus = bus
  }

  /**
   * Filters, weighs and claims atomically. Rejects with NoValidHostError when nothing fits.
   * Idempotent: a second call for an instance that already holds a claim returns that claim.
   */
  selectDestination(ctx: RequestContext, spec: RequestSpec): Promise<Selection> {
    return this.#bus.call(ctx, { topic: SCHEDULER_TOPIC, method: 'select_destination', args: spec })
  }
}
