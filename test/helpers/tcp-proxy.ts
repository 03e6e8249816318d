/** The fault-injecting TCP proxy lives with the benchmarks, which use it too. */
export type { TcpProxy } from '../../bench/fault-proxy.js'
export { startTcpProxy } from '../../bench/fault-proxy.js'
