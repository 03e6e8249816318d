import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { InternalError } from '../errors.js'

const run = promisify(execFile)

/**
 * How to reach the broker's administration. RabbitMQ's management HTTP API is often not enabled
 * (it is not on our reference machines), so this goes through `rabbitmqctl`, which needs to run on
 * the broker's host as root or as the `rabbitmq` user (it reads the Erlang cookie).
 */
export interface RabbitAdminOptions {
  /** Path of `rabbitmqctl` (default `rabbitmqctl`, found on `PATH`; Debian puts it in /usr/sbin). */
  readonly rabbitmqctl?: string
  /** The user granted full permissions on new vhosts (default `guest`). */
  readonly user?: string
}

/** A client connection as the broker lists it. */
export interface BrokerConnection {
  /** Erlang pid: what `rabbitmqctl close_connection` takes. */
  readonly pid: string
  readonly vhost: string
  /** The `connection_name` client property, when the client set one. */
  readonly connectionName: string | undefined
}

/**
 * Creates `vhost` if missing and grants the user configure/write/read on everything in it.
 * Idempotent, and safe to run concurrently for the same vhost.
 */
export async function ensureVhost(vhost: string, options: RabbitAdminOptions = {}): Promise<void> {
  await ctl(options, ['add_vhost', vhost], /already exists/i)
  await ctl(options, ['set_permissions', '-p', vhost, options.user ?? 'guest', '.*', '.*', '.*'])
}

/** Deletes `vhost` with all its queues and exchanges, closing its connections. Idempotent. */
export async function deleteVhost(vhost: string, options: RabbitAdminOptions = {}): Promise<void> {
  await ctl(options, ['delete_vhost', vhost], /does not exist|no_such_vhost/i)
}

/**
 * The URL of `vhost` on the server of `baseUrl` (whose own vhost, if any, is replaced).
 *
 * @example
 * amqpUrlForVhost('amqp://guest:guest@127.0.0.1:5672', 'federation.api.r1') // 'amqp://guest:guest@127.0.0.1:5672/federation.api.r1'
 * amqpUrlForVhost('amqp://guest:guest@127.0.0.1:5672/old', '/')            // 'amqp://guest:guest@127.0.0.1:5672/%2F'
 */
export function amqpUrlForVhost(baseUrl: string, vhost: string): string {
  const url = new URL(baseUrl)
  url.pathname = `/${encodeURIComponent(vhost)}`
  return url.toString()
}

/** Every client connection of the broker, with its `connection_name` when it has one. */
export async function listConnections(options: RabbitAdminOptions = {}): Promise<BrokerConnection[]> {
  // Not `--formatter json`: it prints pids as `#PID<...>`, which close_connection does not accept.
  const out = await ctl(options, ['list_connections', 'pid', 'vhost', 'client_properties', '-q', '--no-table-headers'])
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [pid = '', vhost = '', props = ''] = line.split('\t')
      return { pid, vhost, connectionName: connectionName(props) }
    })
}

/**
 * Closes, on the broker's side, every connection whose `connection_name` is `name` (what an operator
 * or a broker restart does to clients). Returns how many it closed.
 */
export async function closeConnectionsNamed(args: { readonly name: string; readonly reason?: string }, options: RabbitAdminOptions = {}): Promise<number> {
  const victims = (await listConnections(options)).filter((c) => c.connectionName === args.name)
  for (const c of victims) {
    await ctl(options, ['close_connection', c.pid, args.reason ?? 'closed by administrator'], /not_found|no such/i)
  }
  return victims.length
}

/** `client_properties` comes as an Erlang term: `[{"connection_name","api:conductor"},...]`. */
function connectionName(props: string): string | undefined {
  const m = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(props)
  return m?.[1]
}

/** Runs rabbitmqctl; a failure whose output matches `tolerated` counts as success (idempotency). */
async function ctl(options: RabbitAdminOptions, args: readonly string[], tolerated?: RegExp): Promise<string> {
  const bin = options.rabbitmqctl ?? 'rabbitmqctl'
  try {
    const { stdout } = await run(bin, [...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message?: string }
    const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`
    if (tolerated?.test(output)) return e.stdout ?? ''
    throw new InternalError(`${bin} ${args[0] ?? ''} failed: ${(e.stderr ?? e.message ?? '').trim()}`, err)
  }
}
