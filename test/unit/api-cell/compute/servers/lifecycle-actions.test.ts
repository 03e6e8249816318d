import type { Request, Response } from 'express'
import { describe, expect, it } from 'vitest'
import type { ComputeDeps } from '../../../../../api-cell/compute/deps.js'
import { lifecycleActionRoute } from '../../../../../api-cell/compute/servers/lifecycle-actions.js'
import type { InstanceRecord } from '../../../../../shared/cell-link/build-spec.js'
import { ConflictError, ForbiddenError, InvalidError } from '../../../../../shared/errors.js'

const UUID = '6f1c7b0e-3d2a-4c8e-9b5f-0a1d2e3f4a5b'
const SHELVED_IMAGE = '0b3e4a2f-1c7d-4e59-9a6b-2f8d7c6e5a41'

/** Runs one action body through the route with fake deps; answers what was sent down and the reply. */
async function run(key: string, value: unknown, opts: { mv: string; admin?: boolean; vmState?: string }) {
  const [major, minor] = opts.mv.split('.').map(Number)
  const sent: Array<{ action: string; args: any }> = []
  const reply: { status?: number; body?: unknown; location?: string } = {}
  const record = { uuid: UUID, name: 'vm', imageRef: 'img', vmState: opts.vmState ?? 'shelved_offloaded', taskState: null, shelvedImageId: SHELVED_IMAGE } as unknown as InstanceRecord
  const deps = {
    locator: { get: () => Promise.resolve({ record, unknown: false }) },
    tree: { isDown: () => false },
    images: (_c: unknown, id: string) => Promise.resolve(id === SHELVED_IMAGE ? { id, name: 'x', status: 'active', minDisk: 0, minRam: 0, properties: {}, downloadUrl: 'http://img/signed', checksum: 'c' } : undefined),
    snapshots: {
      create: () => Promise.resolve({ imageId: SHELVED_IMAGE, uploadUrl: 'http://img/up', abortUrl: 'http://img/abort' }),
      abandon: () => Promise.resolve(),
      discardUrl: (id: string) => `http://img/discard/${id}`,
      discard: () => Promise.resolve(),
    },
  } as unknown as ComputeDeps
  const res = {
    locals: {
      microversion: { major, minor },
      auth: { projectId: 'p', userId: 'u', roles: opts.admin === true ? ['admin'] : ['member'], isAdmin: opts.admin === true },
      ctx: { requestId: 'req-1', projectId: 'p' },
    },
    status(s: number) {
      reply.status = s
      return this
    },
    json(b: unknown) {
      reply.body = b
      return this
    },
    end() {
      return this
    },
    location(l: string) {
      reply.location = l
      return this
    },
  } as unknown as Response
  const req = { protocol: 'http', get: () => 'api:8774' } as unknown as Request
  const act = (_res: Response, _uuid: string, action: string, args: unknown): Promise<unknown> => {
    sent.push({ action, args })
    return Promise.resolve(null)
  }
  await lifecycleActionRoute(deps, act, req, res, UUID, key, value)
  return { sent, reply }
}

describe('unshelve by microversion', () => {
  it.each(['2.1', '2.76'])('at %s ignores the body, as Nova has no unshelve schema before 2.77', async (mv) => {
    const { sent, reply } = await run('unshelve', { availability_zone: 'az1' }, { mv, admin: true })
    expect(reply.status).toBe(202)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.args).not.toHaveProperty('availabilityZone')
  })

  it.each([
    ['2.77', { availability_zone: null }],
    ['2.77', { host: 'h1' }],
    ['2.91', { availability_zone: 'az1', extra: 1 }],
  ])('at %s refuses %j with 400', async (mv, body) => {
    await expect(run('unshelve', body, { mv, admin: true })).rejects.toBeInstanceOf(InvalidError)
  })

  it('2.77 passes the availability zone down, with the shelved image to spawn from and its discard URL', async () => {
    const { sent, reply } = await run('unshelve', { availability_zone: 'az1' }, { mv: '2.77' })
    expect(reply.status).toBe(202)
    expect(sent).toEqual([
      {
        action: 'unshelve',
        args: { availabilityZone: 'az1', discardUrl: `http://img/discard/${SHELVED_IMAGE}`, image: { downloadUrl: 'http://img/signed', checksum: 'c' } },
      },
    ])
  })

  it('2.91: host is admin only, availability_zone null unpins the zone', async () => {
    await expect(run('unshelve', { host: 'h1' }, { mv: '2.91' })).rejects.toBeInstanceOf(ForbiddenError)
    const { sent } = await run('unshelve', { host: 'h1', availability_zone: null }, { mv: '2.91', admin: true })
    expect(sent[0]?.args).toMatchObject({ host: 'h1', availabilityZone: null })
  })

  it('refuses a zone or host for an instance that is SHELVED, not offloaded (409)', async () => {
    await expect(run('unshelve', { availability_zone: 'az1' }, { mv: '2.77', vmState: 'shelved' })).rejects.toBeInstanceOf(ConflictError)
    const plain = await run('unshelve', null, { mv: '2.77', vmState: 'shelved' })
    expect(plain.sent[0]?.args).not.toHaveProperty('image')
  })
})

describe('createImage and createBackup answers by microversion', () => {
  it('before 2.45: Location of the image, no body; a backup with rotation 0 has no Location', async () => {
    const img = await run('createImage', { name: 'snap' }, { mv: '2.44', vmState: 'active' })
    expect(img.reply).toEqual({ status: 202, location: `http://api:8774/v2.1/images/${SHELVED_IMAGE}` })
    const backup = await run('createBackup', { name: 'b', backup_type: 'daily', rotation: 0 }, { mv: '2.1', vmState: 'active' })
    expect(backup.reply).toEqual({ status: 202 })
    expect(backup.sent[0]).toMatchObject({ action: 'backup', args: { upload: { imageId: SHELVED_IMAGE } } })
  })

  it('from 2.45: the image id in the body', async () => {
    const img = await run('createImage', { name: 'snap' }, { mv: '2.45', vmState: 'active' })
    expect(img.reply).toEqual({ status: 202, body: { image_id: SHELVED_IMAGE } })
  })
})
