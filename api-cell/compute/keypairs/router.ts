import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { InvalidError } from '../../../shared/errors.js'
import { authOf } from '../../identity/auth.js'
import { requireAdminOrUser } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import type { Microversion } from '../microversion.js'
import { atLeast, microversionOf } from '../microversion.js'
import { intQuery, novaTimestamp, parseBody, queryParam } from '../parameter-types.js'
import { linkBase } from '../request-scope.js'
import type { KeypairRow, KeypairType } from './keypair-store.js'
import { deleteKeypair, getKeypair, insertKeypair, KEYPAIR_TYPES, listKeypairs } from './keypair-store.js'
import { generateSshKey, sshFingerprint } from './ssh-keys.js'
import { generateX509Key, x509Fingerprint } from './x509-certificate.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/** Nova's key pair names before 2.92: letters, digits, `_`, `-` and spaces. */
const SAFE_CHARS = '_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
const keyName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => [...s].every((c) => SAFE_CHARS.includes(c)), `Only expected characters: [${SAFE_CHARS}]`)
const base = { name: keyName, public_key: z.string().optional() }
const create21 = z.strictObject({ keypair: z.strictObject(base) })
const create22 = z.strictObject({ keypair: z.strictObject({ ...base, type: z.enum(KEYPAIR_TYPES).optional() }) })
const create210 = z.strictObject({ keypair: z.strictObject({ ...base, type: z.enum(KEYPAIR_TYPES).optional(), user_id: z.string().min(1).max(255).optional() }) })
/** 2.92: `@` and `.` allowed in names, no surrounding whitespace; `public_key` required (no generated keys). */
const SAFE_CHARS_292 = `${SAFE_CHARS}@.`
const keyName292 = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => s.trim() === s && [...s].every((c) => SAFE_CHARS_292.includes(c)), `Only expected characters: [${SAFE_CHARS_292}]`)
const create292 = z.strictObject({
  keypair: z.strictObject({ name: keyName292, public_key: z.string(), type: z.enum(KEYPAIR_TYPES).optional(), user_id: z.string().min(1).max(255).optional() }),
})

/** List entry and create answer fields: `type` only from 2.2 (Tempest's schemas are strict). */
function brief(k: KeypairRow, mv: Microversion): Record<string, unknown> {
  return { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint, ...(atLeast(mv, '2.2') ? { type: k.type } : {}) }
}

/**
 * `/os-keypairs`: per-user SSH (or, from 2.2, x509) key pairs. Create imports `public_key` or
 * generates a pair and returns `private_key` once (200 at 2.1, 201 from 2.2); list wraps each item
 * in `{"keypair": …}` and pages from 2.35; show; delete (202 at 2.1, 204 from 2.2). From 2.10 an
 * admin may act for another user with `user_id`; anyone else gets Nova's 403.
 */
export function keypairsRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  /** The user acted for: `user_id` (2.10, query) or the caller, after the owner-or-admin policy. */
  const targetUser = (req: Request, res: Response, action: string): string => {
    const own = authOf(res).userId
    const asked = atLeast(microversionOf(res), '2.10') ? queryParam(req.query['user_id']) : undefined
    const userId = asked ?? own
    requireAdminOrUser(res, `os_compute_api:os-keypairs:${action}`, userId)
    return userId
  }

  r.post(
    '/os-keypairs',
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const auth = authOf(res)
      const body = parseBody(atLeast(mv, '2.92') ? create292 : atLeast(mv, '2.10') ? create210 : atLeast(mv, '2.2') ? create22 : create21, req.body).keypair as {
        name: string
        public_key?: string
        type?: KeypairType
        user_id?: string
      }
      const userId = body.user_id ?? auth.userId
      requireAdminOrUser(res, 'os_compute_api:os-keypairs:create', userId)
      const type = body.type ?? 'ssh'
      let publicKey: string
      let fingerprint: string | undefined
      let privateKey: string | undefined
      if (body.public_key !== undefined) {
        publicKey = body.public_key
        fingerprint = type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey)
        if (fingerprint === undefined) throw new InvalidError('Keypair data is invalid: failed to generate fingerprint')
      } else if (type === 'x509') {
        const g = await generateX509Key(userId)
        ;({ certificate: publicKey, fingerprint, privateKey } = g)
      } else {
        const g = await generateSshKey()
        ;({ publicKey, fingerprint, privateKey } = g)
      }
      const row = await insertKeypair(d.db, auth.projectId, { userId, name: body.name, type, publicKey, fingerprint })
      const out: Record<string, unknown> = { ...brief(row, mv), user_id: row.user_id }
      if (privateKey !== undefined) out['private_key'] = privateKey
      res.status(atLeast(mv, '2.2') ? 201 : 200).json({ keypair: out })
    }),
  )

  r.get(
    '/os-keypairs',
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const userId = targetUser(req, res, 'index')
      const paged = atLeast(mv, '2.35')
      const limit = paged ? intQuery('limit', req.query['limit']) : undefined
      const marker = paged ? queryParam(req.query['marker']) : undefined
      const rows = await listKeypairs(d.db, userId, { ...(limit === undefined ? {} : { limit }), ...(marker === undefined ? {} : { marker }) })
      const body: Record<string, unknown> = { keypairs: rows.map((k) => ({ keypair: brief(k, mv) })) }
      const last = rows[rows.length - 1]
      if (paged && last !== undefined && rows.length === (limit ?? 1000)) {
        const params = new URLSearchParams()
        for (const [k, v] of Object.entries(req.query)) if (k !== 'marker' && typeof v === 'string') params.set(k, v)
        params.set('marker', last.name)
        body['keypairs_links'] = [{ rel: 'next', href: `${linkBase(req, res).versioned}/os-keypairs?${params.toString()}` }]
      }
      res.json(body)
    }),
  )

  r.get(
    '/os-keypairs/:name',
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      const userId = targetUser(req, res, 'show')
      const k = await getKeypair(d.db, userId, String(req.params['name']))
      res.json({
        keypair: {
          ...brief(k, mv),
          user_id: k.user_id,
          deleted: false,
          created_at: novaTimestamp(k.created_at),
          updated_at: k.updated_at === null ? null : novaTimestamp(k.updated_at),
          deleted_at: null,
          id: k.id,
        },
      })
    }),
  )

  r.delete(
    '/os-keypairs/:name',
    wrap(async (req, res) => {
      const userId = targetUser(req, res, 'delete')
      await deleteKeypair(d.db, userId, String(req.params['name']))
      res.status(atLeast(microversionOf(res), '2.2') ? 204 : 202).end()
    }),
  )
  return r
}
