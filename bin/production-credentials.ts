import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cellBusTopology, cellBusUsage } from '../child-cell/bus-usage.js'
import type { VhostUser } from '../shared/bus/amqp-admin.js'
import { applyVhostsDefinitions, revokeOtherUsers } from '../shared/bus/amqp-admin.js'
import { permissionsFor } from '../shared/bus/amqp-permissions.js'
import type { ServiceRole } from '../shared/bus/caller.js'
import { MAX_PRINCIPAL_BYTES, principalName } from '../shared/bus/caller.js'
import { readSecretFile, SERVER_URL_ENV, withCredentials, withoutCredentials } from '../shared/config/credentials.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { cellEndpoints } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells } from '../shared/config/regions.js'
import type { SchemaUser } from '../shared/db/mysql-admin.js'
import { ensureSchemaUsers } from '../shared/db/mysql-admin.js'

/** Who a supervised process is: the API, or one service of one cell (compute: with its hosts). */
export interface ProcessIdentity {
  readonly role: ServiceRole | 'api'
  readonly cell?: CellConfig
  readonly hosts?: readonly string[]
}

/** Where the per-service passwords live: readable by the supervisor's user only. */
export const CREDENTIALS_FILE = 'service-credentials.json'

/**
 * The hosts of a cell split into compute processes, each with one broker user whose name (its
 * principal, which lists the hosts) fits AMQP's 255-byte `user_id`. Usually one group per cell.
 */
