import { createHash, randomBytes } from 'node:crypto'
import type { Kysely, Migration } from 'kysely'

/**
 * Console auth tokens (Nova's `console_auth_tokens`, of nova-consoleauth): what a console URL
 * carries. Only the SHA-256 of a token is stored, so a copy of the database opens no console.
 * A token is bound to one instance, the cell that owns it, and the address its console listens
 * on; it is short-lived and single-use (the proxy consumes it with a conditional update, so two
 * connections racing with one token cannot both get through).
 */
export interface ConsoleAuthTokensTable {
  /** Hex SHA-256 of the token. */
  token_hash: string
  instance_uuid: string
  cell_path: string
  /** `vnc`, `spice`, `serial`. */
  protocol: string
  /** Nova's console type: `novnc`, `spice-html5`, `serial`. */
  console_type: string
  host: string
  port: number
  created_at: number
  expires_at: number
  /** When a proxy consumed it; null while unused. */
  used_at: number | null
}

/** The tables of this file. */
export interface ConsoleTables {
  console_auth_tokens: ConsoleAuthTokensTable
}

/**
 * The API database's console table (portable across SQLite and MySQL; run with the API migrations).
 * Its name sorts after every API migration before it (`image_0001_initial` is last): Kysely refuses
 * a new migration that sorts before one already run, so an existing database could not upgrade.
 */
export const consoleMigrations: Readonly<Record<string, Migration>> = {
  z_console_0001_auth_tokens: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('console_auth_tokens')
        .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('cell_path', 'varchar(255)', (c) => c.notNull())
        .addColumn('protocol', 'varchar(16)', (c) => c.notNull())
        .addColumn('console_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute()
      await db.schema.createIndex('console_auth_tokens_expires').on('console_auth_tokens').column('expires_at').execute()
    },
  },
}

/** A token's binding, as the proxy and `GET /os-console-auth-tokens/{token}` see it. */
export interface ConsoleGrant {
  readonly instanceUuid: string
  readonly cellPath: string
  readonly protocol: string
  readonly consoleType: string
  readonly host: string
  readonly port: number
  readonly expiresAt: number
}

/** Why a token opens nothing; the proxy answers each with its own HTTP status. */
export type ConsoleRefusal = 'malformed' | 'unknown' | 'expired' | 'used' | 'other-instance' | 'other-region'

/** What issuing binds a token to. */
export interface ConsoleTokenRequest {
  readonly instanceUuid: string
  readonly cellPath: string
  readonly protocol: string
  readonly consoleType: string
  readonly host: string
  readonly port: number
}

/** Tokens are 32 random bytes, base64url: 43 characters of [A-Za-z0-9_-]. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex')

/**
 * Issues, reads and consumes console tokens in the API database.
 *
 * @example
 *   const tokens = new ConsoleTokens({ db, ttlMs: 600_000 })
 *   const token = await tokens.issue({ instanceUuid, cellPath, protocol: 'vnc', consoleType: 'novnc', host, port })
 *   const grant = await tokens.consume(token, { regionPrefix: 'api!region-one' })
 */
export class ConsoleTokens {
  readonly #db: Kysely<ConsoleTables>
  readonly #ttlMs: number
  readonly #now: () => number

  constructor(args: { db: Kysely<any>; ttlMs: number; now?: () => number }) {
    this.#db = args.db as Kysely<ConsoleTables>
    this.#ttlMs = args.ttlMs
    this.#now = args.now ?? Date.now
  }

  /** How long a token lives, in ms (`FEDERATION_CONSOLE_TOKEN_TTL`). */
  get ttlMs(): number {
    return this.#ttlMs
  }

  /** A new random token bound to `req`; also forgets tokens expired a while ago. */
  async issue(req: ConsoleTokenRequest): Promise<string> {
    const now = this.#now()
    // Expired rows stay one more TTL so that a late attempt is told "expired", then go.
    await this.#db.deleteFrom('console_auth_tokens').where('expires_at', '<', now - this.#ttlMs).execute()
    const token = randomBytes(32).toString('base64url')
    await this.#db
      .insertInto('console_auth_tokens')
      .values({
        token_hash: hashOf(token),
        instance_uuid: req.instanceUuid,
        cell_path: req.cellPath,
        protocol: req.protocol,
        console_type: req.consoleType,
        host: req.host,
        port: req.port,
        created_at: now,
        expires_at: now + this.#ttlMs,
        used_at: null,
      })
      .execute()
    return token
  }

  /**
   * Forgets every token of an instance (Nova's clean_console_auths_for_instance): called when the
   * instance is deleted, so that no URL handed out before reaches whatever listens there next.
   */
  async forgetInstance(instanceUuid: string): Promise<void> {
    await this.#db.deleteFrom('console_auth_tokens').where('instance_uuid', '=', instanceUuid).execute()
  }

  /** The binding of a valid (well-formed, known, unexpired, unused) token, without using it. */
  async peek(token: string): Promise<ConsoleGrant | ConsoleRefusal> {
    if (!TOKEN_SHAPE.test(token)) return 'malformed'
    const row = await this.#db.selectFrom('console_auth_tokens').selectAll().where('token_hash', '=', hashOf(token)).executeTakeFirst()
    if (row === undefined) return 'unknown'
    if (row.used_at !== null) return 'used'
    if (Number(row.expires_at) <= this.#now()) return 'expired'
    return grantOf(row)
  }

  /**
   * Uses a token up: it must be valid, for an instance of the cell subtree `regionPrefix` (the
   * proxy's region), and for `instanceUuid` when the client names one. Only one caller ever gets
   * a grant for a token; a refused attempt uses nothing.
   */
  async consume(token: string, scope: { regionPrefix?: string; instanceUuid?: string }): Promise<ConsoleGrant | ConsoleRefusal> {
    const found = await this.peek(token)
    if (typeof found === 'string') return found
    if (scope.instanceUuid !== undefined && scope.instanceUuid.toLowerCase() !== found.instanceUuid.toLowerCase()) return 'other-instance'
    if (scope.regionPrefix !== undefined && found.cellPath !== scope.regionPrefix && !found.cellPath.startsWith(`${scope.regionPrefix}!`)) return 'other-region'
    const now = this.#now()
    const res = await this.#db
      .updateTable('console_auth_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hashOf(token))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst()
    if (Number(res.numUpdatedRows) !== 1) return (await this.peek(token)) === 'expired' ? 'expired' : 'used'
    return found
  }
}

function grantOf(row: ConsoleAuthTokensTable): ConsoleGrant {
  return {
    instanceUuid: row.instance_uuid,
    cellPath: row.cell_path,
    protocol: row.protocol,
    consoleType: row.console_type,
    host: row.host,
    port: Number(row.port),
    expiresAt: Number(row.expires_at),
  }
}
