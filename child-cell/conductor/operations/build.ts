import type { BuildSpec } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { releaseResources } from '../../db/claims.js'
import type { RequestSpec } from '../../scheduler/host-state.js'
import type { ConductorDeps } from '../deps.js'
import { recordAction } from './actions-log.js'
import { isHandedBack, networkInfoColumn, rememberBuild, spawnRecordOf } from './build-specs.js'
import { NoValidHostError } from '../../../shared/errors.js'

/**
 * The scheduler's view of a build: the server group's members become the hosts the group filters
 * and weighers look at (one entry per member), `ignoreHosts` the hosts already tried in this cell
 * (RetryFilter), `hintHosts` the hosts of the instances named by same_host / different_host.
 */
export function requestSpecOf(
  spec: BuildSpec,
  opts: { readonly ignoreHosts?: readonly string[]; readonly hintHosts?: RequestSpec['hintHosts'] } = {},
): RequestSpec {
  const g = spec.group
  return {
    instanceUuid: spec.instanceUuid,
    projectId: spec.projectId,
    flavor: spec.flavor,
    image: { id: spec.image.id, properties: spec.image.properties },
    ...(spec.availabilityZone === null ? {} : { availabilityZone: spec.availabilityZone }),
    ignoreHosts: opts.ignoreHosts ?? [],
    schedulerHints: spec.schedulerHints,
    ...(g === undefined
      ? {}
      : {
          group: {
            uuid: g.uuid,
            policy: g.policy,
            hosts: g.members.map((m) => m.host),
            ...(g.maxServerPerHost === undefined ? {} : { maxServerPerHost: g.maxServerPerHost }),
          },
        }),
    ...(opts.hintHosts === undefined ? {} : { hintHosts: opts.hintHosts }),
    ...(spec.aggregates === undefined ? {} : { aggregates: spec.aggregates }),
  }
}

/**
 * Resolves the same_host / different_host hints (instance uuids) to the hosts those instances run
 * on in this cell. An instance in another cell runs on none of this cell's hosts: for same_host
 * that leaves no host here (NACK, and the parent tries the cell that has it), for different_host
 * it excludes nothing here.
 */
export async function hintHostsOf(d: Pick<ConductorDeps, 'db'>, hints: Readonly<Record<string, unknown>>): Promise<RequestSpec['hintHosts']> {
  const uuids = (v: unknown): string[] | undefined =>
    v === undefined ? undefined : (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '')
  const same = uuids(hints['same_host'])
  const different = uuids(hints['different_host'])
  if (same === undefined && different === undefined) return undefined
  const hostsOf = async (list: string[]): Promise<string[]> => {
    if (list.length === 0) return []
    const rows = await d.db.selectFrom('instances').select('host').where('uuid', 'in', list).where('deleted', '=', 0).execute()
    return rows.map((r) => r.host).filter((h): h is string => h !== null)
  }
  return {
    ...(same === undefined ? {} : { sameHost: await hostsOf(same) }),
    ...(different === undefined ? {} : { differentHost: await hostsOf(different) }),
  }
}

/**
 * Builds one instance in this leaf: the scheduler picks a host and claims on it atomically, then
 * the instance, its `create` action and its first upward event are written in one transaction,
 * then compute is told to spawn. Idempotent per instance uuid (a parent may retry after a lost
 * reply): a second call answers with the host of the first, or refuses when this cell has handed
 * the build back up the tree meanwhile.
 */
