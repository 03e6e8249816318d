import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { InternalError } from '../errors.js'
import type { AmqpPermissions, Topology } from './amqp-permissions.js'
import { TOPIC_EXCHANGE } from './amqp-permissions.js'
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, deadLetterQueueArguments, workQueueArguments } from './amqp-queues.js'

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
 * Creates `vhost` if missing and grants the user configure/write/read on everything in it: for
 * development and tests. Production vhosts get per-role users instead ({@link applyVhostDefinitions}).
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

/**
 * Runs rabbitmqctl (with `input` on its stdin: secrets never go on a command line); a failure whose
 * output matches `tolerated` counts as success (idempotency).
 */
async function ctl(options: RabbitAdminOptions, args: readonly string[], tolerated?: RegExp, input?: string): Promise<string> {
  const bin = options.rabbitmqctl ?? 'rabbitmqctl'
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = execFile(bin, [...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err === null) resolve(stdout)
        else reject(Object.assign(err, { stdout, stderr }))
      })
      child.stdin?.end(input ?? '')
    })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message?: string }
    const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`
    if (tolerated?.test(output)) return e.stdout ?? ''
    throw new InternalError(`${bin} ${args[0] ?? ''} failed: ${(e.stderr ?? e.message ?? '').trim()}`, err)
  }
}

/** One broker user of a cell's vhost, with what it may do there. */
export interface VhostUser {
  readonly name: string
  readonly password: string
  readonly permissions: AmqpPermissions
}

/**
 * Creates (or updates) in one step a vhost, its exchanges, queues and bindings, and its users with
 * their permissions and topic permissions, through `rabbitmqctl import_definitions` fed on stdin.
 * Passwords travel only as salted SHA-256 hashes (RabbitMQ's `rabbit_password_hashing_sha256`),
 * and never on a command line. Idempotent: existing users get the new password and permissions.
 * No other user (not `guest`) is granted anything on the vhost.
 */
export async function applyVhostDefinitions(
  args: { readonly vhost: string; readonly topology: Topology; readonly users: readonly VhostUser[] },
  options: RabbitAdminOptions = {},
): Promise<string[]> {
  return applyVhostsDefinitions([args], options)
}

/**
 * {@link applyVhostDefinitions} for several vhosts in one `rabbitmqctl` run (each costs a second).
 * Work queues are quorum queues with a delivery limit and the vhost's dead-letter queue
 * (amqp-queues.ts). A work queue an older version created as a classic queue is not changed by an
 * import: when it is empty and unused it is deleted and imported again; the ones still classic
 * after that (messages in them, or consumers) are returned, as `vhost queue`, for the caller to
 * report; a later run migrates them.
 */
export async function applyVhostsDefinitions(
  vhosts: ReadonlyArray<{ readonly vhost: string; readonly topology: Topology; readonly users: readonly VhostUser[] }>,
  options: RabbitAdminOptions = {},
): Promise<string[]> {
  const users = new Map<string, VhostUser>()
  for (const v of vhosts) for (const u of v.users) users.set(u.name, u)
  const definitions = {
    users: [...users.values()].map((u) => ({ name: u.name, password_hash: rabbitPasswordHash(u.password), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' })),
    vhosts: vhosts.map((v) => ({ name: v.vhost })),
    permissions: vhosts.flatMap(({ vhost, users: us }) =>
      us.map((u) => ({ user: u.name, vhost, configure: u.permissions.configure, write: u.permissions.write, read: u.permissions.read }))),
    topic_permissions: vhosts.flatMap(({ vhost, users: us }) =>
      us.map((u) => ({ user: u.name, vhost, exchange: TOPIC_EXCHANGE, write: u.permissions.topicWrite, read: u.permissions.topicRead }))),
    exchanges: vhosts.flatMap(({ vhost, topology }) =>
      [...topology.exchanges, { name: DEAD_LETTER_EXCHANGE, type: 'fanout' }].map((e) => ({ name: e.name, vhost, type: e.type, durable: true, auto_delete: false, internal: false, arguments: {} }))),
    queues: vhosts.flatMap(({ vhost, topology }) => [
      ...topology.queues.map((q) => ({ name: q, vhost, durable: true, auto_delete: false, arguments: workQueueArguments() })),
      { name: DEAD_LETTER_QUEUE, vhost, durable: true, auto_delete: false, arguments: deadLetterQueueArguments() },
    ]),
    bindings: vhosts.flatMap(({ vhost, topology }) => [
      ...topology.bindings.map((b) => ({ source: b.source, vhost, destination: b.destination, destination_type: 'queue', routing_key: b.routingKey, arguments: {} })),
      { source: DEAD_LETTER_EXCHANGE, vhost, destination: DEAD_LETTER_QUEUE, destination_type: 'queue', routing_key: '', arguments: {} },
    ]),
  }
  await ctl(options, ['import_definitions'], undefined, JSON.stringify(definitions))
  // One export for every vhost (a rabbitmqctl run costs a second): the queues whose type is not
  // quorum (a classic queue has no `x-queue-type`, or `classic`).
  const classic = async (): Promise<Array<{ vhost: string; queue: string }>> => {
    const defs = JSON.parse(await ctl(options, ['export_definitions', '-', '--format', 'json', '-q'])) as {
      queues?: Array<{ name: string; vhost: string; arguments?: Record<string, unknown> }>
    }
    const wanted = new Map(vhosts.map(({ vhost, topology }) => [vhost, new Set([...topology.queues, DEAD_LETTER_QUEUE])]))
    return (defs.queues ?? [])
      .filter((q) => wanted.get(q.vhost)?.has(q.name) === true && q.arguments?.['x-queue-type'] !== 'quorum')
      .map((q) => ({ vhost: q.vhost, queue: q.name }))
  }
  const before = await classic()
  if (before.length === 0) return []
  for (const { vhost, queue } of before) {
    await ctl(options, ['delete_queue', '-p', vhost, queue, '--if-empty', '--if-unused'], /not empty|in use|not_found|precondition/i)
  }
  await ctl(options, ['import_definitions'], undefined, JSON.stringify(definitions))
  return (await classic()).map((c) => `${c.vhost} ${c.queue}`)
}

/** The queues of `vhost` with their type (`classic`, `quorum`, `stream`). */
export async function listQueues(vhost: string, options: RabbitAdminOptions = {}): Promise<Array<{ name: string; type: string; messages: number }>> {
  const out = await ctl(options, ['list_queues', '-p', vhost, 'name', 'type', 'messages', '-q', '--no-table-headers'])
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name = '', type = '', messages = '0'] = l.split('\t')
      return { name, type, messages: Number(messages) }
    })
}

/** Deletes broker users (tests, and users of cells that are gone). Missing users are fine. */
export async function deleteUsers(names: readonly string[], options: RabbitAdminOptions = {}): Promise<void> {
  for (const n of names) await ctl(options, ['delete_user', n], /does not exist|no_such_user/i)
}

/** Every broker user name (tests clean up theirs). */
export async function listUsers(options: RabbitAdminOptions = {}): Promise<string[]> {
  const out = await ctl(options, ['list_users', '-q', '--no-table-headers'])
  return out.split('\n').map((l) => l.split('\t')[0] ?? '').filter((n) => n !== '')
}

/** RabbitMQ's salted SHA-256 password hash: base64(salt(4 bytes) + sha256(salt + password)). */
export function rabbitPasswordHash(password: string): string {
  const salt = randomBytes(4)
  const digest = createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()
  return Buffer.concat([salt, digest]).toString('base64')
}

/**
 * Takes every right on `vhosts` away from the users not listed for it (one `export_definitions`,
 * then a clear per stale grant): what a vhost set up before per-role users existed gave `guest`, or
 * users of hosts that were removed from the cell. Returns the `vhost user` pairs it revoked.
 */
export async function revokeOtherUsers(keep: ReadonlyMap<string, ReadonlySet<string>>, options: RabbitAdminOptions = {}): Promise<string[]> {
  const defs = JSON.parse(await ctl(options, ['export_definitions', '-', '--format', 'json', '-q'])) as {
    permissions?: Array<{ user: string; vhost: string }>
    topic_permissions?: Array<{ user: string; vhost: string }>
  }
  const stale = new Map<string, { vhost: string; user: string }>()
  for (const p of [...(defs.permissions ?? []), ...(defs.topic_permissions ?? [])]) {
    const allowed = keep.get(p.vhost)
    if (allowed !== undefined && !allowed.has(p.user)) stale.set(`${p.vhost}\t${p.user}`, p)
  }
  for (const { vhost, user } of stale.values()) {
    await ctl(options, ['clear_permissions', '-p', vhost, user], /no_such_user|does not exist/i)
    await ctl(options, ['clear_topic_permissions', '-p', vhost, user], /no_such_user|does not exist/i)
  }
  return [...stale.values()].map((s) => `${s.vhost} ${s.user}`)
}
