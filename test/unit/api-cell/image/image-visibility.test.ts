import { describe, expect, it } from 'vitest'
import { canModify, canSee, isListed, viewerOf } from '../../../../api-cell/image/image-visibility.js'
import type { Viewer, VisibilityFilter } from '../../../../api-cell/image/image-visibility.js'
import type { Image } from '../../../../api-cell/image/image-model.js'
import type { Visibility } from '../../../../api-cell/image/schema.js'

const owner: Viewer = { projectId: 'A', isAdmin: false }
const other: Viewer = { projectId: 'B', isAdmin: false }
const admin: Viewer = { projectId: 'Z', isAdmin: true }

function img(visibility: Visibility): Image {
  return {
    id: '00000000-0000-4000-8000-000000000000',
    name: 'x',
    status: 'active',
    visibility,
    containerFormat: 'bare',
    diskFormat: 'raw',
    size: 1,
    virtualSize: 1,
    checksum: null,
    osHashAlgo: null,
    osHashValue: null,
    minDisk: 0,
    minRam: 0,
    protected: false,
    osHidden: false,
    owner: 'A',
    tags: [],
    properties: {},
    createdAt: 0,
    updatedAt: 0,
  }
}

describe('image visibility', () => {
  it.each<[Visibility, Viewer, boolean, boolean]>([
    ['public', owner, true, true],
    ['public', other, true, false],
    ['community', other, true, false],
    ['private', owner, true, true],
    ['private', other, false, false],
    ['shared', other, false, false],
    ['shared', owner, true, true],
    ['private', admin, true, true],
  ])('%s image: viewer %j sees=%s modifies=%s', (visibility, viewer, sees, modifies) => {
    expect(canSee(viewer, img(visibility))).toBe(sees)
    expect(canModify(viewer, img(visibility))).toBe(modifies)
  })

  it.each<[Visibility, Viewer, VisibilityFilter, boolean]>([
    ['public', other, undefined, true],
    ['community', other, undefined, false],
    ['community', other, 'community', true],
    ['community', other, 'all', true],
    ['community', owner, undefined, true],
    ['private', other, undefined, false],
    ['private', other, 'private', false],
    ['private', owner, 'private', true],
    ['private', owner, 'public', false],
    ['shared', owner, undefined, true],
    ['private', admin, undefined, true],
    ['private', admin, 'public', false],
  ])('%s image listed for %j with filter %s: %s', (visibility, viewer, filter, listed) => {
    expect(isListed(viewer, img(visibility), filter)).toBe(listed)
  })

  it('derives the viewer from a request context', () => {
    expect(viewerOf({ requestId: 'r', projectId: 'A', roles: ['member'] })).toEqual({ projectId: 'A', isAdmin: false })
    expect(viewerOf({ requestId: 'r', roles: ['admin'] })).toEqual({ projectId: undefined, isAdmin: true })
  })
})
