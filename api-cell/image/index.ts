/**
 * Image (Glance v2 subset) for the API cell: the image service (metadata, visibility, local file
 * store, cirros seeding), its router, and its migrations.
 */
export { CIRROS, cirrosPlaceholder } from './cirros.js'
export { FileUrlSigner, fileUrlKey } from './file-url-signer.js'
export type { FileUrlSignerOptions } from './file-url-signer.js'
export { glanceErrorHandler, UnsupportedMediaTypeError } from './http-errors.js'
export { DEFAULT_MAX_IMAGE_BYTES, ImageTooLargeError } from './image-file-store.js'
export type { ImageData } from './image-file-store.js'
export type { ImageListQuery, ImagePage } from './image-list.js'
export { CONTAINER_FORMATS, DISK_FORMATS } from './image-model.js'
export type { Image } from './image-model.js'
export { canModify, canSee, isListed, viewerOf } from './image-visibility.js'
export type { Viewer } from './image-visibility.js'
export { imageMigrations } from './migrations.js'
export { imageRouter } from './router.js'
export { UsedNonces } from './upload-nonces.js'
export type { ImageRouterDeps } from './router.js'
export { IMAGE_STATUSES, VISIBILITIES } from './schema.js'
export type { ImageStatus, ImageTables, Visibility } from './schema.js'
export { ImageService } from './store.js'
export type { ImageDownload, ImageServiceOptions } from './store.js'
export { renderImage } from './views.js'
