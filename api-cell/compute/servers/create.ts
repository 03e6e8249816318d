import { randomBytes, randomUUID } from 'node:crypto'
import { isIP } from 'node:net'
import type { Request, Response } from 'express'
import { z } from 'zod'
import type { BuildGroup, BuildSpec } from '../../../shared/cell-link/build-spec.js'
import { ForbiddenError, InvalidError } from '../../../shared/errors.js'
import type { NetworkInfo, NetworkRequest } from '../../../shared/network/network-info.js'
import { isUuidLike } from '../../../shared/uuid.js'
import { authOf, contextOf } from '../../identity/auth.js'
import type { ComputeDeps } from '../deps.js'
import { aggregatesForBuild } from '../aggregates/aggregate-store.js'
import { findFlavor, flavorSnapshot } from '../flavors/flavor-store.js'
import { atLeast, microversionOf } from '../microversion.js'
import { accessIPv4, accessIPv6, novaBoolean, novaFqdn, novaHostname, novaMetadata, novaServerDescription, novaServerName, parseBody } from '../parameter-types.js'
import { checkGroupMembers, checkMetadataItems, instancesAllowed, recordCharges } from '../quotas/boot-quota.js'
import { withQuotaLock } from '../quotas/quota-store.js'
import type { GroupRow } from '../server-groups/group-store.js'
import { addMembers, buildGroupOf, findGroup, liveMembers } from '../server-groups/group-store.js'
import { linkBase, regionOf } from '../request-scope.js'
import { novaTags } from './tag-routes.js'
import { links } from './views.js'

const serverSchema = z
  .object({
    name: novaServerName,
    imageRef: z.string().min(1).max(255),
    flavorRef: z.union([z.string().min(1).max(255), z.number().int().nonnegative()]),
    min_count: z.coerce.number().int().min(1).optional(),
    max_count: z.coerce.number().int().min(1).optional(),
    return_reservation_id: z.union([z.boolean(), z.string()]).optional(),
    availability_zone: z.string().min(1).max(255).optional(),
    metadata: novaMetadata.optional(),
    key_name: z.string().min(1).max(255).nullable().optional(),
    adminPass: z.string().optional(),
    user_data: z.string().max(65535).nullable().optional(),
    description: novaServerDescription.optional(),
    networks: z.union([z.literal('none'), z.literal('auto'), z.array(z.record(z.string(), z.unknown()))]).optional(),
    security_groups: z.array(z.object({ name: z.string() }).passthrough()).optional(),
    config_drive: novaBoolean.optional(),
    accessIPv4: accessIPv4.optional(),
    accessIPv6: accessIPv6.optional(),
    'OS-DCF:diskConfig': z.enum(['AUTO', 'MANUAL']).optional(),
    block_device_mapping_v2: z.array(z.unknown()).optional(),
    tags: novaTags.optional(),
    hostname: novaHostname.optional(),
    host: novaFqdn.optional(),
    hypervisor_hostname: novaFqdn.optional(),
  })
  .passthrough()

const bodySchema = z
  .object({
    server: serverSchema,
    'os:scheduler_hints': z.record(z.string(), z.unknown()).optional(),
    'OS-SCH-HNT:scheduler_hints': z.record(z.string(), z.unknown()).optional(),
  })
  .strict()


const isBase64 = (s: string): boolean => /^[A-Za-z0-9+/\r\n]*={0,2}$/.test(s) && Buffer.from(s, 'base64').length > 0

/** IPv6 in its compressed canonical form (`::babe:dc0c:1602`), as Nova stores it. Validate with `accessIPv6` first. */
export function canonicalIpv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1)
}


/**
 * Networks must be well formed. Without the network service's security groups only `default`
 * exists; with them, the allocator resolves the names (400 for an unknown one, nothing allocated).
 */
