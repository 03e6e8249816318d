import { readFileSync, statSync } from 'node:fs'

/**
 * Where the MariaDB and RabbitMQ server URLs (and so their credentials) come from in production.
 *
 * Command lines are visible to every user of the machine (`ps`), so a URL given as a flag must not
 * carry a password. Credentials come from the environment (`FEDERATION_DATABASE_URL`,
 * `FEDERATION_TRANSPORT_URL`) or from a file only its owner can read, named by
 * `FEDERATION_DATABASE_URL_FILE` / `FEDERATION_TRANSPORT_URL_FILE`. The production supervisor
 * hands every service its own per-role URL through the environment.
 *
 * With none of these, the administration tools (the supervisor, `cellctl db sync`) fall back to the
 * local development servers ({@link LOCAL_DEV_URLS}: MariaDB's `root` without a password and the
 * broker on 127.0.0.1), saying so; the services themselves never do (see
 * {@link requireServiceUrls}).
 *
 * @module
 */

/** The two servers of production mode. */
export const SERVER_KINDS = ['database', 'transport'] as const
/** One of {@link SERVER_KINDS}. */
export type ServerKind = (typeof SERVER_KINDS)[number]
/** Where a server URL came from. */
export type UrlSource = 'flag' | 'env' | 'file' | 'local-default'

/** The environment variable holding each server's URL (`<name>_FILE`: a file holding it). */
export const SERVER_URL_ENV: Readonly<Record<ServerKind, string>> = Object.freeze({
  database: 'FEDERATION_DATABASE_URL',
  transport: 'FEDERATION_TRANSPORT_URL',
})

/**
 * The servers of a development machine, used for set-up only when nothing else is configured.
 * The broker URL carries no user: the supervisor administers RabbitMQ through `rabbitmqctl`.
 */
export const LOCAL_DEV_URLS: Readonly<Record<ServerKind, string>> = Object.freeze({
  database: 'mysql://root@127.0.0.1:3306',
  transport: 'amqp://127.0.0.1:5672',
})

const FLAGS: Readonly<Record<ServerKind, string>> = { database: '--database-url', transport: '--transport-url' }

/** A server URL and where it came from. */
export interface ServerUrl {
  readonly url: string
  readonly source: UrlSource
}

/**
 * The URL of a server: the flag (which must not hold a password), else the environment variable,
 * else the file it names (which must not be readable by group or others), else the local default.
 * Throws a one-line error saying what to do instead.
 */
export function serverUrl(kind: ServerKind, flag: string | undefined, env: NodeJS.ProcessEnv): ServerUrl {
  const name = SERVER_URL_ENV[kind]
  if (flag !== undefined) {
    if (hasPassword(flag)) {
      throw new Error(`${FLAGS[kind]} must not carry a password (command lines are visible to every user): put the URL in ${name}, or in a file only you can read named by ${name}_FILE`)
    }
    return { url: trimmed(flag), source: 'flag' }
  }
  const value = env[name]
  if (value !== undefined && value !== '') return { url: trimmed(value), source: 'env' }
  const file = env[`${name}_FILE`]
  if (file !== undefined && file !== '') return { url: trimmed(readSecretFile(file, `${name}_FILE`)), source: 'file' }
  return { url: LOCAL_DEV_URLS[kind], source: 'local-default' }
}

/**
 * Refuses to run a production service on the local development defaults: a service runs with the
 * identity the supervisor (or the operator) gave it, never as the database's `root`.
 */
export function requireServiceUrls(sources: Readonly<Record<ServerKind, UrlSource>>, kinds: readonly ServerKind[]): void {
  for (const k of kinds) {
    if (sources[k] === 'local-default') {
      throw new Error(`no ${k} credentials: a production service needs its own (the supervisor passes them in ${SERVER_URL_ENV[k]}); set ${SERVER_URL_ENV[k]} or ${SERVER_URL_ENV[k]}_FILE`)
    }
  }
}

/** The contents of a secret file, refused when group or others may read or write it. */
export function readSecretFile(path: string, what: string): string {
  let mode: number
  try {
    mode = statSync(path).mode
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  if ((mode & 0o077) !== 0) throw new Error(`${what}: ${path} must be readable by its owner only (chmod 600 ${path})`)
  return readFileSync(path, 'utf8')
}

/** The URL without user and password (what may be stored, shown or passed on a command line). */
export function withoutCredentials(url: string): string {
  const u = new URL(url)
  u.username = ''
  u.password = ''
  return u.toString().replace(/\/$/, '')
}

/** The URL with `user` and `password` in place of whatever it had. */
export function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url)
  u.username = encodeURIComponent(user)
  u.password = encodeURIComponent(password)
  return u.toString().replace(/\/$/, '')
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== ''
  } catch {
    return /\/\/[^/@]*:[^/@]*@/.test(url)
  }
}

function trimmed(url: string): string {
  return url.trim().replace(/\/+$/, '')
}
