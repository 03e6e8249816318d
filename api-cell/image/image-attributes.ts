import { ForbiddenError, InvalidError } from '../../shared/errors.js'
import type { Image } from './image-model.js'
import {
  CONTAINER_FORMATS,
  DISK_FORMATS,
  MAX_INT32,
  READ_ONLY_ATTRIBUTES,
  RESERVED_ATTRIBUTES,
  SETTABLE_ATTRIBUTES,
} from './image-model.js'
import type { SettableAttribute } from './image-model.js'
import { VISIBILITIES } from './schema.js'
import type { Visibility } from './schema.js'

/** C0/C1 control characters (NUL included): never part of a name, tag or property name. */
const CONTROL = /\p{Cc}/u

/** Changes to an image's user-settable fields (the result of a create body or a patch). */
export interface ImageChanges {
  name?: string | null
  visibility?: Visibility
  containerFormat?: string | null
  diskFormat?: string | null
  minDisk?: number
  minRam?: number
  protected?: boolean
  osHidden?: boolean
  tags?: string[]
  owner?: string | null
  properties?: Record<string, string>
}

/** How a top-level key of an image body is treated. */
export type KeyKind = 'settable' | 'read-only' | 'reserved' | 'property'

/** Classifies `key`. */
export function keyKind(key: string): KeyKind {
  if ((SETTABLE_ATTRIBUTES as readonly string[]).includes(key)) return 'settable'
  if ((READ_ONLY_ATTRIBUTES as readonly string[]).includes(key)) return 'read-only'
  if ((RESERVED_ATTRIBUTES as readonly string[]).includes(key)) return 'reserved'
  return 'property'
}

/** Throws Glance's 403 for read-only and reserved keys. */
export function assertWritable(key: string): void {
  const kind = keyKind(key)
  if (kind === 'read-only') throw new ForbiddenError(`Attribute '${key}' is read-only.`)
  if (kind === 'reserved') throw new ForbiddenError(`Attribute '${key}' is reserved.`)
}

/** Records a validated value of a settable attribute into `changes`. Throws 400 on a bad value. */
export function setAttribute(changes: ImageChanges, key: SettableAttribute, value: unknown): void {
  switch (key) {
    case 'name':
      if (value !== null && (typeof value !== 'string' || value.length > 255 || CONTROL.test(value))) {
        bad(key, 'a string of at most 255 characters without control characters, or null')
      }
      changes.name = value as string | null
      return
    case 'visibility':
      if (!(VISIBILITIES as readonly unknown[]).includes(value)) throw new InvalidError(`Invalid visibility value: ${String(value)}`)
      changes.visibility = value as Visibility
      return
    case 'container_format':
      changes.containerFormat = format(key, value, CONTAINER_FORMATS)
      return
    case 'disk_format':
      changes.diskFormat = format(key, value, DISK_FORMATS)
      return
    case 'min_disk':
    case 'min_ram': {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_INT32) bad(key, 'a non-negative integer')
      if (key === 'min_disk') changes.minDisk = value as number
      else changes.minRam = value as number
      return
    }
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') bad(key, 'a boolean')
      if (key === 'protected') changes.protected = value as boolean
      else changes.osHidden = value as boolean
      return
    case 'tags': {
      // How many is a quota (413, image-quotas.ts), not a schema rule.
      if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 255 || CONTROL.test(t))) {
        bad(key, 'a list of non-empty strings of at most 255 characters without control characters')
      }
      changes.tags = [...new Set(value as string[])]
      return
    }
    case 'owner':
      if (value !== null && (typeof value !== 'string' || value.length > 64)) bad(key, 'a project id or null')
      changes.owner = value as string | null
      return
  }
}

/** Validates a custom property (Glance's schema: `additionalProperties: {type: string}`). */
export function checkProperty(key: string, value: unknown): string {
  if (key.length === 0 || key.length > 255) throw new InvalidError('Property names must be 1 to 255 characters long.')
  if (CONTROL.test(key)) throw new InvalidError('Property names must not contain control characters.')
  if (typeof value !== 'string') throw new InvalidError(`Invalid value for property '${key}': custom properties must be strings.`)
  if (value.length > 65535) throw new InvalidError(`Value of property '${key}' is too long.`)
  return value
}

/**
 * Sets custom property `key` as an own, enumerable property even when it is `__proto__`: a plain
 * assignment would hit `Object.prototype`'s setter and silently drop (or worse, re-parent) it.
 */
export function setProperty(properties: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(properties, key, { value, enumerable: true, writable: true, configurable: true })
}

/** The image with `changes` applied (pure). */
export function withChanges(image: Image, c: ImageChanges, updatedAt: number): Image {
  return {
    ...image,
    ...(c.name === undefined ? {} : { name: c.name }),
    ...(c.visibility === undefined ? {} : { visibility: c.visibility }),
    ...(c.containerFormat === undefined ? {} : { containerFormat: c.containerFormat }),
    ...(c.diskFormat === undefined ? {} : { diskFormat: c.diskFormat }),
    ...(c.minDisk === undefined ? {} : { minDisk: c.minDisk }),
    ...(c.minRam === undefined ? {} : { minRam: c.minRam }),
    ...(c.protected === undefined ? {} : { protected: c.protected }),
    ...(c.osHidden === undefined ? {} : { osHidden: c.osHidden }),
    ...(c.tags === undefined ? {} : { tags: c.tags }),
    ...(c.owner === undefined ? {} : { owner: c.owner }),
    ...(c.properties === undefined ? {} : { properties: c.properties }),
    updatedAt,
  }
}

function format(key: string, value: unknown, allowed: readonly string[]): string | null {
  if (value === null) return null
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidError(`Invalid ${key} '${String(value)}' for image: expected one of ${allowed.join(', ')}.`)
  }
  return value
}

function bad(key: string, expected: string): never {
  throw new InvalidError(`Invalid value for attribute '${key}': expected ${expected}.`)
}