function validateNetworking(s: z.infer<typeof serverSchema>, hasSecurityGroups: boolean): void {
  for (const g of s.security_groups ?? []) {
    if (!hasSecurityGroups && g.name !== 'default') throw new InvalidError(`Security group ${g.name} not found.`)
  }
  if (Array.isArray(s.networks)) {
    for (const n of s.networks) {
      const uuid = n['uuid']
      if (uuid !== undefined && !isUuidLike(uuid)) {
        throw new InvalidError(`Bad networks format: network uuid is not in proper format (${String(uuid)})`)
      }
      const port = n['port']
      if (port !== undefined && !isUuidLike(port)) {
        throw new InvalidError(`Bad networks format: port uuid is not in proper format (${String(port)})`)
      }
    }
  }
}

/**
 * `POST /servers`: validates everything first (nothing is written for bad input), then, in one
 * transaction holding the project's quota lock, counts usage, decides how many instances the
 * quotas allow (403 when not even `min_count`), and writes the build requests, instance mappings,
 * index rows, quota charges and server group memberships; answers 202 and lets the global
 * scheduler place them in the background. Parallel boots of one project can never exceed its quota.
 */
export async function createServer(d: ComputeDeps, req: Request, res: Response): Promise<void> {
  const auth = authOf(res)
  const ctx = contextOf(res)
  const mv = microversionOf(res)
  const body = parseBody(bodySchema, req.body)
  const s = body.server
  if (atLeast(mv, '2.37') && s.networks === undefined) {
    throw new InvalidError("Invalid input for field/attribute server. Value: 'networks' is a required property")
  }
  if (!atLeast(mv, '2.19') && s.description !== undefined) {
    throw new InvalidError("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)")
  }
  validateNetworking(s, d.network !== undefined && d.securityGroups !== undefined)
  if (s.hostname !== undefined && !atLeast(mv, '2.90')) throw new InvalidError("Invalid input for field/attribute server. Value: Additional properties are not allowed ('hostname' was unexpected)")
  if (s.tags !== undefined && !atLeast(mv, '2.52')) throw new InvalidError("Invalid input for field/attribute server. Value: Additional properties are not allowed ('tags' was unexpected)")
  if (s.user_data !== undefined && s.user_data !== null && !isBase64(s.user_data)) {
    throw new InvalidError('User data needs to be valid base 64.')
  }
  let keypair: { name: string; publicKey: string } | null = null
  if (s.key_name !== undefined && s.key_name !== null) {
    const k = await d.db.selectFrom('key_pairs').select(['name', 'public_key']).where('user_id', '=', auth.userId).where('name', '=', s.key_name).executeTakeFirst()
    if (k === undefined) throw new InvalidError('Invalid key_name provided.')
    keypair = { name: k.name, publicKey: k.public_key }
  }
  await checkMetadataItems(d.db, auth.projectId, auth.userId, Object.keys(s.metadata ?? {}).length)
  const minCount = s.min_count ?? 1
  const maxCount = s.max_count ?? minCount
  if (maxCount < minCount) throw new InvalidError('min_count must be <= max_count')
  if (maxCount > 100) throw new InvalidError('max_count may not exceed 100')
  if (s.hostname !== undefined && maxCount > 1) throw new InvalidError('Cannot specify a hostname when creating multiple servers.')
  // Multi-create names are `name-1` ... `name-N`: each must still fit the 255 characters of a name.
  if (maxCount > 1 && `${s.name}-${maxCount}`.length > 255) {
    throw new InvalidError(`Invalid input for field/attribute server.name. Value: too long for ${maxCount} servers named '<name>-<n>' (at most 255 characters)`)
  }
  const flavorRef = String(s.flavorRef).split('/').pop() ?? ''
  const flavor = await findFlavor(d.db, flavorRef, auth)
  if (flavor === undefined || flavor.disabled === 1) throw new InvalidError(`Flavor ${flavorRef} could not be found.`)
  const imageId = s.imageRef.split('/').pop() ?? ''
  const image = await d.images({ projectId: auth.projectId, isAdmin: auth.isAdmin, roles: auth.roles, userId: auth.userId }, imageId)
  if (image === undefined) throw new InvalidError(`Image ${imageId} could not be found.`)
  if (image.status !== 'active') throw new InvalidError(`Image ${imageId} is not active.`)
  // Nova's `img_config_drive`: `mandatory` gives every server of the image a config drive.
  const imageConfigDrive = image.properties['img_config_drive'] ?? 'optional'
  if (imageConfigDrive !== 'optional' && imageConfigDrive !== 'mandatory') throw new InvalidError(`Image's config drive option '${imageConfigDrive}' is invalid`)
  const configDrive = s.config_drive === true || imageConfigDrive === 'mandatory'
  if (flavor.memory_mb < image.minRam) throw new InvalidError("Flavor's memory is too small for requested image.")
  if (flavor.root_gb > 0 && flavor.root_gb < image.minDisk) throw new InvalidError("Flavor's disk is too small for requested image.")
  const requested = await requestedDestination(d, res, s)
  const hints = { ...(body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {}), ...(requested === undefined ? {} : { target_cell: requested.cellPath }) }
  const group = await groupOfHints(d, hints, auth)
  const snapshot = await flavorSnapshot(d.db, flavor)
  const aggregates = await aggregatesForBuild(d.db)
  const uuids = Array.from({ length: maxCount }, () => randomUUID())
  // Through the federation-wide endpoint, `auto` on the regions' shared networks takes the network
  // of the region the global scheduler ranks first for this flavor right now (capacity, down cells).
  const probe: BuildSpec = {
    instanceUuid: uuids[0]!,
    name: s.name,
    hostname: 'probe',
    projectId: auth.projectId,
    userId: auth.userId,
    flavor: snapshot,
    image: { id: image.id, name: image.name, properties: image.properties },
    availabilityZone: s.availability_zone ?? null,
    metadata: {},
    keyName: null,
    keyData: null,
    userData: null,
    description: null,
    reservationId: '',
    launchIndex: 0,
    schedulerHints: hints,
    ...(aggregates.length === 0 ? {} : { aggregates }),
    createdAt: Date.now(),
  }
  const request = networkRequestOf(s, mv, maxCount)
  const ranked = request.kind !== 'auto' || regionOf(res) !== null || d.network === undefined ? [] : requested === undefined ? d.dispatcher.rankRegions(ctx, probe, null, []) : [requested.cellPath]
  const preferRegions = ranked.map((path) => path.split('!')[1] ?? '')
  const allocated = await allocateNetworks(d, { projectId: auth.projectId, isAdmin: auth.isAdmin, region: regionOf(res), preferRegions, uuids, request, securityGroups: (s.security_groups ?? []).map((g) => g.name) })
  // A server on a region's network is built in that region (the global endpoint included).
  const region = regionOf(res) ?? allocated.region
  const reservationId = `r-${randomBytes(4).toString('hex')}`
  const now = Date.now()
  const charge = { projectId: auth.projectId, userId: auth.userId, vcpus: flavor.vcpus, memoryMb: flavor.memory_mb, minCount, maxCount }
  const specs = await withQuotaLock(d.db, `project:${auth.projectId}`, async (tx) => {
    const count = await instancesAllowed(tx, charge)
    let buildGroup: BuildGroup | undefined
    if (group !== undefined) {
      await checkGroupMembers(tx, auth.projectId, auth.userId, (await liveMembers(tx, [group.id])).get(group.id)?.length ?? 0, count)
      buildGroup = await buildGroupOf(tx, group)
    }
    const specs: BuildSpec[] = []
    for (let i = 0; i < count; i += 1) {
      const name = count > 1 ? `${s.name}-${i + 1}` : s.name
      const networkInfo = allocated.infos[i]
      specs.push({
        instanceUuid: uuids[i]!,
        name,
        hostname: s.hostname ?? (name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'server'),
        projectId: auth.projectId,
        userId: auth.userId,
        flavor: snapshot,
        image: {
          id: image.id,
          name: image.name,
          properties: image.properties,
          ...(image.downloadUrl === undefined ? {} : { downloadUrl: image.downloadUrl }),
          ...(image.checksum === undefined ? {} : { checksum: image.checksum }),
          ...(image.diskFormat === undefined ? {} : { diskFormat: image.diskFormat }),
        },
        availabilityZone: s.availability_zone ?? null,
        metadata: s.metadata ?? {},
        keyName: keypair?.name ?? null,
        keyData: keypair?.publicKey ?? null,
        userData: s.user_data ?? null,
        description: s.description ?? null,
        reservationId,
        launchIndex: i,
        schedulerHints: hints,
        ...(s.accessIPv4 === undefined || s.accessIPv4 === '' ? {} : { accessIpV4: s.accessIPv4 }),
        ...(s.accessIPv6 === undefined || s.accessIPv6 === '' ? {} : { accessIpV6: canonicalIpv6(s.accessIPv6) }),
        ...(buildGroup === undefined ? {} : { group: buildGroup }),
        ...(minCount > 1 ? { minCount } : {}),
        ...(s.tags === undefined || s.tags.length === 0 ? {} : { tags: [...new Set(s.tags)] }),
        ...(aggregates.length === 0 ? {} : { aggregates }),
        ...(requested === undefined ? {} : { requestedHost: requested.host }),
        ...(configDrive ? { configDrive: true } : {}),
        ...(networkInfo === undefined || networkInfo.length === 0 ? {} : { networkInfo }),
        createdAt: now,
      })
    }
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
          tags: JSON.stringify(spec.tags ?? []),
          created_at: now,
          updated_at: now,
        })
        .execute()
    }
    await recordCharges(tx, charge, specs.map((x) => x.instanceUuid))
    if (group !== undefined) await addMembers(tx, group.id, specs.map((x) => x.instanceUuid), now)
    return specs
  }).catch(async (err: unknown) => {
    // Not accepted (quota, a race): the addresses go back.
    await releaseNetworks(d, uuids)
    throw err
  })
  // Fewer than max_count allowed by the quotas: the others' ports go back.
  await releaseNetworks(d, uuids.slice(specs.length))
  // Multi-create: the first min_count are placed all or nothing (scheduler/reservation.ts).
  if (minCount > 1) d.builds.enqueueReservation(ctx, specs.map((x) => x.instanceUuid))
  else for (const spec of specs) d.builds.enqueue(ctx, spec.instanceUuid)
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
      // Nova echoes the request's groups (or `default`) in the create response.
      security_groups: (s.security_groups ?? [{ name: 'default' }]).map((g) => ({ name: g.name })),
      adminPass: s.adminPass ?? randomBytes(9).toString('base64url'),
    },
  })
}

