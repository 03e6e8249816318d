/**
 * Image tables in the API database (Glance v2 subset). Times are epoch milliseconds, booleans 0/1
 * integers, tags and custom properties JSON text.
 */

/** Image statuses we use (Glance's full set has more: killed, deleted, pending_delete, importing). */
export const IMAGE_STATUSES = ['queued', 'saving', 'active', 'deactivated'] as const
/** One of {@link IMAGE_STATUSES}. */
export type ImageStatus = (typeof IMAGE_STATUSES)[number]

/** Glance's visibilities. */
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const
/** One of {@link VISIBILITIES}. */
export type Visibility = (typeof VISIBILITIES)[number]

/** One image's metadata; the bytes live in the image store directory, named by id. */
export interface ImageTable {
  id: string
  name: string | null
  status: ImageStatus
  visibility: Visibility
  container_format: string | null
  disk_format: string | null
  /** Bytes; null until uploaded. */
  size: number | null
  virtual_size: number | null
  /** MD5 hex of the data (legacy `checksum`). */
  checksum: string | null
  os_hash_algo: string | null
  os_hash_value: string | null
  min_disk: number
  min_ram: number
  protected: number
  os_hidden: number
  /** Project id. */
  owner: string | null
  /** JSON array of strings. */
  tags: string
  /** JSON object of string custom properties. */
  properties: string
  created_at: number
  updated_at: number
}

/** The image part of the API database schema. */
export interface ImageTables {
  images: ImageTable
}
