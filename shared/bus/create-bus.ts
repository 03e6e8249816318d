import { InvalidError } from '../errors.js'
import type { Logger } from '../logging.js'
import { AmqpBus } from './amqp-bus.js'
import { InProcessBus } from './in-process-bus.js'
import { instrumentBus } from './instrumented-bus.js'
import type { MessageBus } from './message-bus.js'

/** What {@link createBus} needs. */
export interface CreateBusArgs {
  /** `memory://<name>` (embedded) or `amqp://user:pass@host:port/<vhost>` (RabbitMQ). */
  readonly url: string
  /** Who connects: the AMQP connection name the broker shows, and the logger's `bus` field. */
  readonly name: string
  /**
   * Who the service is (shared/bus/caller.ts `principalName`). On `memory://` buses its messages
   * carry this identity; over AMQP the identity is the URL's user, which the broker vouches for,
   * and this is ignored.
   */
  readonly principal?: string
  /** AMQP: whether the bus declares its exchanges, queues and bindings (`AmqpBusOptions.declare`). */
  readonly declare?: boolean
  readonly log?: Logger
}

const MEMORY = 'memory://'

/** The embedded buses of this process, by name: an in-process "broker" exists once per cell. */
const memoryBuses = new Map<string, InProcessBus>()

/**
 * The message bus a transport URL names.
 *
 * `memory://<name>` returns the same {@link InProcessBus} for the same name within the process, so
 * every service of an embedded cell reaches the others: closing it closes it for all of them (a later
 * `createBus` for that name then starts a new, empty one). `amqp://` and `amqps://` open a new
 * {@link AmqpBus} connection each time. Either comes instrumented (see {@link instrumentBus}):
 * metrics per message, and a debug line with the request id per handled message.
 *
 * @example
 * const bus = await createBus({ url: 'memory://api!region-one', name: 'api!region-one:conductor' })
 */
export async function createBus(args: CreateBusArgs): Promise<MessageBus> {
  if (args.url.startsWith(MEMORY)) {
    const key = args.url.slice(MEMORY.length)
    let bus = memoryBuses.get(key)
    if (bus === undefined || bus.closed) {
      bus = new InProcessBus({ name: key, ...(args.log === undefined ? {} : { log: args.log }) })
      memoryBuses.set(key, bus)
    }
    return args.principal === undefined ? instrumentBus(bus, args.log) : instrumentBus(bus.as(args.principal), args.log)
  }
  if (args.url.startsWith('amqp://') || args.url.startsWith('amqps://')) {
    return instrumentBus(await AmqpBus.connect({
      url: args.url,
      name: args.name,
      ...(args.declare === undefined ? {} : { declare: args.declare }),
      ...(args.log === undefined ? {} : { log: args.log }),
    }), args.log)
  }
  // Never echo the URL: it may hold a password.
  throw new InvalidError(`unsupported transport URL scheme (expected memory:// or amqp://): ${args.url.split(':')[0] ?? ''}`)
}

/**
 * Closes and forgets the embedded bus `memory://<name>`, or every embedded bus when `name` is
 * omitted (tests that start cells again under the same names).
 */
export async function dropMemoryBus(name?: string): Promise<void> {
  const names = name === undefined ? [...memoryBuses.keys()] : [name]
  for (const n of names) {
    const bus = memoryBuses.get(n)
    memoryBuses.delete(n)
    await bus?.close()
  }
}
