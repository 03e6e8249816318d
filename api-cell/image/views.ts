import type { Image } from './image-model.js'

/** Glance's time format: ISO 8601 in UTC, whole seconds (`2026-01-01T12:00:00Z`). */
export function glanceTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * An image as Glance v2 renders it: the core fields, the links (`self`, `file`, `schema`, relative as
 * Glance sends them), and custom properties at the top level. Core fields win over any property of
 * the same name (the service rejects such properties anyway).
 */
export function renderImage(i: Image): Record<string, unknown> {
  return {
    ...i.properties,
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
    protected: i.protected,
    os_hidden: i.osHidden,
    owner: i.owner,
    tags: [...i.tags],
    created_at: glanceTime(i.createdAt),
    updated_at: glanceTime(i.updatedAt),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  }
}
