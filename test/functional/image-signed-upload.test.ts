import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authMiddleware, TokenService } from '../../api-cell/identity/index.js'
import { FileUrlSigner, fileUrlKey, imageMigrations, imageRouter, ImageService, UsedNonces } from '../../api-cell/image/index.js'
import type { ImageTables } from '../../api-cell/image/index.js'
import { snapshotImages } from '../../api-cell/image/snapshot-images.js'
import type { SnapshotImages } from '../../api-cell/image/snapshot-images.js'
import { ImageCache } from '../../child-cell/compute/image-cache.js'
import { ImageUploadError, uploadSnapshot } from '../../child-cell/compute/image-upload.js'
import { systemContext } from '../../shared/context.js'
import type { Database } from '../../shared/db/database.js'
import { migrateToLatest, openDatabase } from '../../shared/db/database.js'

/**
 * Signed, single-use upload URLs of snapshot images (what a compute host gets instead of a
 * token), against the real image router and the compute side's uploader: every abuse is 403 and
 * stores nothing; a failed upload leaves no image.
 */
let database: Database<ImageTables>
let server: Server
let url: string
let dir: string
let images: ImageService
let snapshots: SnapshotImages
let now = Date.UTC(2026, 0, 1)
const ctx = { requestId: 'req-test', projectId: 'project-a', userId: 'user-a', roles: ['member'] }
const INSTANCE = randomUUID()

const put = (u: string, data: Buffer = Buffer.from('snapshot bytes')) =>
  fetch(u, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(data) })
const statusOf = async (id: string): Promise<string | undefined> => images.get(systemContext(), id).then((i) => i.status, () => undefined)
const newSnapshot = (extra: { rotation?: number; backupType?: string } = {}) =>
  snapshots.create(ctx, { name: 'snap', instanceUuid: INSTANCE, baseImageRef: randomUUID(), kind: extra.backupType === undefined ? 'snapshot' : 'backup', ...extra })
/** Rewrites one query parameter of a URL. */
const withParam = (u: string, key: string, value: string): string => {
  const parsed = new URL(u)
  parsed.searchParams.set(key, value)
  return parsed.toString()
}

beforeAll(async () => {
  database = await openDatabase<ImageTables>('sqlite::memory:')
  await migrateToLatest(database.db, imageMigrations)
  dir = await mkdtemp(join(tmpdir(), 'signed-upload-'))
  images = new ImageService({ db: database.db, storeDir: join(dir, 'store'), maxImageBytes: 64 * 1024, clock: () => (now += 1000) })
  const app = express()
  server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const signer = new FileUrlSigner({ key: fileUrlKey(randomBytes(32)), publicUrl: url, clock: () => now })
  snapshots = snapshotImages(images, signer, 3600_000, () => now)
  app.use(imageRouter({ images, publicUrl: url, auth: authMiddleware(new TokenService({ secret: randomBytes(32) })), signer, usedNonces: new UsedNonces(() => now) }))
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await database.close()
  await rm(dir, { recursive: true, force: true })
})

describe('signed upload URLs of snapshot images', () => {
  it('store the bytes once; the same URL used again is 403 and changes nothing', async () => {
    const t = await newSnapshot()
    expect(await statusOf(t.imageId)).toBe('queued')
    expect((await put(t.uploadUrl)).status).toBe(204)
    const stored = await images.get(systemContext(), t.imageId)
    expect(stored).toMatchObject({ status: 'active', size: 14, owner: 'project-a' })
    expect(stored.properties).toMatchObject({ instance_uuid: INSTANCE, image_type: 'snapshot' })
    expect((await put(t.uploadUrl, Buffer.from('other bytes'))).status).toBe(403)
    expect(await images.get(systemContext(), t.imageId)).toMatchObject({ status: 'active', size: 14, checksum: stored.checksum })
  })

  it.each([
    ['another image', (u: string, other: string) => u.replace(/images\/[0-9a-f-]{36}/, `images/${other}`)],
    ['a later expiry', (u: string) => withParam(u, 'expires', String(Number(new URL(u).searchParams.get('expires')) + 1))],
    ['another nonce', (u: string) => withParam(u, 'nonce', 'ab'.repeat(16))],
    ['an added rotation', (u: string) => withParam(u, 'rotate', '1')],
    ['a flipped signature digit', (u: string) => withParam(u, 'signature', (new URL(u).searchParams.get('signature') ?? '').replace(/^./, (c) => (c === 'a' ? 'b' : 'a')))],
    ['a signature of the wrong length', (u: string) => withParam(u, 'signature', 'abcd')],
  ])('refuse %s with 403 and store nothing', async (_what, tamper) => {
    const t = await newSnapshot()
    const victim = await newSnapshot()
    const res = await put(tamper(t.uploadUrl, victim.imageId))
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { code: 403 } })
    expect(await statusOf(t.imageId)).toBe('queued')
    expect(await statusOf(victim.imageId)).toBe('queued')
  })

  it('refuse an expired URL, and the abort URL used for an upload (signed for DELETE only)', async () => {
    const t = await newSnapshot()
    expect((await put(t.abortUrl)).status).toBe(403)
    now += 2 * 3600_000
    expect((await put(t.uploadUrl)).status).toBe(403)
    expect(await statusOf(t.imageId)).toBe('queued')
  })

  it('without a signature need a token (401)', async () => {
    const t = await newSnapshot()
    const bare = new URL(t.uploadUrl)
    bare.search = ''
    expect((await put(bare.toString())).status).toBe(401)
  })

  it('abort deletes a still-empty image, never one with data, and only once', async () => {
    const t = await newSnapshot()
    expect((await fetch(t.uploadUrl.replace('?', '?x=1&'), { method: 'DELETE' })).status).toBe(403)
    expect((await fetch(t.abortUrl, { method: 'DELETE' })).status).toBe(204)
    expect(await statusOf(t.imageId)).toBeUndefined()
    expect((await fetch(t.abortUrl, { method: 'DELETE' })).status).toBe(403)
    const kept = await newSnapshot()
    expect((await put(kept.uploadUrl)).status).toBe(204)
    expect((await fetch(kept.abortUrl, { method: 'DELETE' })).status).toBe(204)
    expect(await statusOf(kept.imageId)).toBe('active')
  })

  it('rotate backups after the upload: the newest N of the instance and type stay', async () => {
    const made = []
    for (let i = 0; i < 3; i++) {
      const t = await newSnapshot({ backupType: 'weekly', rotation: 2 })
      expect((await put(t.uploadUrl)).status).toBe(204)
      made.push(t.imageId)
    }
    const other = await newSnapshot({ backupType: 'daily', rotation: 1 })
    expect((await put(other.uploadUrl)).status).toBe(204)
    expect(await Promise.all(made.map(statusOf))).toEqual([undefined, 'active', 'active'])
    expect(await statusOf(other.imageId)).toBe('active')
  })
})

