import { describe, expect, it } from 'vitest'
import { ConflictError, ForbiddenError, InvalidError } from '../../../../shared/errors.js'
import { applyPatch } from '../../../../api-cell/image/image-patch.js'
import type { Image } from '../../../../api-cell/image/image-model.js'

const image: Image = {
  id: '8a5e0c0e-3f47-4d9a-9f4e-0d6a7c1b2a10',
  name: 'base',
  status: 'queued',
  visibility: 'private',
  containerFormat: 'bare',
  diskFormat: 'raw',
  size: null,
  virtualSize: null,
  checksum: null,
  osHashAlgo: null,
  osHashValue: null,
  minDisk: 0,
  minRam: 0,
  protected: false,
  osHidden: false,
  owner: 'p1',
  tags: ['a'],
  properties: { os_distro: 'cirros' },
  createdAt: 1,
  updatedAt: 1,
}

describe('applyPatch', () => {
  it('applies add/replace/remove on core attributes and custom properties', () => {
    const changes = applyPatch(image, [
      { op: 'replace', path: '/name', value: 'renamed' },
      { op: 'add', path: '/min_ram', value: 512 },
      { op: 'replace', path: '/tags', value: ['x', 'y', 'x'] },
      { op: 'replace', path: '/protected', value: true },
      { op: 'add', path: '/hw_disk_bus', value: 'virtio' },
      { op: 'add', path: '/os_distro', value: 'ubuntu' },
      { op: 'replace', path: '/visibility', value: 'community' },
    ])
    expect(changes).toEqual({
      name: 'renamed',
      minRam: 512,
      tags: ['x', 'y'],
      protected: true,
      visibility: 'community',
      properties: { os_distro: 'ubuntu', hw_disk_bus: 'virtio' },
    })
  })

  it('removes a custom property and the tags', () => {
    expect(applyPatch(image, [{ op: 'remove', path: '/os_distro' }, { op: 'remove', path: '/tags' }])).toEqual({
      properties: {},
      tags: [],
    })
  })

  it('decodes JSON-pointer escapes in property names', () => {
    expect(applyPatch(image, [{ op: 'add', path: '/a~1b~0c', value: 'v' }]).properties).toEqual({ os_distro: 'cirros', 'a/b~c': 'v' })
  })

  it.each([
    ['a read-only attribute', [{ op: 'replace', path: '/status', value: 'active' }], ForbiddenError, /read-only/],
    ['the checksum', [{ op: 'add', path: '/checksum', value: 'x' }], ForbiddenError, /read-only/],
    ['a reserved attribute', [{ op: 'add', path: '/deleted', value: 'x' }], ForbiddenError, /reserved/],
    ['removing a core attribute', [{ op: 'remove', path: '/name' }], ForbiddenError, /cannot be removed/],
    ['replacing a missing property', [{ op: 'replace', path: '/nope', value: 'x' }], ConflictError, /does not exist/],
    ['removing a missing property', [{ op: 'remove', path: '/nope' }], ConflictError, /does not exist/],
    ['an unknown op', [{ op: 'move', path: '/name', from: '/x' }], InvalidError, /supported operation/],
    ['a nested path', [{ op: 'add', path: '/tags/0', value: 'x' }], InvalidError, /Nested/],
    ['a missing value', [{ op: 'add', path: '/name' }], InvalidError, /value/],
    ['a non-string property', [{ op: 'add', path: '/hw_x', value: 3 }], InvalidError, /strings/],
    ['a bad visibility', [{ op: 'replace', path: '/visibility', value: 'everyone' }], InvalidError, /visibility/],
    ['a negative min_disk', [{ op: 'replace', path: '/min_disk', value: -1 }], InvalidError, /min_disk/],
    ['a bad disk format', [{ op: 'replace', path: '/disk_format', value: 'floppy' }], InvalidError, /disk_format/],
    ['an object body', { op: 'add' }, InvalidError, /array/],
  ])('rejects %s', (_name, doc, kind, message) => {
    expect(() => applyPatch(image, doc)).toThrow(kind)
    expect(() => applyPatch(image, doc)).toThrow(message)
  })

  it('changes formats only while queued', () => {
    expect(applyPatch(image, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }])).toEqual({ diskFormat: 'qcow2' })
    expect(() => applyPatch({ ...image, status: 'active' }, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }])).toThrow(
      ForbiddenError,
    )
  })
})
