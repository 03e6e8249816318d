import type { RequestContext } from '../context.js'
import type { Logger } from '../logging.js'
import { busCallSeconds, busHandleSeconds, busMessagesHandled, busMessagesSent, topicLabel } from '../metrics/rpc-metrics.js'
import { outcomeOf } from '../metrics/registry.js'
import type { MessageBus, SendArgs, ServeArgs, Subscription } from './message-bus.js'

const instrumented = new WeakMap<MessageBus, MessageBus>()

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9

/**
 * The same bus with metrics on every message sent and handled, and a `debug` line per handled
 * message carrying its request id (`LOG_LEVEL=debug` then shows every hop of a request inside a
 * cell).
 *
 * It is a Proxy of `bus`, not a new class: callers (and the contract tests) still see the
 * implementation they asked for (`instanceof InProcessBus`), every other member reaches `bus`
 * itself, and instrumenting the same bus twice returns the same object, so the memory bus stays
 * one object per cell.
 */
export function instrumentBus<B extends MessageBus>(bus: B, log?: Logger): B {
  const existing = instrumented.get(bus)
  if (existing !== undefined) return existing as B
  const sent = async <T>(kind: string, args: SendArgs, send: () => Promise<T>): Promise<T> => {
    const labels = { kind, topic: topicLabel(args.topic), method: args.method }
    try {
      const out = await send()
      busMessagesSent.inc({ ...labels, outcome: 'ok' })
      return out
    } catch (err) {
      busMessagesSent.inc({ ...labels, outcome: outcomeOf(err) })
      throw err
    }
  }
  const overrides: Partial<MessageBus> = {
    call: async <T>(ctx: RequestContext, args: SendArgs & { readonly timeoutMs?: number }): Promise<T> => {
      const start = process.hrtime.bigint()
      const topic = topicLabel(args.topic)
      try {
        const out = await sent('call', args, () => bus.call<T>(ctx, args))
        busCallSeconds.observe({ topic, method: args.method, outcome: 'ok' }, seconds(start))
        return out
      } catch (err) {
        busCallSeconds.observe({ topic, method: args.method, outcome: outcomeOf(err) }, seconds(start))
        throw err
      }
    },
    cast: (ctx: RequestContext, args: SendArgs) => sent('cast', args, () => bus.cast(ctx, args)),
    fanout: (ctx: RequestContext, args: SendArgs) => sent('fanout', args, () => bus.fanout(ctx, args)),
    serve: (args: ServeArgs): Promise<Subscription> => {
      const topic = topicLabel(args.topic)
      return bus.serve({
        ...args,
        handler: async (ctx, method, payload, caller) => {
          const start = process.hrtime.bigint()
          let outcome = 'ok'
          try {
            return await args.handler(ctx, method, payload, caller)
          } catch (err) {
            outcome = outcomeOf(err)
            throw err
          } finally {
            const s = seconds(start)
            busMessagesHandled.inc({ topic, method, outcome })
            busHandleSeconds.observe({ topic, method, outcome }, s)
            log?.debug({ requestId: ctx.requestId, topic: args.topic, method, outcome, durationMs: Math.round(s * 10_000) / 10 }, 'bus message handled')
          }
        },
      })
    },
  }
  const proxy = new Proxy(bus, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop as keyof MessageBus]
      const v: unknown = Reflect.get(target, prop, target)
      // Methods run on the target itself: implementations keep their state in private fields.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  instrumented.set(bus, proxy)
  return proxy
}