export async function buildInstance(d: ConductorDeps, ctx: RequestContext, spec: BuildSpec): Promise<{ host: string }> {
  const existing = await d.db.selectFrom('instances').selectAll().where('uuid', '=', spec.instanceUuid).executeTakeFirst()
  if (existing !== undefined) {
    // Handed back up the tree (every host here failed it): a definite refusal, never "placed" with
    // no host, which would map the instance to a cell that holds nothing of it.
    if (isHandedBack(existing)) throw new NoValidHostError(`${d.cellPath} could not spawn instance ${spec.instanceUuid} and handed it back up the tree`)
    // Asked again (a lost answer, an AMQP redelivery): the same host. If the cast to compute may
    // have been lost with it (still spawning), cast again: compute's spawn is idempotent.
    if (existing.host !== null && existing.deleted === 0 && existing.vm_state === 'building' && existing.task_state === 'spawning') {
      await d.compute.buildAndRunInstance(ctx, existing.host, spawnRecordOf(d.store.toRecord(existing), spec))
    }
    return { host: existing.host ?? '' }
  }
  const hinted = await hintHostsOf(d, spec.schedulerHints)
  // 2.74: a requested host narrows the same_host set (an empty intersection leaves no host: NACK).
  const hintHosts =
    spec.requestedHost === undefined
      ? hinted
      : { ...hinted, sameHost: hinted?.sameHost === undefined ? [spec.requestedHost] : hinted.sameHost.filter((h) => h === spec.requestedHost) }
  const sel = await d.scheduler.selectDestination(ctx, requestSpecOf(spec, hintHosts === undefined ? {} : { hintHosts }))
  const now = Date.now()
  let row
  try {
    row = await d.db.transaction().execute(async (tx) => {
      const r = await d.store.insert(tx, {
        uuid: spec.instanceUuid,
        name: spec.name,
        hostname: spec.hostname,
        project_id: spec.projectId,
        user_id: spec.userId,
        host: sel.host,
        node: sel.nodeName,
        availability_zone: sel.availabilityZone,
        flavor: JSON.stringify(spec.flavor),
        flavor_id: spec.flavor.id,
        // An unshelve into this cell keeps the instance's own image; the guest comes from `image`.
        image_ref: spec.unshelveImageRef ?? spec.image.id,
        vm_state: 'building',
        task_state: 'spawning',
        power_state: 0,
        key_name: spec.keyName,
        key_data: spec.keyData,
        metadata: JSON.stringify(spec.metadata),
        tags: JSON.stringify(spec.tags ?? []),
        user_data: spec.userData,
        description: spec.description,
        reservation_id: spec.reservationId,
        launch_index: spec.launchIndex,
        locked: 0,
        locked_by: null,
        locked_reason: null,
        // Nova's column: 'True' or the empty string.
        config_drive: spec.configDrive === true ? 'True' : '',
        access_ip_v4: spec.accessIpV4 ?? null,
        access_ip_v6: spec.accessIpV6 ?? null,
        fault: null,
        launched_at: null,
        terminated_at: null,
        created_at: spec.createdAt,
        updated_at: now,
        deleted: 0,
        deleted_at: null,
        shelved_image_id: null,
        network_info: networkInfoColumn(spec.networkInfo),
      }, spec.retry?.versionBase ?? 0)
      await rememberBuild(tx, spec)
      const unshelve = spec.unshelveImageRef !== undefined
      await recordAction(tx, ctx, {
        uuid: spec.instanceUuid,
        action: unshelve ? 'unshelve' : 'create',
        projectId: spec.projectId,
        userId: spec.userId,
        event: unshelve ? 'compute_unshelve_instance' : 'compute__do_build_and_run_instance',
        host: sel.host,
      })
      return r
    })
  } catch (err) {
    if (isDuplicateKey(err)) {
      // A concurrent attempt of the same build recorded it first (the scheduler gave both the
      // one allocation the instance holds, so nothing is claimed twice).
      const again = await d.db.selectFrom('instances').select('host').where('uuid', '=', spec.instanceUuid).executeTakeFirstOrThrow()
      return { host: again.host ?? '' }
    }
    await d.db.transaction().execute((tx) => releaseResources(tx, spec.instanceUuid))
    throw err
  }
  d.log.info({ requestId: ctx.requestId, instance: spec.instanceUuid, host: sel.host }, 'instance recorded; spawning on host')
  await d.compute.buildAndRunInstance(ctx, sel.host, spawnRecordOf(d.store.toRecord(row), spec))
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return { host: sel.host }
}

