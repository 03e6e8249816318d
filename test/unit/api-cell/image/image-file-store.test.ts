import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CIRROS, cirrosPlaceholder } from '../../../../api-cell/image/cirros.js'
import { ImageFileStore, ImageTooLargeError, virtualSizeOf } from '../../../../api-cell/image/image-file-store.js'
import { NotFoundError } from '../../../../shared/errors.js'

const id = '11111111-2222-4333-8444-555555555555'

describe('ImageFileStore', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'image-store-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('writes the bytes and computes size, md5 and sha512 on the way', async () => {
    const bytes = randomBytes(300_000)
    const chunks = [bytes.subarray(0, 1000), bytes.subarray(1000, 200_000), bytes.subarray(200_000)]
    const store = new ImageFileStore(join(dir, 'images'))
    const stored = await store.write(id, Readable.from(chunks), 'raw')
    expect(stored).toEqual({
      size: bytes.length,
      md5: createHash('md5').update(bytes).digest('hex'),
      sha512: createHash('sha512').update(bytes).digest('hex'),
      virtualSize: bytes.length,
    })
    expect((await readFile(store.pathOf(id))).equals(bytes)).toBe(true)
    const back: Buffer[] = []
    for await (const c of await store.open(id)) back.push(c as Buffer)
    expect(Buffer.concat(back).equals(bytes)).toBe(true)
  })

  it('refuses uploads over the cap and leaves no file behind', async () => {
    const store = new ImageFileStore(dir, { maxBytes: 1000 })
    await expect(store.write(id, Readable.from([randomBytes(600), randomBytes(600)]), null)).rejects.toThrow(ImageTooLargeError)
    expect(await readdir(dir)).toEqual([])
  })

  it('cleans up when the source fails mid-stream', async () => {
    const store = new ImageFileStore(dir)
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield randomBytes(10)
      throw new Error('client went away')
    }
    await expect(store.write(id, broken(), null)).rejects.toThrow('client went away')
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses ids that could escape the directory, and reports missing data as not found', async () => {
    const store = new ImageFileStore(dir)
    expect(() => store.pathOf('../../etc/passwd')).toThrow()
    await expect(store.open(id)).rejects.toThrow(NotFoundError)
    await store.remove(id) // idempotent
  })
})

describe('virtualSizeOf and the cirros placeholder', () => {
  it('reads the virtual size from a qcow2 header', () => {
    const data = cirrosPlaceholder()
    expect(virtualSizeOf(data, data.length, 'qcow2')).toBe(CIRROS.virtualSize)
    expect(virtualSizeOf(data, data.length, 'vmdk')).toBeNull()
    expect(virtualSizeOf(Buffer.alloc(64), 64, 'qcow2')).toBeNull()
  })

  it('is deterministic', () => {
    const a = cirrosPlaceholder()
    expect(a.length).toBe(16 * 1024)
    expect(a.equals(cirrosPlaceholder())).toBe(true)
    expect(a.subarray(0, 4).toString('latin1')).toBe('QFI\u00fb')
  })
})
