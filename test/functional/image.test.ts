import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'
import type { Database } from '../../shared/db/database.js'
import { authMiddleware, TokenService } from '../../api-cell/identity/index.js'
import type { TokenRole } from '../../api-cell/identity/index.js'
import { cirrosPlaceholder, imageMigrations, imageRouter, ImageService } from '../../api-cell/image/index.js'
import type { ImageTables } from '../../api-cell/image/index.js'

const PATCH = 'application/openstack-images-v2.1-json-patch'
const CORE_KEYS = [
  'id', 'name', 'status', 'visibility', 'container_format', 'disk_format', 'size', 'virtual_size', 'checksum',
  'os_hash_algo', 'os_hash_value', 'min_disk', 'min_ram', 'protected', 'os_hidden', 'owner', 'tags',
  'created_at', 'updated_at', 'self', 'file', 'schema',
]

let database: Database<ImageTables>
let server: Server
let url: string
let storeDir: string
let images: ImageService
let tokenA: string
let tokenB: string
let tokenAdmin: string

function tokenFor(tokens: TokenService, projectId: string, roles: readonly string[]): string {
  const roleRefs: TokenRole[] = roles.map((name) => ({ id: `role-${name}`, name }))
  return tokens.issue({
    user: { id: `user-${projectId}`, name: `user-${projectId}`, domainId: 'default', domainName: 'Default' },
    scope: { kind: 'project', id: projectId, name: projectId, domainId: 'default', domainName: 'Default' },
    roles: roleRefs,
    methods: ['password'],
  }).token
}

interface Reply {
  status: number
  headers: Headers
  body: any
  bytes: Buffer
}

async function call(
  method: string,
  path: string,
  opts: { token?: string | null; json?: unknown; patch?: unknown; data?: Buffer; contentType?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {}
  const token = opts.token === undefined ? tokenA : opts.token
  if (token !== null) headers['X-Auth-Token'] = token
  let body: string | Uint8Array<ArrayBuffer> | undefined
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.json)
  } else if (opts.patch !== undefined) {
    headers['Content-Type'] = PATCH
    body = JSON.stringify(opts.patch)
  } else if (opts.data !== undefined) {
    headers['Content-Type'] = 'application/octet-stream'
    body = new Uint8Array(opts.data)
  }
  if (opts.contentType !== undefined) headers['Content-Type'] = opts.contentType
  const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
  const bytes = Buffer.from(await res.arrayBuffer())
  const isJson = res.headers.get('content-type')?.startsWith('application/json') === true
  return { status: res.status, headers: res.headers, body: isJson && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined, bytes }
}

async function create(body: Record<string, unknown>, token?: string): Promise<any> {
  const res = await call('POST', '/v2/images', { json: body, ...(token === undefined ? {} : { token }) })
  expect(res.status).toBe(201)
  return res.body
}

beforeAll(async () => {
  database = await openDatabase<ImageTables>('sqlite::memory:')
  await migrateToLatest(database.db, imageMigrations)
  storeDir = await mkdtemp(join(tmpdir(), 'image-functional-'))
  // A clock that moves 1 s per call: creation order is then also created_at order.
  let t = Date.UTC(2026, 0, 1)
  images = new ImageService({ db: database.db, storeDir, clock: () => (t += 1000) })
  const tokens = new TokenService({ secret: randomBytes(32) })
  tokenA = tokenFor(tokens, 'project-a', ['member', 'reader'])
  tokenB = tokenFor(tokens, 'project-b', ['member', 'reader'])
  tokenAdmin = tokenFor(tokens, 'admin-project', ['admin', 'member', 'reader'])
  const app = express()
  server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  app.use(imageRouter({ images, publicUrl: url, auth: authMiddleware(tokens) }))
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await database.close()
  await rm(storeDir, { recursive: true, force: true })
})

describe('image: discovery and errors', () => {
  it('serves the version list without a token', async () => {
    const root = await call('GET', '/', { token: null })
    expect(root.status).toBe(300)
    expect(root.body.versions[0]).toEqual({ id: 'v2.16', status: 'CURRENT', links: [{ rel: 'self', href: `${url}/v2/` }] })
    const versions = await call('GET', '/versions', { token: null })
    expect(versions.status).toBe(200)
    expect(versions.body.versions.map((v: { id: string }) => v.id)).toContain('v2.0')
  })

  it('requires a token for the v2 API and answers in a shape glanceclient and openstacksdk parse', async () => {
    const res = await call('GET', '/v2/images', { token: null })
    expect(res.status).toBe(401)
    expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: expect.any(String) } })
    expect((await call('GET', '/v2/images', { token: 'v1.forged.token' })).status).toBe(401)
    expect(res.headers.get('x-openstack-request-id')).toMatch(/^req-/)
  })

  it('serves the image schemas', async () => {
    const image = await call('GET', '/v2/schemas/image')
    expect(image.body.name).toBe('image')
    expect(image.body.additionalProperties).toEqual({ type: 'string' })
    expect((await call('GET', '/v2/schemas/images')).body.properties.images.items.name).toBe('image')
  })
})

