import type { Kysely, Migration } from 'kysely'
import { cell0Migrations } from '../../api-cell/cells/cell0.js'
import { seedFlavors } from '../../api-cell/compute/flavors/flavor-store.js'
import type { ApiSchema } from '../../api-cell/db/schema.js'
import { bootstrapIdentity } from '../../api-cell/identity/bootstrap.js'
import { API_MIGRATIONS } from '../../api-cell/runtime.js'
import { cellMigrations } from '../../child-cell/db/migrations.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { withCredentials } from '../../shared/config/credentials.js'
import { apiDatabases, cellEndpoints, federationConfig } from '../../shared/config/federation.js'
import { allCells } from '../../shared/config/regions.js'
import { migrateToLatest, openDatabase, redactUrl } from '../../shared/db/database.js'
import type { CommandContext, CommandSpec, OptionSpec } from './command.js'
import { str } from './command.js'
import { OperationError } from './admin-client.js'
import { UsageError } from './usage-error.js'

/** The flags that say where the databases are: the same files and flags the services read. */
export const CONFIG_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  mode: { type: 'string', value: 'MODE', help: 'production (MariaDB, default) or embedded (SQLite files in --state-dir)' },
  'state-dir': { type: 'string', value: 'DIR', help: 'state directory (default .federation)' },
  'regions-dir': { type: 'string', value: 'DIR', help: 'region files (default deploy/regions in the package)' },
  'database-url': { type: 'string', value: 'URL', help: 'production: MariaDB server without password (credentials: FEDERATION_DATABASE_URL or _FILE; default local root)' },
  'name-prefix': { type: 'string', value: 'NAME', help: 'prefix of the database schemas (default federation)' },
}

function configOf(c: CommandContext, command: string): FederationConfig {
  const mode = str(c, 'mode') ?? 'production'
  if (mode !== 'production' && mode !== 'embedded') throw new UsageError(`--mode must be production or embedded, got ${mode}`, command)
  const values: Record<string, string | undefined> = {}
  for (const k of ['state-dir', 'regions-dir', 'database-url', 'name-prefix']) values[k] = str(c, k)
  try {
    return federationConfig(mode, values)
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), command)
  }
}

/** Names of the migrations a database has run (none when it has no migration table yet). */
async function appliedMigrations(db: Kysely<any>): Promise<Set<string>> {
  try {
    const rows = (await db.selectFrom('kysely_migration').select('name').execute()) as Array<{ name: string }>
    return new Set(rows.map((r) => r.name))
  } catch {
    return new Set()
  }
}

/** One database brought up to date. */
interface SyncResult {
  readonly database: string
  readonly url: string
  readonly applied: string[]
  readonly total: number
}

