import { randomBytes, randomUUID } from 'node:crypto'
import { isIP } from 'node:net'
import type { Request, Response } from 'express'
import { z } from 'zod'
import type { BuildSpec } from '../../../shared/cell-link/build-spec.js'
import { InvalidError } from '../../../shared/errors.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { findFlavor, flavorSnapshot } from '../flavors/flavor-store.js'
import { atLeast, microversionOf } from '../microversion.js'
import { linkBase, regionOf } from '../request-scope.js'
import { links } from './views.js'

const metadataSchema = z.record(z.string().min(1).max(255), z.string().max(255)).refine((m) => Object.keys(m).length <= 128, 'too many metadata items')

const serverSchema = z
  .object({
    name: z.string().trim().min(1).max(255),
    imageRef: z.string().min(1).max(255),
    flavorRef: z.union([z.string().min(1).max(255), z.number().int().nonnegative()]),
    min_count: z.coerce.number().int().min(1).optional(),
    max_count: z.coerce.number().int().min(1).optional(),
    return_reservation_id: z.union([z.boolean(), z.string()]).optional(),
    availability_zone: z.string().min(1).max(255).optional(),
    metadata: metadataSchema.optional(),
    key_name: z.string().min(1).max(255).nullable().optional(),
    adminPass: z.string().optional(),
    user_data: z.string().max(65535).nullable().optional(),
    description: z.string().max(255).nullable().optional(),
    networks: z.union([z.literal('none'), z.literal('auto'), z.array(z.record(z.string(), z.unknown()))]).optional(),
    security_groups: z.array(z.object({ name: z.string() }).passthrough()).optional(),
    config_drive: z.union([z.boolean(), z.string()]).optional(),
    accessIPv4: z.string().optional(),
    accessIPv6: z.string().optional(),
    'OS-DCF:diskConfig': z.enum(['AUTO', 'MANUAL']).optional(),
    block_device_mapping_v2: z.array(z.unknown()).optional(),
  })
  .passthrough()

const bodySchema = z
  .object({
    server: serverSchema,
    'os:scheduler_hints': z.record(z.string(), z.unknown()).optional(),
    'OS-SCH-HNT:scheduler_hints': z.record(z.string(), z.unknown()).optional(),
  })
  .strict()

/** `"Invalid input for field/attribute server.name. ..."`, as Nova words schema errors. */
export function schemaError(err: z.ZodError): InvalidError {
  const issue = err.issues[0]
  const path = issue?.path.join('.') ?? ''
  return new InvalidError(`Invalid input for field/attribute ${path}. Value: ${issue?.message ?? 'invalid'}`)
}

const isBase64 = (s: string): boolean => /^[A-Za-z0-9+/\r\n]*={0,2}$/.test(s) && Buffer.from(s, 'base64').length > 0

/** IPv6 in its compressed canonical form (`::babe:dc0c:1602`), as Nova stores it. */
export function canonicalIpv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1)
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/**
 * Networking without Neutron: only the `default` security group exists, networks must be well
 * formed (their uuids cannot be checked against a network service), access IPs must be addresses.
 */
function validateNetworking(s: z.infer<typeof serverSchema>): void {
  if (s.accessIPv4 !== undefined && s.accessIPv4 !== '' && isIP(s.accessIPv4) !== 4) {
    throw new InvalidError(`Invalid input for field/attribute accessIPv4. Value: ${s.accessIPv4}. '${s.accessIPv4}' is not a 'ipv4'`)
  }
  if (s.accessIPv6 !== undefined && s.accessIPv6 !== '' && isIP(s.accessIPv6) !== 6) {
    throw new InvalidError(`Invalid input for field/attribute accessIPv6. Value: ${s.accessIPv6}. '${s.accessIPv6}' is not a 'ipv6'`)
  }
  for (const g of s.security_groups ?? []) {
    if (g.name !== 'default') throw new InvalidError(`Security group ${g.name} not found.`)
  }
  if (Array.isArray(s.networks)) {
    for (const n of s.networks) {
      const uuid = n['uuid']
      if (uuid !== undefined && (typeof uuid !== 'string' || !UUID.test(uuid))) {
        throw new InvalidError(`Bad networks format: network uuid is not in proper format (${String(uuid)})`)
      }
      const port = n['port']
      if (port !== undefined && (typeof port !== 'string' || !UUID.test(port))) {
        throw new InvalidError(`Bad networks format: port uuid is not in proper format (${String(port)})`)
      }
    }
  }
}

/**
 * `POST /servers`: validates everything first (nothing is written for bad input), then writes the
 * build requests, instance mappings and index rows in one transaction, answers 202 and lets the
 * global scheduler place them in the background.
 */
