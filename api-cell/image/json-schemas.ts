import { CONTAINER_FORMATS, DISK_FORMATS } from './image-model.js'
import { IMAGE_STATUSES, VISIBILITIES } from './schema.js'

const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'
const nullable = (type: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: ['null', type], ...extra })
const readOnly = (schema: Record<string, unknown>): Record<string, unknown> => ({ ...schema, readOnly: true })

/**
 * `GET /v2/schemas/image`: the image JSON schema python-glanceclient builds its model from (it reads
 * `readOnly` to know what never to patch, and `additionalProperties` to allow custom properties).
 */
export const IMAGE_SCHEMA = Object.freeze({
  name: 'image',
  properties: {
    id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
    name: nullable('string', { maxLength: 255, description: 'Descriptive name for the image' }),
    status: readOnly({ type: 'string', enum: [...IMAGE_STATUSES], description: 'Status of the image' }),
    visibility: { type: 'string', enum: [...VISIBILITIES], description: 'Scope of image accessibility' },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: readOnly(nullable('string', { maxLength: 32, description: 'md5 hash of image contents.' })),
    os_hash_algo: readOnly(nullable('string', { maxLength: 64, description: 'Algorithm to calculate the os_hash_value' })),
    os_hash_value: readOnly(nullable('string', { maxLength: 128, description: 'Hexdigest of the image contents' })),
    owner: nullable('string', { maxLength: 255, description: 'Owner of the image' }),
    size: readOnly(nullable('integer', { description: 'Size of image file in bytes' })),
    virtual_size: readOnly(nullable('integer', { description: 'Virtual size of image in bytes' })),
    container_format: { enum: [null, ...CONTAINER_FORMATS], description: 'Format of the container' },
    disk_format: { enum: [null, ...DISK_FORMATS], description: 'Format of the disk' },
    created_at: readOnly({ type: 'string', description: 'Date and time of image registration' }),
    updated_at: readOnly({ type: 'string', description: 'Date and time of the last image modification' }),
    tags: { type: 'array', items: { type: 'string', maxLength: 255 }, description: 'List of strings related to the image' },
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: readOnly({ type: 'string', description: 'An image self url' }),
    file: readOnly({ type: 'string', description: 'An image file url' }),
    schema: readOnly({ type: 'string', description: 'An image schema url' }),
  },
  additionalProperties: { type: 'string' },
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
})

/** `GET /v2/schemas/images`. */
export const IMAGES_SCHEMA = Object.freeze({
  name: 'images',
  properties: {
    images: { type: 'array', items: IMAGE_SCHEMA },
    schema: { type: 'string' },
    first: { type: 'string' },
    next: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
})