export function computeHostGroups(vhost: string, hosts: readonly string[]): string[][] {
  const groups: string[][] = []
  let current: string[] = []
  for (const h of hosts) {
    const next = [...current, h]
    if (current.length > 0 && Buffer.byteLength(principalName(vhost, 'compute', next)) > MAX_PRINCIPAL_BYTES) {
      groups.push(current)
      current = [h]
    } else {
      current = next
    }
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/** The MariaDB account of a cell's conductor or scheduler (`cell` undefined: the API's). */
export function databaseAccount(cfg: FederationConfig, cell: CellConfig | undefined, role: 'conductor' | 'scheduler' | 'api'): string {
  if (cell === undefined) return `${cfg.namePrefix}_api`
  // A digest of the path keeps the name short (MariaDB: 80 characters) and stable across restarts.
  const digest = createHash('sha256').update(cell.path).digest('hex').slice(0, 10)
  return `${cfg.namePrefix}_${digest}_${role}`
}

/**
 * The per-service credentials of a production federation: generated on the first start, kept in
 * `STATE_DIR/service-credentials.json` (mode 0600), installed on the broker and the database server
 * with the administrator's credentials, and handed to each process in its environment.
 */
export class ServiceCredentials {
  readonly #cfg: FederationConfig
  readonly #path: string
  readonly #passwords: Record<string, string>
  readonly #existingOnly: boolean
  #revoked: string[] = []
  #classicQueues: string[] = []

  private constructor(cfg: FederationConfig, path: string, passwords: Record<string, string>, existingOnly: boolean) {
    this.#cfg = cfg
    this.#path = path
    this.#passwords = passwords
    this.#existingOnly = existingOnly
  }

  /**
   * Loads the kept passwords (refusing a file others may read), or starts an empty set. With
   * `existingOnly` (a site whose set-up ran elsewhere: `--setup skip`), the file must be there and a
   * password it lacks is an error, never a new password the servers do not know.
   */
  static load(cfg: FederationConfig, existingOnly = false): ServiceCredentials {
    const path = join(cfg.stateDir, CREDENTIALS_FILE)
    if (existingOnly && !existsSync(path)) throw new Error(`no ${path}: run the set-up first (--setup only) and copy its state directory here`)
    const kept = existsSync(path) ? (JSON.parse(readSecretFile(path, 'service credentials')) as Record<string, string>) : {}
    return new ServiceCredentials(cfg, path, kept, existingOnly)
  }

  /**
   * Creates or updates every broker user (per cell: conductor, scheduler, agent and one per compute
   * process, each with its least-privilege permissions), every vhost with its exchanges and queues,
   * and every database account (conductor and scheduler: their cell's schema only; the API: the
   * API and cell0 schemas). Saves the passwords first, so a failure half way loses none.
   */
  async provision(scope: { readonly api: boolean; readonly cells: readonly CellConfig[] } = { api: true, cells: allCells(this.#cfg.regions) }): Promise<void> {
    const cfg = this.#cfg
    const cells = scope.cells
    const apiUser = databaseAccount(cfg, undefined, 'api')
    const dbUsers: SchemaUser[] = scope.api ? [{ user: apiUser, password: this.#password(`db:${apiUser}`), schemas: [`${cfg.namePrefix}_api`, `${cfg.namePrefix}_cell0`] }] : []
    const brokers: Array<{ vhost: string; cell: CellConfig; users: VhostUser[] }> = []
    for (const cell of cells) {
      const ep = cellEndpoints(cfg, cell)
      const vhost = ep.vhost as string
      const schema = new URL(ep.databaseUrl).pathname.slice(1)
      const hosts = cell.hosts.map((h) => h.name)
      const roles: Array<{ role: ServiceRole; hosts?: string[] }> = [{ role: 'conductor' }, { role: 'agent' }]
      if (hosts.length > 0) roles.push({ role: 'scheduler' }, ...computeHostGroups(vhost, hosts).map((g) => ({ role: 'compute' as const, hosts: g })))
      const users = roles.map((r) => {
        const name = principalName(vhost, r.role, r.hosts)
        return { name, password: this.#password(`amqp:${name}`), permissions: permissionsFor(cellBusUsage(r.role, hosts, r.hosts)) }
      })
      brokers.push({ vhost, cell, users })
      for (const role of hosts.length > 0 ? (['conductor', 'scheduler'] as const) : (['conductor'] as const)) {
        const user = databaseAccount(cfg, cell, role)
        dbUsers.push({ user, password: this.#password(`db:${user}`), schemas: [schema] })
      }
    }
    this.#save()
    this.#classicQueues = await applyVhostsDefinitions(brokers.map((b) => ({ vhost: b.vhost, topology: cellBusTopology(b.cell.hosts.map((h) => h.name)), users: b.users })))
    // Vhosts set up by an older version granted guest everything; hosts may have left a cell.
    const revoked = await revokeOtherUsers(new Map(brokers.map((b) => [b.vhost, new Set(b.users.map((u) => u.name))])))
    this.#revoked = revoked
    await ensureSchemaUsers(cfg.databaseBaseUrl, dbUsers)
  }

  /** The `vhost user` grants the last {@link ServiceCredentials.provision} took away (to be logged). */
  get revoked(): readonly string[] {
    return this.#revoked
  }

  /**
   * Work queues (`vhost queue`) still classic after the last {@link ServiceCredentials.provision}:
   * an older version's, with messages or consumers in them (to be logged; the next start migrates them).
   */
  get classicQueues(): readonly string[] {
    return this.#classicQueues
  }

  /**
   * The environment of a supervised process: the supervisor's, without the administrator's server
   * URLs (nor, but for the API process, the metadata proxy's secret), plus the process's own (a
   * compute process and the agent get no database URL at all).
   */
  envFor(id: ProcessIdentity, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base }
    for (const name of Object.values(SERVER_URL_ENV)) {
      delete env[name]
      delete env[`${name}_FILE`]
    }
    // Only the API process serves the metadata API: a cell's process holding the proxy's secret
    // could sign requests for any instance's metadata.
    if (id.role !== 'api') delete env['FEDERATION_METADATA_PROXY_SECRET']
    const cfg = this.#cfg
    const dbRole = id.role === 'api' ? 'api' : id.role === 'conductor' || id.role === 'scheduler' ? id.role : undefined
    if (dbRole !== undefined) {
      const user = databaseAccount(cfg, id.role === 'api' ? undefined : id.cell, dbRole)
      env[SERVER_URL_ENV.database] = withCredentials(withoutCredentials(cfg.databaseBaseUrl), user, this.#password(`db:${user}`))
    }
    if (id.role !== 'api' && id.cell !== undefined) {
      const vhost = cellEndpoints(cfg, id.cell).vhost as string
      const name = principalName(vhost, id.role, id.hosts)
      env[SERVER_URL_ENV.transport] = withCredentials(withoutCredentials(cfg.transportBaseUrl), name, this.#password(`amqp:${name}`))
    }
    return env
  }

  #password(key: string): string {
    if (this.#existingOnly && this.#passwords[key] === undefined) throw new Error(`no password for ${key} in ${this.#path}: run the set-up for this site's cells first`)
    this.#passwords[key] ??= randomBytes(24).toString('base64url')
    return this.#passwords[key]
  }

  #save(): void {
    mkdirSync(this.#cfg.stateDir, { recursive: true })
    writeFileSync(this.#path, `${JSON.stringify(this.#passwords, null, 2)}\n`, { mode: 0o600 })
    // writeFileSync's mode applies only to a new file.
    chmodSync(this.#path, 0o600)
  }
}