async function sync(name: string, url: string, migrations: Readonly<Record<string, Migration>>): Promise<SyncResult> {
  let database
  try {
    database = await openDatabase(url)
  } catch (err) {
    throw new OperationError(`cannot open the ${name} database (${redactUrl(url)}): ${err instanceof Error ? err.message : String(err)}`)
  }
  try {
    const before = await appliedMigrations(database.db)
    await migrateToLatest(database.db, migrations)
    const after = await appliedMigrations(database.db)
    return { database: name, url: redactUrl(url), applied: [...after].filter((m) => !before.has(m)).sort(), total: after.size }
  } catch (err) {
    throw new OperationError(`${name}: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    await database.close()
  }
}

/** `url` with the user and password of `adminUrl` when it has none of its own. */
function withAdminCredentials(url: string, adminUrl: string): string {
  if (!url.startsWith('mysql://') || new URL(url).username !== '') return url
  const admin = new URL(adminUrl)
  return withCredentials(url, decodeURIComponent(admin.username), decodeURIComponent(admin.password))
}

/** A cell's database URL: the configured tree first, else the one recorded by `cell create`. */
async function cellDatabaseUrl(cfg: FederationConfig, path: string): Promise<string> {
  const configured = allCells(cfg.regions).find((c) => c.path === path)
  if (configured !== undefined) return cellEndpoints(cfg, configured).databaseUrl
  const api = await openDatabase<ApiSchema>(apiDatabases(cfg).api)
  try {
    const row = await api.db.selectFrom('cells').select('database_url').where('path', '=', path).executeTakeFirst()
    // Recorded URLs carry no credentials (production): this tool's own (admin) ones apply.
    if (row?.database_url) return withAdminCredentials(row.database_url, cfg.databaseBaseUrl)
  } catch {
    // no API schema yet: the cell is unknown either way
  } finally {
    await api.close()
  }
  throw new OperationError(`cell ${path} is neither in ${cfg.regionsDir} nor registered with a database URL`, 404)
}

/** `db sync` and `bootstrap`: they work on the databases directly, without the API. */
export const LOCAL_COMMANDS: readonly CommandSpec[] = [
  {
    name: ['db', 'sync'],
    summary: 'bring database schemas up to date (every database, one cell, or the API and cell0)',
    args: [],
    options: {
      cell: { type: 'string', value: 'PATH', help: "only this cell's database" },
      api: { type: 'boolean', help: 'only the API and cell0 databases' },
      ...CONFIG_OPTIONS,
    },
    details: 'Safe to run while services run and from several places at once (migrations take a lock).',
    async run(c) {
      const cmd = 'db sync'
      const cell = str(c, 'cell')
      if (cell !== undefined && c.values['api'] === true) throw new UsageError('--cell and --api exclude each other', cmd)
      const cfg = configOf(c, cmd)
      const dbs = apiDatabases(cfg)
      const results: SyncResult[] = []
      if (cell === undefined) {
        results.push(await sync('api', dbs.api, API_MIGRATIONS))
        results.push(await sync('cell0', dbs.cell0, cell0Migrations))
      }
      if (cell !== undefined) results.push(await sync(cell, await cellDatabaseUrl(cfg, cell), cellMigrations))
      else if (c.values['api'] !== true) {
        for (const cc of allCells(cfg.regions)) results.push(await sync(cc.path, cellEndpoints(cfg, cc).databaseUrl, cellMigrations))
      }
      return {
        data: { databases: results },
        tables: [
          {
            head: ['DATABASE', 'URL', 'APPLIED NOW', 'MIGRATIONS'],
            rows: results.map((r) => [r.database, r.url, r.applied.length === 0 ? 'up to date' : r.applied.join(', '), r.total]),
          },
        ],
      }
    },
  },
  {
    name: ['bootstrap'],
    summary: 'create (or reset) the admin identity and seed the classic flavors',
    args: [],
    options: { 'admin-password': { type: 'string', value: 'PASSWORD', help: "the admin user's password (set, or reset)" }, ...CONFIG_OPTIONS },
    details: 'Idempotent, like keystone-manage bootstrap: brings the API schema up to date first. The password is never printed.',
    async run(c) {
      const cmd = 'bootstrap'
      const password = str(c, 'admin-password')
      if (password === undefined || password === '') throw new UsageError('--admin-password is required', cmd)
      const cfg = configOf(c, cmd)
      const url = apiDatabases(cfg).api
      const schema = await sync('api', url, API_MIGRATIONS)
      const api = await openDatabase<ApiSchema>(url)
      try {
        const boot = await bootstrapIdentity(api.db, { adminPassword: password })
        const flavors = await seedFlavors(api.db)
        const data = {
          admin_user_id: boot.adminUserId,
          admin_project_id: boot.adminProjectId,
          domain_id: boot.domainId,
          created_admin: boot.createdAdmin,
          flavors_added: flavors,
          migrations_applied: schema.applied,
        }
        return {
          data,
          tables: [
            {
              head: ['FIELD', 'VALUE'],
              rows: [
                ['admin user', `admin (${boot.adminUserId})${boot.createdAdmin ? ', created' : ', password reset'}`],
                ['admin project', `admin (${boot.adminProjectId})`],
                ['domain', boot.domainId],
                ['flavors added', flavors],
                ['migrations applied', schema.applied.length],
              ],
            },
          ],
        }
      } finally {
        await api.close()
      }
    },
  },
]
