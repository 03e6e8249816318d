import type { Request, Response } from 'express'
import { Router } from 'express'
import { z } from 'zod'
import { InvalidError, NotFoundError } from '../../../shared/errors.js'
import type { ConsoleTokens } from '../../consoles/console-tokens.js'
import { requireAdmin } from '../compute-policy.js'
import type { ComputeDeps } from '../deps.js'
import { atLeast, microversionOf } from '../microversion.js'
import { parseBody } from '../parameter-types.js'
import { actOnInstance, callerOf } from './instance-act.js'

type Wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: (e: unknown) => void) => void

/**
 * Remote consoles as the API cell serves them: tokens in the API database, and the proxy base URL
 * of the region that owns an instance (each region has its own console proxy).
 */
export interface ConsoleService {
  readonly tokens: ConsoleTokens
  /** `http://host:port` of the console proxy serving the region of `cellPath`; undefined: none. */
  proxyUrl(cellPath: string): string | undefined
}

/** The old (before 2.6) console actions of `POST /servers/{id}/action`, and the protocol of each. */
const ACTION_PROTOCOLS: Readonly<Record<string, string>> = {
  'os-getVNCConsole': 'vnc',
  'os-getSPICEConsole': 'spice',
  'os-getSerialConsole': 'serial',
  'os-getRDPConsole': 'rdp',
}

/** Body keys of `POST /servers/{id}/action` served here. */
export const CONSOLE_ACTION_KEYS = new Set(Object.keys(ACTION_PROTOCOLS))

/** The console types each old action's schema allows (Nova's schemas/remote_consoles.py). */
const ACTION_TYPES: Readonly<Record<string, readonly [string, ...string[]]>> = {
  'os-getVNCConsole': ['novnc', 'xvpvnc'],
  'os-getSPICEConsole': ['spice-html5'],
  'os-getSerialConsole': ['serial'],
  'os-getRDPConsole': ['rdp-html5'],
}

const PROTOCOLS_26 = ['vnc', 'spice', 'serial', 'rdp'] as const
const TYPES_26 = ['novnc', 'xvpvnc', 'spice-html5', 'serial', 'rdp-html5'] as const
const create26 = z.strictObject({ remote_console: z.strictObject({ protocol: z.enum(PROTOCOLS_26), type: z.enum(TYPES_26) }) })
const create28 = z.strictObject({ remote_console: z.strictObject({ protocol: z.enum([...PROTOCOLS_26, 'mks']), type: z.enum([...TYPES_26, 'webmks']) }) })

/** The only console type each protocol serves here (Nova's compute manager: others are invalid). */
const TYPE_OF: Readonly<Record<string, string>> = { vnc: 'novnc', spice: 'spice-html5', serial: 'serial' }

/**
 * Asks the owning cell for the console's address (its compute host reads the guest's definition),
 * binds a new token to it and answers the URL of the region's console proxy (Nova's formats:
 * noVNC's `vnc_auto.html?path=%3Ftoken%3D...`, spice-html5's `?token=`, a `ws://` URL for serial).
 * The URL also names the instance, which the proxy checks against the token.
 */
async function consoleUrl(d: ComputeDeps, res: Response, uuid: string, protocol: string, type: string): Promise<string> {
  // Nova looks the instance up first: another project's server, or none, is a 404 before anything else.
  const mapping = await d.locator.mapping(callerOf(res), uuid)
  // Nova's handlers: rdp went with Hyper-V, mks is VMware's; neither is enabled here.
  if (protocol === 'rdp' || protocol === 'mks') throw new InvalidError(`Unavailable console type ${protocol}.`)
  if (TYPE_OF[protocol] !== type) throw new InvalidError(`Invalid console type ${type}`)
  const consoles = d.consoles
  if (consoles === undefined) throw new InvalidError(`Unavailable console type ${protocol}.`)
  // A build without a cell, an instance in cell0 or in a down cell: 409 (actOnInstance).
  const address = (await actOnInstance(d, res, uuid, 'console_address', { kind: protocol })) as { host?: unknown; port?: unknown } | null
  const cellPath = mapping.cell_path
  const proxy = cellPath === null ? undefined : consoles.proxyUrl(cellPath)
  if (cellPath === null || proxy === undefined || typeof address?.host !== 'string' || typeof address.port !== 'number') {
    throw new InvalidError(`Unavailable console type ${protocol}.`)
  }
  const token = await consoles.tokens.issue({ instanceUuid: uuid, cellPath, protocol, consoleType: type, host: address.host, port: address.port })
  const query = `token=${token}&instance=${uuid}`
  if (type === 'novnc') return `${proxy}/vnc_auto.html?path=${encodeURIComponent(`?${query}`)}`
  if (type === 'spice-html5') return `${proxy}/spice_auto.html?${query}`
  return `${proxy.replace(/^http/, 'ws')}/?${query}`
}

/**
 * `os-getVNCConsole`, `os-getSPICEConsole`, `os-getSerialConsole`, `os-getRDPConsole` (2.1 to
 * 2.5; from 2.6 `POST /servers/{id}/remote-consoles` replaces them and they are 404).
 */
export async function consoleActionRoute(d: ComputeDeps, res: Response, uuid: string, key: string, value: unknown): Promise<void> {
  if (atLeast(microversionOf(res), '2.6')) throw new NotFoundError('The resource could not be found.')
  const types = ACTION_TYPES[key] ?? ['novnc']
  const body = parseBody(z.strictObject({ type: z.enum(types) }), value)
  const url = await consoleUrl(d, res, uuid, ACTION_PROTOCOLS[key] ?? 'vnc', body.type)
  res.status(200).json({ console: { type: body.type, url } })
}

/**
 * `POST /servers/{id}/remote-consoles` (2.6+; `mks`/`webmks` in the schema from 2.8) and
 * `GET /os-console-auth-tokens/{token}` (admin; from 2.31, 400 before, as Nova answers now that
 * its rdp-only form is gone). Reading a token does not use it up.
 */
export function consolesRouter(d: ComputeDeps, wrap: Wrap): Router {
  const r = Router()
  r.post(
    '/servers/:id/remote-consoles',
    wrap(async (req, res) => {
      const mv = microversionOf(res)
      if (!atLeast(mv, '2.6')) throw new NotFoundError('The resource could not be found.')
      const body = parseBody(atLeast(mv, '2.8') ? create28 : create26, req.body).remote_console
      const url = await consoleUrl(d, res, String(req.params['id']), body.protocol, body.type)
      res.status(200).json({ remote_console: { protocol: body.protocol, type: body.type, url } })
    }),
  )
  r.get(
    '/os-console-auth-tokens/:token',
    wrap(async (req, res) => {
      requireAdmin(res, 'os_compute_api:os-console-auth-tokens')
      if (!atLeast(microversionOf(res), '2.31')) throw new InvalidError('The console auth token API needs microversion 2.31 or later.')
      const token = String(req.params['token'])
      if (token === '') throw new InvalidError('token not provided')
      const found = d.consoles === undefined ? 'unknown' : await d.consoles.tokens.peek(token)
      if (typeof found === 'string') throw new NotFoundError('Token not found')
      res.json({ console: { instance_uuid: found.instanceUuid, host: found.host, port: found.port, internal_access_path: null } })
    }),
  )
  return r
}