describe('discard URLs of shelved images', () => {
  it('delete the shelved image of that instance only, and refuse a tampered URL with 403', async () => {
    const t = await newSnapshot()
    expect((await put(t.uploadUrl)).status).toBe(204)
    const signer = (u: string): FileUrlSigner => new FileUrlSigner({ key: fileUrlKey(randomBytes(32)), publicUrl: u, clock: () => now })
    const foreign = signer(url).signedDiscardUrl(t.imageId, INSTANCE, now + 60_000)
    expect((await fetch(foreign, { method: 'DELETE' })).status).toBe(403)
    const own = snapshots.discardUrl(t.imageId, INSTANCE)
    expect((await fetch(withParam(own, 'instance', randomUUID()), { method: 'DELETE' })).status).toBe(403)
    const otherImage = await newSnapshot()
    expect((await fetch(own.replace(t.imageId, otherImage.imageId), { method: 'DELETE' })).status).toBe(403)
    // Signed, but for another instance than the image's: nothing is deleted.
    const wrongOwner = snapshots.discardUrl(t.imageId, randomUUID())
    expect((await fetch(wrongOwner, { method: 'DELETE' })).status).toBe(204)
    expect(await statusOf(t.imageId)).toBe('active')
    expect((await fetch(own, { method: 'DELETE' })).status).toBe(204)
    expect(await statusOf(t.imageId)).toBeUndefined()
    expect(await statusOf(otherImage.imageId)).toBe('queued')
  })
})

describe('compute side: uploadSnapshot', () => {
  const cache = (): ImageCache => new ImageCache({ instancesPath: join(dir, 'instances'), qemuImg: null })
  const withDisk = async (bytes: number): Promise<string> => {
    const uuid = randomUUID()
    await mkdir(join(dir, 'instances', uuid), { recursive: true })
    await writeFile(join(dir, 'instances', uuid, 'disk'), randomBytes(bytes))
    return uuid
  }

  it('uploads the instance disk, and leaves no temporary file', async () => {
    const uuid = await withDisk(4096)
    const t = await newSnapshot()
    await uploadSnapshot(cache(), uuid, t)
    expect(await images.get(systemContext(), t.imageId)).toMatchObject({ status: 'active', size: 4096 })
    expect(await readdir(join(dir, 'instances', '_snapshots'))).toEqual([])
  })

  it('a refused upload (over the size cap) leaves no half image: the image is abandoned', async () => {
    const uuid = await withDisk(128 * 1024)
    const t = await newSnapshot()
    const err = await uploadSnapshot(cache(), uuid, t).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImageUploadError)
    expect((err as ImageUploadError).httpStatus).toBe(413)
    expect(await statusOf(t.imageId)).toBeUndefined()
    expect(await readdir(join(dir, 'instances', '_snapshots'))).toEqual([])
  })

  it('an image API that cannot be reached fails the snapshot without a file left behind', async () => {
    const uuid = await withDisk(1024)
    const target = { imageId: randomUUID(), uploadUrl: 'http://127.0.0.1:9/v2/images/x/file', abortUrl: 'http://127.0.0.1:9/v2/images/x/file' }
    await expect(uploadSnapshot(cache(), uuid, target)).rejects.toBeInstanceOf(ImageUploadError)
    expect(await readdir(join(dir, 'instances', '_snapshots'))).toEqual([])
  })
})
