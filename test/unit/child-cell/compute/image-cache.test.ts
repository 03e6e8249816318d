import { execFileSync } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs'
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { cirrosPlaceholder } from '../../../../api-cell/image/cirros.js'
import { backingFormatOf, ImageCache, ImageChecksumError, ImageDownloadError } from '../../../../child-cell/compute/image-cache.js'

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex')
const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')

/** `qemu-img info` of a file, as JSON. */
function qemuInfo(path: string): Record<string, unknown> {
  return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' })) as Record<string, unknown>
}

describe('ImageCache (compute host image cache)', () => {
  let work: string
  let server: Server
  let base: string
  /** Bytes served per path, and how many GETs each path got. */
  const files = new Map<string, Buffer>()
  const hits = new Map<string, number>()

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'image-cache-'))
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? ''
      hits.set(path, (hits.get(path) ?? 0) + 1)
      const body = files.get(path)
      if (body === undefined) {
        res.statusCode = 403
        res.end('{"error":{"code":403}}')
        return
      }
      res.setHeader('content-type', 'application/octet-stream')
      // Two writes, so that a download really streams.
      res.write(body.subarray(0, body.length >> 1))
      setImmediate(() => res.end(body.subarray(body.length >> 1)))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    rmSync(work, { recursive: true, force: true })
  })

  beforeEach(() => {
    hits.clear()
  })

  /** Serves `bytes` as a new image; returns its id and fetch. */
  function serve(bytes: Buffer, diskFormat = 'raw'): { imageId: string; fetch: { downloadUrl: string; checksum: string; diskFormat: string } } {
    const imageId = randomUUID()
    const path = `/v2/images/${imageId}/file`
    files.set(path, bytes)
    return { imageId, fetch: { downloadUrl: `${base}${path}?expires=1&signature=x`, checksum: md5(bytes), diskFormat } }
  }

  const hitsOf = (imageId: string): number => hits.get(`/v2/images/${imageId}/file`) ?? 0
  const newCache = (qemuImg?: string): ImageCache =>
    new ImageCache({ instancesPath: mkdtempSync(join(work, 'instances-')), ...(qemuImg === undefined ? {} : { qemuImg }) })

  it('names the cached file _base/<sha1 of the image id>, as Nova does', () => {
    const cache = new ImageCache({ instancesPath: '/srv/instances' })
    const id = '0b3e4a2f-1c7d-4e59-9a6b-2f8d7c6e5a41'
    expect(cache.basePath(id)).toBe(`/srv/instances/_base/${sha1(id)}`)
    expect(cache.instanceDir(id.toUpperCase())).toBe(`/srv/instances/${id}`)
    expect(() => cache.instanceDir('../etc')).toThrow(/invalid instance uuid/)
  })

  it('downloads an image once for two concurrent prepares, and once more never', async () => {
    const bytes = randomBytes(200_000)
    const { imageId, fetch } = serve(bytes)
    const cache = newCache()
    const [a, b] = [randomUUID(), randomUUID()]
    const disks = await Promise.all([cache.prepareDisk({ uuid: a, imageId, fetch, rootGb: 1 }), cache.prepareDisk({ uuid: b, imageId, fetch, rootGb: 1 })])
    expect(hitsOf(imageId)).toBe(1)
    expect(md5(readFileSync(cache.basePath(imageId)))).toBe(md5(bytes))
    expect(disks.map((d) => d.path)).toEqual([join(cache.instancesPath, a, 'disk'), join(cache.instancesPath, b, 'disk')])
    for (const d of disks) expect(existsSync(d.path)).toBe(true)
    // A later spawn finds the image cached.
    await cache.prepareDisk({ uuid: randomUUID(), imageId, fetch, rootGb: 1 })
    expect(hitsOf(imageId)).toBe(1)
    // No temporary file is left in _base.
    expect(readdirSync(join(cache.instancesPath, '_base'))).toEqual([sha1(imageId)])
  })

  it('fails on a checksum mismatch and keeps neither the image nor a disk', async () => {
    const { imageId, fetch } = serve(randomBytes(4096))
    const cache = newCache()
    const uuid = randomUUID()
    const wrong = { ...fetch, checksum: md5(Buffer.from('something else')) }
    const err = await cache.prepareDisk({ uuid, imageId, fetch: wrong, rootGb: 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImageChecksumError)
    expect((err as Error).message).toMatch(new RegExp(`Image ${imageId} failed its checksum: expected md5 ${wrong.checksum}`))
    expect(existsSync(cache.basePath(imageId))).toBe(false)
    expect(readdirSync(join(cache.instancesPath, '_base'))).toEqual([])
    expect(existsSync(join(cache.instancesPath, uuid, 'disk'))).toBe(false)
    // The failure is not cached: with the right checksum the next spawn downloads it.
    await cache.prepareDisk({ uuid, imageId, fetch, rootGb: 1 })
    expect(existsSync(cache.basePath(imageId))).toBe(true)
  })

  it('fails with the HTTP status, never the URL, when the image API refuses', async () => {
    const imageId = randomUUID()
    const cache = newCache()
    const fetch = { downloadUrl: `${base}/v2/images/${imageId}/file?expires=1&signature=secret-signature`, checksum: md5(Buffer.alloc(1)) }
    const err = await cache.prepareDisk({ uuid: randomUUID(), imageId, fetch, rootGb: 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ImageDownloadError)
    expect((err as ImageDownloadError).httpStatus).toBe(403)
    expect((err as Error).message).not.toContain('secret-signature')
    expect(existsSync(cache.basePath(imageId))).toBe(false)
  })

  it('creates a qcow2 overlay whose backing file is the cached image (raw for a non-qcow2 image)', async () => {
    // The seeded cirros placeholder carries the qcow2 magic but is no real qcow2: it backs as raw.
    const { imageId, fetch } = serve(cirrosPlaceholder(), 'qcow2')
    const cache = newCache()
    const uuid = randomUUID()
    const disk = await cache.prepareDisk({ uuid, imageId, fetch, rootGb: 2 })
    expect(disk).toEqual({ path: join(cache.instancesPath, uuid, 'disk'), format: 'qcow2', backingFile: cache.basePath(imageId) })
    const info = qemuInfo(disk.path)
    expect(info['format']).toBe('qcow2')
    expect(info['backing-filename']).toBe(cache.basePath(imageId))
    expect(info['backing-filename-format']).toBe('raw')
    expect(info['virtual-size']).toBe(2 * 1024 ** 3)
  })

  it('gives every disk the very bytes qemu-img create writes for it, from one private template per image and size', async () => {
    const { imageId, fetch } = serve(randomBytes(8192))
    const cache = newCache()
    const [a, b] = await Promise.all([randomUUID(), randomUUID()].map((uuid) => cache.prepareDisk({ uuid, imageId, fetch, rootGb: 1 })))
    const c = await cache.prepareDisk({ uuid: randomUUID(), imageId, fetch, rootGb: 3 })
    const direct = join(work, `${randomUUID()}.qcow2`)
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', cache.basePath(imageId), direct, '1G'])
    expect(readFileSync(a!.path).equals(readFileSync(direct))).toBe(true)
    expect(readFileSync(b!.path).equals(readFileSync(direct))).toBe(true)
    expect(qemuInfo(c.path)['virtual-size']).toBe(3 * 1024 ** 3)
    // One template per size, private, and nothing half-written left next to them.
    const templates = readdirSync(join(cache.instancesPath, '_overlays')).sort()
    expect(templates).toEqual([`${sha1(imageId)}-raw-1`, `${sha1(imageId)}-raw-3`])
    for (const t of templates) expect(statSync(join(cache.instancesPath, '_overlays', t)).mode & 0o777).toBe(0o600)
    expect(statSync(a!.path).mode & 0o777).toBe(0o600)
  })

  it('backs an overlay of a real qcow2 image as qcow2, with the image size when rootGb is 0', async () => {
    const src = join(work, `${randomUUID()}.qcow2`)
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', src, '64M'])
    const { imageId, fetch } = serve(readFileSync(src), 'qcow2')
    const cache = newCache()
    const disk = await cache.prepareDisk({ uuid: randomUUID(), imageId, fetch, rootGb: 0 })
    const info = qemuInfo(disk.path)
    expect(info['backing-filename']).toBe(cache.basePath(imageId))
    expect(info['backing-filename-format']).toBe('qcow2')
    expect(info['virtual-size']).toBe(64 * 1024 ** 2)
  })

  it('refuses a qcow2 image that names a backing file of its own', async () => {
    const target = join(work, `${randomUUID()}.raw`)
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', target, '1M'])
    const src = join(work, `${randomUUID()}.qcow2`)
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', target, src])
    const { imageId, fetch } = serve(readFileSync(src), 'qcow2')
    const cache = newCache()
    const uuid = randomUUID()
    await expect(cache.prepareDisk({ uuid, imageId, fetch, rootGb: 1 })).rejects.toThrow(/qcow2 image with a backing file: refused/)
    expect(existsSync(join(cache.instancesPath, uuid, 'disk'))).toBe(false)
  })

  it('makes a sparse raw copy when qemu-img is absent', async () => {
    // Data, a long run of zeros, data: the zeros must stay a hole.
    const bytes = Buffer.concat([randomBytes(70_000), Buffer.alloc(4 * 1024 * 1024), randomBytes(1000)])
    const { imageId, fetch } = serve(bytes)
    const cache = newCache(join(work, 'no-such-dir', 'qemu-img'))
    const uuid = randomUUID()
    const disk = await cache.prepareDisk({ uuid, imageId, fetch, rootGb: 1 })
    expect(disk).toEqual({ path: join(cache.instancesPath, uuid, 'disk'), format: 'raw' })
    const st = statSync(disk.path)
    expect(st.size).toBe(1024 ** 3)
    expect(st.blocks * 512).toBeLessThan(bytes.length)
    const prefix = Buffer.alloc(bytes.length)
    const fd = openSync(disk.path, 'r')
    readSync(fd, prefix, 0, prefix.length, 0)
    closeSync(fd)
    expect(md5(prefix)).toBe(md5(bytes))
    expect(() => qemuInfo(disk.path)).not.toThrow()
    expect(qemuInfo(disk.path)['backing-filename']).toBeUndefined()
  })

  it('recreates the disk of an instance (rebuild), and removes the instance directory but not the image', async () => {
    const first = serve(randomBytes(8192))
    const second = serve(randomBytes(8192))
    const cache = newCache()
    const uuid = randomUUID()
    await cache.prepareDisk({ uuid, imageId: first.imageId, fetch: first.fetch, rootGb: 1 })
    const disk = await cache.prepareDisk({ uuid, imageId: second.imageId, fetch: second.fetch, rootGb: 1 })
    expect(qemuInfo(disk.path)['backing-filename']).toBe(cache.basePath(second.imageId))
    expect(await cache.existingDisk(uuid)).toEqual({ path: disk.path, format: 'qcow2' })
    await cache.removeInstance(uuid)
    expect(existsSync(join(cache.instancesPath, uuid))).toBe(false)
    expect(await cache.existingDisk(uuid)).toBeUndefined()
    expect(existsSync(cache.basePath(first.imageId))).toBe(true)
    expect(existsSync(cache.basePath(second.imageId))).toBe(true)
    await cache.removeInstance(uuid) // idempotent
  })

  it.each([
    ['a real qcow2 header, disk_format qcow2', 'real', 'qcow2', 'qcow2'],
    ['a real qcow2 header, disk_format raw (never probed upward)', 'real', 'raw', 'raw'],
    ['the cirros placeholder (magic only)', 'placeholder', 'qcow2', 'raw'],
    ['random bytes, disk_format qcow2', 'random', 'qcow2', 'raw'],
    ['a short file', 'short', 'qcow2', 'raw'],
  ] as const)('backingFormatOf: %s', (_name, kind, diskFormat, expected) => {
    let header: Buffer
    if (kind === 'real') {
      const src = join(work, `${randomUUID()}.qcow2`)
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', src, '1M'])
      header = readFileSync(src).subarray(0, 72)
    } else if (kind === 'placeholder') header = cirrosPlaceholder().subarray(0, 72)
    else if (kind === 'random') header = randomBytes(72)
    else header = Buffer.from([0x51, 0x46, 0x49, 0xfb])
    expect(backingFormatOf(header, diskFormat)).toBe(expected)
  })
})
