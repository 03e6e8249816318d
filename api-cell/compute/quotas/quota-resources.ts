import { InvalidError } from '../../../shared/errors.js'
import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'
import { MAX_INT } from '../parameter-types.js'

/**
 * The compute quota resources, their defaults (Nova's `[quota]` defaults) and which of them each
 * microversion shows. Network quotas are nova-network leftovers: shown (and settable) before 2.36
 * and never enforced; injected files disappear at 2.57 (personality files are gone).
 */
export const QUOTA_RESOURCES = [
  'cores',
  'fixed_ips',
  'floating_ips',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
  'injected_files',
  'instances',
  'key_pairs',
  'metadata_items',
  'ram',
  'security_group_rules',
  'security_groups',
  'server_group_members',
  'server_groups',
] as const
/** One of {@link QUOTA_RESOURCES}. */
export type QuotaResource = (typeof QUOTA_RESOURCES)[number]

/** Limits applied when neither the project nor the user has an override. -1 = unlimited. */
export const DEFAULT_QUOTAS: Readonly<Record<QuotaResource, number>> = Object.freeze({
  cores: 20,
  fixed_ips: -1,
  floating_ips: 10,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  injected_files: 5,
  instances: 10,
  key_pairs: 100,
  metadata_items: 128,
  ram: 51200,
  security_group_rules: 20,
  security_groups: 10,
  server_group_members: 10,
  server_groups: 10,
})

/** Hidden from 2.36 (Nova's FILTERED_QUOTAS_2_36, `networks` aside: it is never shown). */
const NETWORK_QUOTAS: readonly QuotaResource[] = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups']
/** Also hidden from 2.57. */
const INJECTED_FILE_QUOTAS: readonly QuotaResource[] = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files']

/** The resources a microversion shows and accepts, in Nova's (sorted) order. */
export function visibleResources(mv: Microversion): QuotaResource[] {
  return QUOTA_RESOURCES.filter(
    (r) => !(atLeast(mv, '2.36') && NETWORK_QUOTAS.includes(r)) && !(atLeast(mv, '2.57') && INJECTED_FILE_QUOTAS.includes(r)),
  )
}

/** `true` for a name of {@link QUOTA_RESOURCES}. */
export function isQuotaResource(name: string): name is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(name)
}

/** A quota value as Nova's schema takes it: an integer or a string of one, in [-1, MAX_INT]. */
export function quotaValue(key: string, v: unknown): number {
  const n = typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^-?[0-9]+$/.test(v) ? Number(v) : undefined
  if (n === undefined) throw new InvalidError(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. ${JSON.stringify(v)} is not of type 'integer', 'string'`)
  if (n < -1) throw new InvalidError(`Invalid input for field/attribute ${key}. Value: ${n}. ${n} is less than the minimum of -1`)
  if (n > MAX_INT) throw new InvalidError(`Invalid input for field/attribute ${key}. Value: ${n}. ${n} is greater than the maximum of ${MAX_INT}`)
  return n
}
