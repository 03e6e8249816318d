import { ConflictError, ForbiddenError, InvalidError } from '../../shared/errors.js'
import { assertWritable, checkProperty, keyKind, setAttribute, setProperty } from './image-attributes.js'
import type { ImageChanges } from './image-attributes.js'
import type { Image } from './image-model.js'
import type { SettableAttribute } from './image-model.js'

/** JSON-patch operations Glance's v2.1 patch media type accepts. */
export const PATCH_OPS = ['add', 'replace', 'remove'] as const
/** One of {@link PATCH_OPS}. */
export type PatchOp = (typeof PATCH_OPS)[number]

/** Attributes that can be removed (they fall back to their defaults); the rest only replaced. */
const REMOVABLE: readonly SettableAttribute[] = ['tags']

/**
 * Applies an `application/openstack-images-v2.1-json-patch` document to `image` and returns the
 * changes. Pure; validates everything before anything is changed, so a bad operation leaves the
 * image untouched. Errors as Glance answers them: 400 malformed, 403 read-only or reserved,
 * 409 replacing or removing a custom property that does not exist.
 *
 * @example
 *   applyPatch(image, [{ op: 'replace', path: '/name', value: 'cirros-0.6' }, { op: 'add', path: '/os_distro', value: 'cirros' }])
 */
export function applyPatch(image: Image, document: unknown): ImageChanges {
  if (!Array.isArray(document)) throw new InvalidError('Request body must be a JSON array of operation objects.')
  const changes: ImageChanges = {}
  const properties: Record<string, string> = { ...image.properties }
  let propertiesChanged = false
  for (const raw of document as unknown[]) {
    const { op, key, value } = parseOperation(raw)
    assertWritable(key)
    const kind = keyKind(key)
    if (kind === 'settable') {
      const attr = key as SettableAttribute
      if (op === 'remove') {
        if (!REMOVABLE.includes(attr)) throw new ForbiddenError(`Attribute '${key}' cannot be removed.`)
        changes.tags = []
        continue
      }
      if ((attr === 'container_format' || attr === 'disk_format') && image.status !== 'queued') {
        throw new ForbiddenError(`Attribute ${key} can be only replaced for a queued image.`)
      }
      setAttribute(changes, attr, value)
      continue
    }
    // A custom property. JSON-patch `add` on an existing member replaces it.
    const exists = Object.hasOwn(properties, key)
    if ((op === 'replace' || op === 'remove') && !exists) throw new ConflictError(`Property ${key} does not exist.`)
    if (op === 'remove') delete properties[key]
    else setProperty(properties, key, checkProperty(key, value))
    propertiesChanged = true
  }
  if (propertiesChanged) changes.properties = properties
  return changes
}

function parseOperation(raw: unknown): { op: PatchOp; key: string; value: unknown } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidError('Operation objects must be JSON objects.')
  const o = raw as Record<string, unknown>
  if (!(PATCH_OPS as readonly unknown[]).includes(o.op)) {
    throw new InvalidError(`Unable to find a supported operation in '${JSON.stringify(o.op ?? null)}'; use add, replace or remove.`)
  }
  const op = o.op as PatchOp
  if (typeof o.path !== 'string' || !o.path.startsWith('/') || o.path.length < 2) {
    throw new InvalidError('Invalid JSON pointer for this resource.')
  }
  const segments = o.path.slice(1).split('/')
  if (segments.length !== 1) throw new InvalidError(`Nested paths are not allowed: '${o.path}'.`)
  const key = (segments[0] ?? '').replace(/~1/g, '/').replace(/~0/g, '~')
  if (op !== 'remove' && !Object.hasOwn(o, 'value')) throw new InvalidError(`Operation "${op}" requires a member named "value".`)
  return { op, key, value: o.value }
}