/**
 * Nova's `networks` as a {@link NetworkRequest} (2.37 semantics; before 2.37 absent is `auto`).
 * A port or a fixed IP cannot serve several servers: with `max_count` > 1 they are a 400, as Nova answers.
 */
function networkRequestOf(s: z.infer<typeof serverSchema>, mv: ReturnType<typeof microversionOf>, maxCount: number): NetworkRequest {
  if (s.networks === 'none') return { kind: 'none' }
  if (s.networks === undefined || s.networks === 'auto') return { kind: 'auto' }
  if (!atLeast(mv, '2.37') && s.networks.length === 0) return { kind: 'auto' }
  const items = s.networks.map((n) => {
    const port = n['port']
    if (typeof port === 'string' && port !== '') {
      if (maxCount > 1) throw new InvalidError('Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.')
      return { port }
    }
    const uuid = n['uuid']
    if (typeof uuid !== 'string') throw new InvalidError('Bad network format: missing uuid')
    const fixed = n['fixed_ip']
    if (fixed === undefined || fixed === null) return { uuid }
    if (typeof fixed !== 'string' || isIP(fixed) === 0) throw new InvalidError(`Invalid input for field/attribute fixed_ip. Value: ${String(fixed)}. ${JSON.stringify(fixed)} is not a 'ipv4'`)
    if (maxCount > 1) throw new InvalidError('max_count cannot be greater than 1 if an fixed_ip is specified.')
    return { uuid, fixedIp: fixed }
  })
  return { kind: 'list', items }
}

