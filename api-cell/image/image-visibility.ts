import type { RequestContext } from '../../shared/context.js'
import type { Image } from './image-model.js'
import type { Visibility } from './schema.js'

/**
 * Who may see and change which image, after Glance's rules (without image members: a `shared` image
 * is visible to its owner only until members exist):
 * - `public`: everyone sees it and lists it;
 * - `community`: everyone sees it, but only its owner lists it unless `visibility=community` is asked;
 * - `private`, `shared`: the owner only;
 * - an admin sees and lists everything, and changes everything.
 * Pure functions: the store applies them, the tests table-drive them.
 */

/** The caller, as the visibility rules need it. */
export interface Viewer {
  readonly projectId: string | undefined
  readonly isAdmin: boolean
}

/** The visibility filter of a listing: one visibility, `all`, or none (Glance's default listing). */
export type VisibilityFilter = Visibility | 'all' | undefined

/** The viewer a request context describes. */
export function viewerOf(ctx: RequestContext): Viewer {
  return { projectId: ctx.projectId, isAdmin: ctx.roles?.includes('admin') === true }
}

/** `true` when `viewer` may show (GET) the image; otherwise it is a 404 for them. */
export function canSee(viewer: Viewer, image: Image): boolean {
  if (viewer.isAdmin) return true
  if (image.visibility === 'public' || image.visibility === 'community') return true
  return isOwner(viewer, image)
}

/** `true` when `viewer` may modify, upload to or delete the image (when it can see it). */
export function canModify(viewer: Viewer, image: Image): boolean {
  return viewer.isAdmin || isOwner(viewer, image)
}

/** `true` when the image belongs in `viewer`'s listing for `filter`. */
export function isListed(viewer: Viewer, image: Image, filter: VisibilityFilter): boolean {
  if (filter !== undefined && filter !== 'all' && image.visibility !== filter) return false
  if (viewer.isAdmin) return true
  switch (image.visibility) {
    case 'public':
      return true
    case 'community':
      return filter === 'community' || filter === 'all' || isOwner(viewer, image)
    case 'private':
    case 'shared':
      return isOwner(viewer, image)
  }
}

function isOwner(viewer: Viewer, image: Image): boolean {
  return viewer.projectId !== undefined && image.owner === viewer.projectId
}