describe('image: create, upload, download', () => {
  it('creates a queued image with custom properties at the top level', async () => {
    const res = await call('POST', '/v2/images', {
      json: { name: 'vm-image', container_format: 'bare', disk_format: 'raw', os_distro: 'cirros', 'owner_specified.openstack.md5': '' },
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(`${url}/v2/images/${res.body.id}`)
    expect(Object.keys(res.body).sort()).toEqual([...CORE_KEYS, 'os_distro', 'owner_specified.openstack.md5'].sort())
    expect(res.body).toMatchObject({
      name: 'vm-image',
      status: 'queued',
      visibility: 'shared',
      size: null,
      checksum: null,
      os_hash_algo: null,
      owner: 'project-a',
      protected: false,
      os_hidden: false,
      tags: [],
      min_disk: 0,
      min_ram: 0,
      os_distro: 'cirros',
      self: `/v2/images/${res.body.id}`,
      file: `/v2/images/${res.body.id}/file`,
      schema: '/v2/schemas/image',
    })
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  })

  it('uploads, checksums (md5 + sha512) and downloads the same bytes', async () => {
    const image = await create({ name: 'upload-me', container_format: 'bare', disk_format: 'raw' })
    const bytes = randomBytes(256 * 1024 + 17)
    const put = await call('PUT', `/v2/images/${image.id}/file`, { data: bytes })
    expect(put.status).toBe(204)
    expect(put.bytes.length).toBe(0)

    const shown = (await call('GET', `/v2/images/${image.id}`)).body
    expect(shown).toMatchObject({
      status: 'active',
      size: bytes.length,
      virtual_size: bytes.length,
      checksum: createHash('md5').update(bytes).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512').update(bytes).digest('hex'),
    })

    const down = await call('GET', `/v2/images/${image.id}/file`)
    expect(down.status).toBe(200)
    expect(down.headers.get('content-type')).toBe('application/octet-stream')
    expect(down.headers.get('content-md5')).toBe(shown.checksum)
    expect(down.bytes.equals(bytes)).toBe(true)

    const again = await call('PUT', `/v2/images/${image.id}/file`, { data: bytes })
    expect(again.status).toBe(409)
  })

  it('answers 204 for the data of an image that has none, and 415 for a non-octet-stream upload', async () => {
    const image = await create({ name: 'empty' })
    expect((await call('GET', `/v2/images/${image.id}/file`)).status).toBe(204)
    const wrong = await call('PUT', `/v2/images/${image.id}/file`, { data: Buffer.from('x'), contentType: 'text/plain' })
    expect(wrong.status).toBe(415)
    expect((await call('GET', `/v2/images/${image.id}`)).body.status).toBe('queued')
  })

  it.each([
    ['a read-only attribute', { name: 'x', status: 'active' }, 403],
    ['a non-string custom property', { name: 'x', hw_cpu_cores: 4 }, 400],
    ['a bad disk format', { name: 'x', disk_format: 'floppy' }, 400],
    ['public visibility from a non-admin', { name: 'x', visibility: 'public' }, 403],
    ['another owner from a non-admin', { name: 'x', owner: 'project-b' }, 403],
    ['an id that is not a UUID', { id: 'abc' }, 400],
  ])('refuses %s', async (_name, body, status) => {
    const res = await call('POST', '/v2/images', { json: body })
    expect(res.status).toBe(status)
    expect(res.body.error.code).toBe(status)
  })

  it('refuses a duplicate id with 409', async () => {
    const id = '6c3b2ae4-1f6e-4a6b-9f36-0a3f7b7e0b11'
    await create({ id, name: 'first' })
    expect((await call('POST', '/v2/images', { json: { id, name: 'second' } })).status).toBe(409)
  })
})

describe('image: visibility', () => {
  it('hides a private image of project A from project B, but not from A or an admin', async () => {
    const image = await create({ name: 'a-private', visibility: 'private' })
    expect((await call('GET', `/v2/images/${image.id}`, { token: tokenB })).status).toBe(404)
    expect((await call('GET', `/v2/images/${image.id}/file`, { token: tokenB })).status).toBe(404)
    expect((await call('DELETE', `/v2/images/${image.id}`, { token: tokenB })).status).toBe(404)
    const listB = await call('GET', '/v2/images?limit=1000', { token: tokenB })
    expect(listB.body.images.map((i: { id: string }) => i.id)).not.toContain(image.id)
    const listA = await call('GET', '/v2/images?limit=1000')
    expect(listA.body.images.map((i: { id: string }) => i.id)).toContain(image.id)
    expect((await call('GET', `/v2/images/${image.id}`, { token: tokenAdmin })).status).toBe(200)
  })

  it('lets an admin publish an image, which B then sees but may not change or delete', async () => {
    const image = await create({ name: 'a-public-later' })
    const published = await call('PATCH', `/v2/images/${image.id}`, { token: tokenAdmin, patch: [{ op: 'replace', path: '/visibility', value: 'public' }] })
    expect(published.status).toBe(200)
    expect(published.body.visibility).toBe('public')
    expect((await call('GET', `/v2/images/${image.id}`, { token: tokenB })).status).toBe(200)
    expect((await call('PATCH', `/v2/images/${image.id}`, { token: tokenB, patch: [{ op: 'replace', path: '/name', value: 'mine' }] })).status).toBe(403)
    expect((await call('DELETE', `/v2/images/${image.id}`, { token: tokenB })).status).toBe(403)
  })

  it('shows a community image to B but lists it only on request', async () => {
    const image = await create({ name: 'a-community', visibility: 'community' })
    expect((await call('GET', `/v2/images/${image.id}`, { token: tokenB })).status).toBe(200)
    const plain = await call('GET', '/v2/images?limit=1000', { token: tokenB })
    expect(plain.body.images.map((i: { id: string }) => i.id)).not.toContain(image.id)
    const asked = await call('GET', '/v2/images?visibility=community', { token: tokenB })
    expect(asked.body.images.map((i: { id: string }) => i.id)).toContain(image.id)
  })
})

describe('image: listing', () => {
  const ids: string[] = []

  beforeAll(async () => {
    for (const n of [1, 2, 3, 4, 5]) {
      const image = await create({ name: `page-${n}`, tags: n % 2 === 0 ? ['even'] : ['odd'], flavour: n === 3 ? 'three' : 'other' }, tokenB)
      ids.push(image.id)
    }
  })

  it('pages with limit and marker, giving next only when the page is full', async () => {
    const seen: string[] = []
    let path: string | undefined = '/v2/images?owner=project-b&limit=2'
    let pages = 0
    while (path !== undefined) {
      const res = await call('GET', path, { token: tokenB })
      expect(res.status).toBe(200)
      expect(res.body.first).toBe('/v2/images?owner=project-b&limit=2')
      expect(res.body.schema).toBe('/v2/schemas/images')
      seen.push(...res.body.images.map((i: { id: string }) => i.id))
      if (res.body.images.length < 2) expect(res.body.next).toBeUndefined()
      path = res.body.next
      pages++
    }
    expect(pages).toBe(3)
    expect(seen).toEqual([...ids].reverse()) // newest first
  })

  it('sorts by name ascending on request', async () => {
    const res = await call('GET', '/v2/images?owner=project-b&sort_key=name&sort_dir=asc', { token: tokenB })
    expect(res.body.images.map((i: { name: string }) => i.name)).toEqual(['page-1', 'page-2', 'page-3', 'page-4', 'page-5'])
  })

  it.each([
    ['name', '?name=page-3', ['page-3']],
    ['tag', '?owner=project-b&tag=even&sort_key=name&sort_dir=asc', ['page-2', 'page-4']],
    ['custom property', '?flavour=three', ['page-3']],
    ['status', '?owner=project-b&status=active', []],
    ['visibility', '?owner=project-b&visibility=private', []],
  ])('filters by %s', async (_name, query, names) => {
    const res = await call('GET', `/v2/images${query}`, { token: tokenB })
    expect(res.status).toBe(200)
    expect(res.body.images.map((i: { name: string }) => i.name)).toEqual(names)
  })

  it('answers 400 for an unknown marker or a bad sort key', async () => {
    expect((await call('GET', '/v2/images?marker=00000000-0000-4000-8000-000000000000', { token: tokenB })).status).toBe(400)
    expect((await call('GET', '/v2/images?sort_key=secret', { token: tokenB })).status).toBe(400)
  })

  it('answers 404 for a name used as an id', async () => {
    expect((await call('GET', '/v2/images/page-3', { token: tokenB })).status).toBe(404)
  })
})

describe('image: patch and delete', () => {
  it('replaces, adds and removes attributes and properties', async () => {
    const image = await create({ name: 'patch-me', hw_disk_bus: 'virtio' })
    const res = await call('PATCH', `/v2/images/${image.id}`, {
      patch: [
        { op: 'replace', path: '/name', value: 'patched' },
        { op: 'add', path: '/min_ram', value: 256 },
        { op: 'replace', path: '/min_disk', value: 2 },
        { op: 'replace', path: '/tags', value: ['t1', 't2'] },
        { op: 'add', path: '/os_distro', value: 'ubuntu' },
        { op: 'remove', path: '/hw_disk_bus' },
        { op: 'replace', path: '/visibility', value: 'private' },
      ],
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'patched', min_ram: 256, min_disk: 2, tags: ['t1', 't2'], os_distro: 'ubuntu', visibility: 'private' })
    expect(res.body.hw_disk_bus).toBeUndefined()
    expect((await call('GET', `/v2/images/${image.id}`)).body.os_distro).toBe('ubuntu')
  })

  it.each([
    ['a read-only attribute', [{ op: 'replace', path: '/size', value: 1 }], 403],
    ['removing a missing property', [{ op: 'remove', path: '/nope' }], 409],
    ['an unknown op', [{ op: 'copy', path: '/name', from: '/x' }], 400],
  ])('refuses %s', async (_name, patch, status) => {
    const image = await create({ name: 'bad-patch' })
    const res = await call('PATCH', `/v2/images/${image.id}`, { patch })
    expect(res.status).toBe(status)
    expect((await call('GET', `/v2/images/${image.id}`)).body.name).toBe('bad-patch')
  })

  it('refuses a patch sent as plain JSON with 415', async () => {
    const image = await create({ name: 'media' })
    const res = await call('PATCH', `/v2/images/${image.id}`, { json: [{ op: 'replace', path: '/name', value: 'x' }] })
    expect(res.status).toBe(415)
  })

  it('protects a protected image from deletion, then deletes it with its file', async () => {
    const image = await create({ name: 'precious', disk_format: 'raw', container_format: 'bare', protected: true })
    await call('PUT', `/v2/images/${image.id}/file`, { data: randomBytes(1024) })
    expect(existsSync(join(storeDir, image.id))).toBe(true)
    const refused = await call('DELETE', `/v2/images/${image.id}`)
    expect(refused.status).toBe(403)
    expect(refused.body.error.message).toMatch(/protected/)
    expect((await call('PATCH', `/v2/images/${image.id}`, { patch: [{ op: 'replace', path: '/protected', value: false }] })).status).toBe(200)
    expect((await call('DELETE', `/v2/images/${image.id}`)).status).toBe(204)
    expect((await call('GET', `/v2/images/${image.id}`)).status).toBe(404)
    expect(existsSync(join(storeDir, image.id))).toBe(false)
  })

  it('adds and removes single tags', async () => {
    const image = await create({ name: 'tagged' })
    expect((await call('PUT', `/v2/images/${image.id}/tags/blue`)).status).toBe(204)
    expect((await call('GET', `/v2/images/${image.id}`)).body.tags).toEqual(['blue'])
    expect((await call('DELETE', `/v2/images/${image.id}/tags/blue`)).status).toBe(204)
    expect((await call('DELETE', `/v2/images/${image.id}/tags/blue`)).status).toBe(404)
  })
})

describe('image: cirros seed', () => {
  it('creates one public, active cirros image through the upload path, idempotently', async () => {
    const first = await images.seedCirros('admin-project')
    const second = await images.seedCirros('admin-project')
    expect(second.id).toBe(first.id)
    const placeholder = cirrosPlaceholder()
    expect(first).toMatchObject({
      name: 'cirros',
      status: 'active',
      visibility: 'public',
      containerFormat: 'bare',
      diskFormat: 'qcow2',
      size: placeholder.length,
      checksum: createHash('md5').update(placeholder).digest('hex'),
      owner: 'admin-project',
    })
    // What `openstack server create --image cirros` does: GET by name (404), then list by name.
    expect((await call('GET', '/v2/images/cirros', { token: tokenB })).status).toBe(404)
    const listed = await call('GET', '/v2/images?name=cirros', { token: tokenB })
    expect(listed.body.images.map((i: { id: string }) => i.id)).toEqual([first.id])
    const down = await call('GET', `/v2/images/${first.id}/file`, { token: tokenB })
    expect(down.bytes.equals(placeholder)).toBe(true)
  })
})