/**
 * Allocates the ports of every server of a create, all or nothing: one failure releases what
 * the others got and answers the 4xx. The first server's region (a shared network of a region
 * picked for `auto`) pins the others, so that a multi-create lands in one region.
 */
async function allocateNetworks(
  d: ComputeDeps,
  a: { projectId: string; isAdmin: boolean; region: string | null; preferRegions: readonly string[]; uuids: readonly string[]; request: NetworkRequest; securityGroups: readonly string[] },
): Promise<{ infos: NetworkInfo[]; region: string | null }> {
  const network = d.network
  if (network === undefined) return { infos: [], region: null }
  const infos: NetworkInfo[] = []
  let region = a.region
  let pinned: string | null = null
  try {
    for (const uuid of a.uuids) {
      const got = await network.allocateForServer({ projectId: a.projectId, isAdmin: a.isAdmin, instanceUuid: uuid, request: a.request, securityGroups: a.securityGroups, region, preferRegions: a.preferRegions })
      infos.push(got.networkInfo)
      if (got.region !== null) {
        pinned = got.region
        region = got.region
      }
    }
  } catch (err) {
    await releaseNetworks(d, a.uuids)
    throw err
  }
  return { infos, region: pinned }
}

/** Releases the ports of servers that will not be built (idempotent). */
async function releaseNetworks(d: ComputeDeps, uuids: readonly string[]): Promise<void> {
  for (const instanceUuid of uuids) await d.network?.release({ instanceUuid })
}

