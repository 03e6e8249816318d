import { AppError } from '../../shared/errors.js'
import type { Image } from './image-model.js'

/** Glance's `image_property_quota` default: custom properties one image may carry. */
export const IMAGE_PROPERTY_QUOTA = 128
/** Glance's `image_tag_quota` default: tags one image may carry. */
export const IMAGE_TAG_QUOTA = 128

/**
 * The most bytes an image's custom properties (or its tags), stored as one JSON text, may take: a
 * MariaDB TEXT column holds 65,535 bytes and refuses more (strict mode), which would be a 500.
 */
export const MAX_STORED_BYTES = 65_535

/** 413: an image whose properties or tags, together, are too large to store. */
export class ImageMetadataTooLargeError extends AppError {
  constructor(what: 'properties' | 'tags', bytes: number) {
    super({
      code: 'over_limit',
      status: 413,
      message: `The image's ${what} take ${bytes} bytes together: more than the ${MAX_STORED_BYTES} an image may store.`,
      fields: { bytes, maximum: MAX_STORED_BYTES },
    })
  }
}

/** 413, as Glance answers an image over its property or tag quota. */
export class ImageLimitExceededError extends AppError {
  constructor(what: 'properties' | 'tags', attempted: number, maximum: number) {
    super({
      code: 'over_limit',
      status: 413,
      message: `The limit has been exceeded on the number of allowed image ${what}. Attempted: ${attempted}, Maximum: ${maximum}`,
      fields: { attempted, maximum },
    })
  }
}

/**
 * Checks `next` (an image after a create or a change) against the property and tag quotas. Like
 * Glance, only growth is refused: an image already over a lowered quota may still shed entries.
 */
export function checkImageQuotas(next: Image, before?: Image): void {
  const props = Object.keys(next.properties).length
  if (props > IMAGE_PROPERTY_QUOTA && props > (before === undefined ? 0 : Object.keys(before.properties).length)) {
    throw new ImageLimitExceededError('properties', props, IMAGE_PROPERTY_QUOTA)
  }
  const tags = next.tags.length
  if (tags > IMAGE_TAG_QUOTA && tags > (before?.tags.length ?? 0)) throw new ImageLimitExceededError('tags', tags, IMAGE_TAG_QUOTA)
  if (next.properties !== before?.properties) {
    const bytes = Buffer.byteLength(JSON.stringify(next.properties))
    if (bytes > MAX_STORED_BYTES) throw new ImageMetadataTooLargeError('properties', bytes)
  }
  if (next.tags !== before?.tags) {
    const bytes = Buffer.byteLength(JSON.stringify(next.tags))
    if (bytes > MAX_STORED_BYTES) throw new ImageMetadataTooLargeError('tags', bytes)
  }
}
