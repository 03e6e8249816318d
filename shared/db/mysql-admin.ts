/**
 * MariaDB/MySQL accounts for the services of a federation: one account per service and cell, with
 * rights on its own schemas only (DESIGN.md: "each role has its own broker and database identity
 * with least privilege"). Run with an administrator's URL by the production supervisor.
 *
 * @module
 */

/** One service account and the schemas it may use. */
export interface SchemaUser {
  /** Account name (at most 80 characters in MariaDB). */
  readonly user: string
  readonly password: string
  /** Schemas it gets every right on (no GRANT OPTION); nothing else. */
  readonly schemas: readonly string[]
}

/** Account names: letters, digits and `_` (they also appear in logs and SHOW GRANTS). */
const ACCOUNT = /^[A-Za-z0-9_]{1,80}$/
const SCHEMA = /^[A-Za-z0-9_]{1,64}$/

/**
 * A schema name for GRANT: `_` and `%` are wildcards there, so `fed_api` would also grant
 * `fedXapi`; escaped, the grant names exactly one schema.
 */
export function grantSchemaName(schema: string): string {
  if (!SCHEMA.test(schema)) throw new Error(`invalid schema name ${schema}`)
  return `\`${schema.replace(/_/g, '\\_')}\``
}

/**
 * Creates each account (from any host) or resets its password, and grants it its schemas, creating
 * them when missing. Grants of schemas no longer listed are revoked, so an account never keeps
 * rights it was given once. Idempotent. Passwords go over the SQL connection only.
 */
export async function ensureSchemaUsers(adminUrl: string, users: readonly SchemaUser[]): Promise<void> {
  const pool = await adminPool(adminUrl)
  try {
    for (const u of users) {
      if (!ACCOUNT.test(u.user)) throw new Error(`invalid database account name ${u.user}`)
      await pool.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [u.user, u.password])
      await pool.query("ALTER USER ?@'%' IDENTIFIED BY ?", [u.user, u.password])
      await pool.query("REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@'%'", [u.user])
      for (const schema of u.schemas) {
        const grantee = grantSchemaName(schema)
        await pool.query(`CREATE DATABASE IF NOT EXISTS \`${schema}\` CHARACTER SET utf8mb4`)
        await pool.query(`GRANT ALL PRIVILEGES ON ${grantee}.* TO ?@'%'`, [u.user])
      }
    }
  } finally {
    await pool.end()
  }
}

/** Drops accounts (tests; cells that are gone). Missing accounts are fine. */
export async function dropSchemaUsers(adminUrl: string, names: readonly string[]): Promise<void> {
  const pool = await adminPool(adminUrl)
  try {
    for (const n of names) {
      if (!ACCOUNT.test(n)) throw new Error(`invalid database account name ${n}`)
      await pool.query("DROP USER IF EXISTS ?@'%'", [n])
    }
  } finally {
    await pool.end()
  }
}

/** Account names that start with `prefix` (tests clean up theirs). */
export async function listSchemaUsers(adminUrl: string, prefix: string): Promise<string[]> {
  const pool = await adminPool(adminUrl)
  try {
    const [rows] = await pool.query("SELECT User AS user FROM mysql.user WHERE Host = '%' AND User LIKE CONCAT(?, '%')", [prefix.replace(/[\\_%]/g, '\\$&')])
    return (rows as Array<{ user: string }>).map((r) => r.user)
  } finally {
    await pool.end()
  }
}

async function adminPool(adminUrl: string) {
  const { createPool } = await import('mysql2')
  const parsed = new URL(adminUrl)
  return createPool({
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    connectionLimit: 1,
  }).promise()
}