/**
 * The server group of the `group` scheduler hint, as the caller may see it. A malformed uuid is a
 * schema error and an unknown (or invisible) group a 400, as Nova answers both.
 */
async function groupOfHints(d: ComputeDeps, hints: Readonly<Record<string, unknown>>, caller: { projectId: string; isAdmin: boolean }): Promise<GroupRow | undefined> {
  const raw = hints['group']
  if (raw === undefined) return undefined
  if (!isUuidLike(raw)) {
    throw new InvalidError(`Invalid input for field/attribute group. Value: ${JSON.stringify(raw)}. ${JSON.stringify(raw)} is not a 'uuid'`)
  }
  const g = await findGroup(d.db, raw, caller)
  if (g === undefined) throw new InvalidError(`Instance group ${raw} could not be found.`)
  return g
}

/**
 * 2.74's `host` / `hypervisor_hostname` (admin only, Nova's `compute:servers:create:requested_destination`):
 * the host (here a host and its node share one name) and the cell that owns it, or Nova's 400 when
 * no such compute host exists. Not with the `zone:host` form of `availability_zone`.
 */
async function requestedDestination(d: ComputeDeps, res: Response, s: { host?: string; hypervisor_hostname?: string; availability_zone?: string }): Promise<{ host: string; cellPath: string } | undefined> {
  if (s.host === undefined && s.hypervisor_hostname === undefined) return undefined
  if (!atLeast(microversionOf(res), '2.74')) throw new InvalidError("Invalid input for field/attribute server. Value: Additional properties are not allowed ('host', 'hypervisor_hostname' were unexpected)")
  if (!authOf(res).isAdmin) throw new ForbiddenError("Policy doesn't allow compute:servers:create:requested_destination to be performed.")
  if (s.availability_zone?.includes(':') === true) {
    throw new InvalidError('Both availability_zone with a host and host or hypervisor_hostname are requested; they are mutually exclusive.')
  }
  if (s.host !== undefined && s.hypervisor_hostname !== undefined && s.host !== s.hypervisor_hostname) {
    throw new InvalidError(`Compute host ${s.host} and node ${s.hypervisor_hostname} could not be found.`)
  }
  const host = s.host ?? s.hypervisor_hostname ?? ''
  const m = await d.db.selectFrom('host_mappings').select(['host', 'cell_path']).where('host', '=', host).executeTakeFirst()
  if (m === undefined) throw new InvalidError(s.host !== undefined ? `Compute host ${host} could not be found.` : `Compute host node ${host} could not be found.`)
  return { host: m.host, cellPath: m.cell_path }
}
