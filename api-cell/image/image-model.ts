import type { ImageStatus, ImageTable, Visibility } from './schema.js'

/** An image's metadata, as the image service hands it out. Times are epoch ms. */
export interface Image {
  readonly id: string
  readonly name: string | null
  readonly status: ImageStatus
  readonly visibility: Visibility
  readonly containerFormat: string | null
  readonly diskFormat: string | null
  readonly size: number | null
  readonly virtualSize: number | null
  readonly checksum: string | null
  readonly osHashAlgo: string | null
  readonly osHashValue: string | null
  readonly minDisk: number
  readonly minRam: number
  readonly protected: boolean
  readonly osHidden: boolean
  readonly owner: string | null
  readonly tags: readonly string[]
  /** Custom properties (`hw_*`, `os_distro`, ...), rendered at the top level of the image. */
  readonly properties: Readonly<Record<string, string>>
  readonly createdAt: number
  readonly updatedAt: number
}

/** Glance's default container formats. */
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const
/** Glance's default disk formats. */
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const

/** Attributes a user may set (on create and by patch). */
export const SETTABLE_ATTRIBUTES = [
  'name',
  'visibility',
  'container_format',
  'disk_format',
  'min_disk',
  'min_ram',
  'protected',
  'os_hidden',
  'tags',
  'owner',
] as const
/** One of {@link SETTABLE_ATTRIBUTES}. */
export type SettableAttribute = (typeof SETTABLE_ATTRIBUTES)[number]

/** Attributes the server owns: setting one is 403 `Attribute 'x' is read-only.` */
export const READ_ONLY_ATTRIBUTES = [
  'id',
  'status',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'direct_url',
  'locations',
  'stores',
] as const

/** Names Glance reserves: 403 `Attribute 'x' is reserved.` */
export const RESERVED_ATTRIBUTES = ['deleted', 'deleted_at', 'location'] as const

/** Largest min_disk / min_ram Glance accepts (a signed 32-bit column). */
export const MAX_INT32 = 2 ** 31 - 1

/** Converts a row to the domain form. */
export function fromRow(r: ImageTable): Image {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    visibility: r.visibility,
    containerFormat: r.container_format,
    diskFormat: r.disk_format,
    size: r.size === null ? null : Number(r.size),
    virtualSize: r.virtual_size === null ? null : Number(r.virtual_size),
    checksum: r.checksum,
    osHashAlgo: r.os_hash_algo,
    osHashValue: r.os_hash_value,
    minDisk: Number(r.min_disk),
    minRam: Number(r.min_ram),
    protected: Number(r.protected) === 1,
    osHidden: Number(r.os_hidden) === 1,
    owner: r.owner,
    tags: parseJson<string[]>(r.tags, []),
    properties: parseJson<Record<string, string>>(r.properties, {}),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

/** Converts the domain form to a row. */
export function toRow(i: Image): ImageTable {
  return {
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    container_format: i.containerFormat,
    disk_format: i.diskFormat,
    size: i.size,
    virtual_size: i.virtualSize,
    checksum: i.checksum,
    os_hash_algo: i.osHashAlgo,
    os_hash_value: i.osHashValue,
    min_disk: i.minDisk,
    min_ram: i.minRam,
    protected: i.protected ? 1 : 0,
    os_hidden: i.osHidden ? 1 : 0,
    owner: i.owner,
    tags: JSON.stringify(i.tags),
    properties: JSON.stringify(i.properties),
    created_at: i.createdAt,
    updated_at: i.updatedAt,
  }
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T
  } catch {
    return fallback
  }
}