export async function createServer(d: ComputeDeps, req: Request, res: Response): Promise<void> {
  const auth = authOf(res)
  const ctx = contextOf(res)
  const mv = microversionOf(res)
  const parsed = bodySchema.safeParse(req.body)
  if (!parsed.success) throw schemaError(parsed.error)
  const body = parsed.data
  const s = body.server
  if (atLeast(mv, '2.37') && s.networks === undefined) {
    throw new InvalidError("Invalid input for field/attribute server. Value: 'networks' is a required property")
  }
  if (!atLeast(mv, '2.19') && s.description !== undefined) {
    throw new InvalidError("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)")
  }
  validateNetworking(s)
  if (s.user_data !== undefined && s.user_data !== null && !isBase64(s.user_data)) {
    throw new InvalidError('User data needs to be valid base 64.')
  }
  if (s.key_name !== undefined && s.key_name !== null) throw new InvalidError('Invalid key_name provided.')
  const minCount = s.min_count ?? 1
  const maxCount = s.max_count ?? minCount
  if (maxCount < minCount) throw new InvalidError('min_count must be <= max_count')
  if (maxCount > 100) throw new InvalidError('max_count may not exceed 100')
  const flavorRef = String(s.flavorRef).split('/').pop() ?? ''
  const flavor = await findFlavor(d.db, flavorRef, auth)
  if (flavor === undefined || flavor.disabled === 1) throw new InvalidError(`Flavor ${flavorRef} could not be found.`)
  const imageId = s.imageRef.split('/').pop() ?? ''
  const image = await d.images({ projectId: auth.projectId, isAdmin: auth.isAdmin, roles: auth.roles, userId: auth.userId }, imageId)
  if (image === undefined) throw new InvalidError(`Image ${imageId} could not be found.`)
  if (image.status !== 'active') throw new InvalidError(`Image ${imageId} is not active.`)
  if (flavor.memory_mb < image.minRam) throw new InvalidError("Flavor's memory is too small for requested image.")
  if (flavor.root_gb > 0 && flavor.root_gb < image.minDisk) throw new InvalidError("Flavor's disk is too small for requested image.")
  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {}
  const snapshot = await flavorSnapshot(d.db, flavor)
  const region = regionOf(res)
  const reservationId = `r-${randomBytes(4).toString('hex')}`
  const now = Date.now()
  const specs: BuildSpec[] = []
  for (let i = 0; i < maxCount; i += 1) {
    const name = maxCount > 1 ? `${s.name}-${i + 1}` : s.name
    specs.push({
      instanceUuid: randomUUID(),
      name,
      hostname: name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'server',
      projectId: auth.projectId,
      userId: auth.userId,
      flavor: snapshot,
      image: { id: image.id, name: image.name, properties: image.properties },
      availabilityZone: s.availability_zone ?? null,
      metadata: s.metadata ?? {},
      keyName: null,
      keyData: null,
      userData: s.user_data ?? null,
      description: s.description ?? null,
      reservationId,
      launchIndex: i,
      schedulerHints: hints,
      ...(s.accessIPv4 === undefined || s.accessIPv4 === '' ? {} : { accessIpV4: s.accessIPv4 }),
      ...(s.accessIPv6 === undefined || s.accessIPv6 === '' ? {} : { accessIpV6: canonicalIpv6(s.accessIPv6) }),
      createdAt: now,
    })
  }
  await d.db.transaction().execute(async (tx) => {
    for (const spec of specs) {
      await tx
        .insertInto('build_requests')
        .values({ instance_uuid: spec.instanceUuid, project_id: spec.projectId, spec: JSON.stringify(spec), region, created_at: now })
        .execute()
      await tx
        .insertInto('instance_mappings')
        .values({ instance_uuid: spec.instanceUuid, cell_path: null, project_id: spec.projectId, user_id: spec.userId, region, queued_for_delete: 0, created_at: now })
        .execute()
      await tx
        .insertInto('instance_index')
        .values({
          uuid: spec.instanceUuid,
          project_id: spec.projectId,
          user_id: spec.userId,
          name: spec.name,
          vm_state: 'building',
          task_state: 'scheduling',
          power_state: 0,
          host: null,
          availability_zone: spec.availabilityZone,
          cell_path: null,
          region,
          flavor_id: spec.flavor.id,
          image_ref: spec.image.id,
          reservation_id: reservationId,
          version: 0,
          created_at: now,
          updated_at: now,
        })
        .execute()
    }
  })
  for (const spec of specs) d.dispatcher.enqueue(ctx, spec.instanceUuid)
  const returnReservation = s.return_reservation_id === true || s.return_reservation_id === 'True' || s.return_reservation_id === 'true'
  if (returnReservation) {
    res.status(202).json({ reservation_id: reservationId })
    return
  }
  const first = specs[0]!
  const base = linkBase(req, res)
  res.status(202).json({
    server: {
      id: first.instanceUuid,
      links: links(base, 'servers', first.instanceUuid),
      'OS-DCF:diskConfig': s['OS-DCF:diskConfig'] ?? 'MANUAL',
      security_groups: [{ name: 'default' }],
      adminPass: s.adminPass ?? randomBytes(9).toString('base64url'),
    },
  })
}
