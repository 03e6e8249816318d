/**
 * The one uuid check of the federation's APIs, so that every route agrees on what an id looks like
 * (a malformed one is rejected or simply not found before any lookup).
 */

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DASHES_OPTIONAL = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/** `true` for a canonical 8-4-4-4-12 hex uuid, any case. */
export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && CANONICAL.test(v)
}

/** Nova's `is_uuid_like`: a uuid whose dashes may be left out (as Nova's `format: uuid` accepts). */
export function isUuidLike(v: unknown): v is string {
  return typeof v === 'string' && DASHES_OPTIONAL.test(v)
}
