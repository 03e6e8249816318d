import { isIP } from 'node:net'
import { z } from 'zod'
import { InvalidError } from '../../shared/errors.js'

/**
 * Nova's request `parameter_types` as zod schemas, for the API-cell-only resources (flavors admin,
 * keypairs, server groups, quotas). Keeping Nova's exact acceptance rules matters: clients send
 * integers as strings (`"ram": "512"`) and booleans as words (`"is_public": "True"`).
 */

/** Nova's `db.MAX_INT`: the largest value an INT column takes. */
export const MAX_INT = 0x7fffffff

const TRUE_WORDS = ['True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'y', 't'] as const
const FALSE_WORDS = ['False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no', 'n', 'f'] as const

/** `parameter_types.boolean`: a JSON boolean or one of Nova's words for one. */
export const novaBoolean = z
  .union([z.boolean(), z.enum([...TRUE_WORDS, ...FALSE_WORDS])])
  .transform((v) => v === true || (typeof v === 'string' && (TRUE_WORDS as readonly string[]).includes(v)))

/** An integer in `[min, MAX_INT]`, given as a JSON integer or a string of digits (optionally `-`). */
export function novaInt(min: number, max = MAX_INT) {
  return z
    .union([z.number().int(), z.string().regex(/^-?[0-9]+$/, 'must be an integer')])
    .transform((v) => Number(v))
    .pipe(z.number().int().min(min).max(max))
}

/** `parameter_types.name`: 1-255 printable characters without leading or trailing whitespace. */
export const novaName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => s.trim() === s && !/[\p{Cc}]/u.test(s), 'leading/trailing whitespace or control characters are not allowed')

/** C0/C1 control characters (NUL included), which Nova's printable-name formats refuse. */
const CONTROL = /\p{Cc}/u

/** True when `s` has a control character (NUL, ESC, DEL...). */
export function hasControl(s: string): boolean {
  return CONTROL.test(s)
}

/**
 * A server's `name` on create, update and rebuild: Nova strips surrounding whitespace there, then
 * takes 1-255 printable characters.
 */
export const novaServerName = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine((s) => !hasControl(s), 'control characters are not allowed')

/** A server's `description` (2.19+): up to 255 printable characters (newlines and tabs allowed), or null. */
export const novaServerDescription = z
  .string()
  .max(255)
  .refine((s) => !hasControl(s.replace(/[\n\r\t]/g, '')), 'control characters are not allowed')
  .nullable()

/** True for an IPv6 address this API can store in canonical form (zone ids and the like are not). */
function isStorableIpv6(s: string): boolean {
  if (isIP(s) !== 6) return false
  try {
    new URL(`http://[${s}]/`)
    return true
  } catch {
    return false
  }
}

/** `accessIPv4`: an IPv4 address (or `""`, which leaves it unset), as Nova's `format: ipv4`. */
export const accessIPv4 = z.string().refine((s) => s === '' || isIP(s) === 4, "is not a 'ipv4'")

/** `accessIPv6`: an IPv6 address (or `""`, which leaves it unset), as Nova's `format: ipv6`. */
export const accessIPv6 = z.string().refine((s) => s === '' || isStorableIpv6(s), "is not a 'ipv6'")

/** Nova's `parameter_types.hostname` (2.90): 2-63 letters, digits and inner hyphens. */
export const novaHostname = z
  .string()
  .min(2)
  .max(63)
  .regex(/^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$/, "does not match '^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$'")

/** Nova's `parameter_types.fqdn` (a compute host or node name, 2.74): 1-255 of `[a-zA-Z0-9-._]`. */
export const novaFqdn = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-zA-Z0-9-._]*$/, "does not match '^[a-zA-Z0-9-._]*$'")

/** Nova's `parameter_types.metadata` key pattern. */
const METADATA_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/

/**
 * `parameter_types.metadata`: keys of 1-255 characters from `[a-zA-Z0-9-_:. ]`, string values of at
 * most 255 characters. Checked on the raw object (zod's record would silently drop a `__proto__`
 * key, which we refuse instead: the pattern admits it, but no consumer could store it safely).
 * How many items is a quota (`metadata_items`, 403), not a schema rule: see `checkMetadataItems`.
 */
export const novaMetadata = z.unknown().transform((v, ctx): Record<string, string> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)?.slice(0, 64) ?? 'undefined'} is not of type 'object'` })
    return z.NEVER
  }
  for (const [k, val] of Object.entries(v)) {
    if (!METADATA_KEY.test(k) || k === '__proto__') {
      ctx.addIssue({ code: 'custom', message: `Additional properties are not allowed (${JSON.stringify(k.slice(0, 64))} was unexpected)` })
      return z.NEVER
    }
    if (typeof val !== 'string' || val.length > 255) {
      ctx.addIssue({ code: 'custom', path: [k], message: 'must be a string of at most 255 characters' })
      return z.NEVER
    }
  }
  return v as Record<string, string>
})

/** `parameter_types.description`: up to 65535 printable characters, or null. */
export const novaDescription = z
  .string()
  .max(65535)
  .refine((s) => !/[\p{Cc}]/u.test(s.replace(/[\n\r\t]/g, '')), 'control characters are not allowed')
  .nullable()

/** `"Invalid input for field/attribute flavor.ram. Value: ..."`, as Nova words schema errors. */
export function invalidInput(err: z.ZodError): InvalidError {
  const issue = err.issues[0]
  const path = issue?.path.join('.') ?? ''
  return new InvalidError(`Invalid input for field/attribute ${path === '' ? 'body' : path}. Value: ${issue?.message ?? 'invalid'}`)
}

/** Parses `body` with `schema`, or throws Nova's 400. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw invalidInput(parsed.error)
  return parsed.data
}

/** A single-valued query parameter (the first of a repeated one), or undefined. */
export function queryParam(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0]
  return undefined
}

/** A non-negative integer query parameter (Nova's `limit`/`offset`), or Nova's 400. */
export function intQuery(name: string, v: unknown): number | undefined {
  const s = queryParam(v)
  if (s === undefined) return undefined
  if (!/^[0-9]+$/.test(s)) throw new InvalidError(`Invalid input for query parameters ${name}. Value: ${s}. '${s}' does not match '^[0-9]*$'`)
  return Number(s)
}

/** Nova's `created_at` form outside the server view: `2014-05-07T12:06:13.681000` (no zone). */
export function novaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000')
}
