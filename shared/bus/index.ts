export type { MessageBus, SendArgs, ServeArgs, RpcHandler, Subscription } from './message-bus.js'
