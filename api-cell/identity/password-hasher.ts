import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { ScryptOptions } from 'node:crypto'

/**
 * Password hashing with scrypt (a memory-hard KDF, as the design asks for "a slow KDF").
 *
 * Encoded form: `scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>`. The cost travels with the
 * hash, so the default can be raised later without invalidating stored passwords.
 */

/** scrypt cost parameters. */
export interface ScryptCost {
  /** log2 of the CPU/memory cost N. */
  readonly log2N: number
  readonly r: number
  readonly p: number
}

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and roughly 50-100 ms per hash on a server core, the same order as
 * Keystone's bcrypt default. Every password authentication pays it once.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = Object.freeze({ log2N: 15, r: 8, p: 1 })

const SALT_BYTES = 16
const HASH_BYTES = 32
const PREFIX = 'scrypt'

/**
 * Hashes `password` with a fresh random salt.
 *
 * @example
 *   const stored = await hashPassword('s3cret')          // scrypt$15$8$1$...$...
 *   await verifyPassword('s3cret', stored)               // true
 */
export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const hash = await derive(password, salt, HASH_BYTES, cost)
  return [PREFIX, cost.log2N, cost.r, cost.p, salt.toString('base64'), hash.toString('base64')].join('$')
}

/**
 * `true` when `password` matches `encoded`. Malformed or missing hashes never match. Constant-time
 * comparison; when `encoded` is null a dummy hash is still computed so that an unknown user and a wrong
 * password take the same time (no user enumeration by timing).
 */
export async function verifyPassword(password: string, encoded: string | null): Promise<boolean> {
  const parsed = encoded === null ? undefined : parseHash(encoded)
  if (parsed === undefined) {
    await derive(password, DUMMY_SALT, HASH_BYTES, DEFAULT_SCRYPT_COST)
    return false
  }
  const actual = await derive(password, parsed.salt, parsed.hash.length, parsed.cost)
  return timingSafeEqual(actual, parsed.hash)
}

/** A random password for the bootstrap admin: 24 URL-safe characters (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url')
}

const DUMMY_SALT = randomBytes(SALT_BYTES)

interface ParsedHash {
  readonly cost: ScryptCost
  readonly salt: Buffer
  readonly hash: Buffer
}

function parseHash(encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined
  const [log2N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  // Bounds keep a corrupted row from asking for gigabytes of memory.
  if (!Number.isInteger(log2N) || log2N < 1 || log2N > 20) return undefined
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined
  const salt = Buffer.from(parts[4] ?? '', 'base64')
  const hash = Buffer.from(parts[5] ?? '', 'base64')
  if (salt.length === 0 || hash.length < 16) return undefined
  return { cost: { log2N, r, p }, salt, hash }
}

function derive(password: string, salt: Buffer, length: number, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.log2N
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err === null ? resolve(key) : reject(err)))
  })
}
