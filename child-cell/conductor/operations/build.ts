import type { BuildSpec } from '../../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../../shared/context.js'
import { isDuplicateKey } from '../../../shared/db/database.js'
import { releaseResources } from '../../db/claims.js'
import type { RequestSpec } from '../../scheduler/host-state.js'
import type { ConductorDeps } from '../deps.js'
import { recordAction } from './actions-log.js'

/** The scheduler's view of a build. */
export function requestSpecOf(spec: BuildSpec): RequestSpec {
  return {
    instanceUuid: spec.instanceUuid,
    projectId: spec.projectId,
    flavor: spec.flavor,
    image: { id: spec.image.id, properties: spec.image.properties },
    ...(spec.availabilityZone === null ? {} : { availabilityZone: spec.availabilityZone }),
    ignoreHosts: [],
    schedulerHints: spec.schedulerHints,
  }
}

/**
 * Builds one instance in this leaf: the scheduler picks a host and claims on it atomically, then
 * the instance, its `create` action and its first upward event are written in one transaction,
 * then compute is told to spawn. Idempotent per instance uuid (a parent may retry after a lost
 * reply): a second call answers with the host of the first.
 */
export async function buildInstance(d: ConductorDeps, ctx: RequestContext, spec: BuildSpec): Promise<{ host: string }> {
  const existing = await d.db.selectFrom('instances').select('host').where('uuid', '=', spec.instanceUuid).executeTakeFirst()
  if (existing !== undefined) return { host: existing.host ?? '' }
  const sel = await d.scheduler.selectDestination(ctx, requestSpecOf(spec))
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
        image_ref: spec.image.id,
        vm_state: 'building',
        task_state: 'spawning',
        power_state: 0,
        key_name: spec.keyName,
        key_data: spec.keyData,
        metadata: JSON.stringify(spec.metadata),
        user_data: spec.userData,
        description: spec.description,
        reservation_id: spec.reservationId,
        launch_index: spec.launchIndex,
        locked: 0,
        locked_by: null,
        locked_reason: null,
        config_drive: '',
        access_ip_v4: null,
        access_ip_v6: null,
        fault: null,
        launched_at: null,
        terminated_at: null,
        created_at: spec.createdAt,
        updated_at: now,
        deleted: 0,
        deleted_at: null,
      })
      await recordAction(tx, ctx, { uuid: spec.instanceUuid, action: 'create', projectId: spec.projectId, userId: spec.userId, event: 'compute__do_build_and_run_instance', host: sel.host })
      return r
    })
  } catch (err) {
    if (isDuplicateKey(err)) {
      const again = await d.db.selectFrom('instances').select('host').where('uuid', '=', spec.instanceUuid).executeTakeFirstOrThrow()
      return { host: again.host ?? '' }
    }
    await d.db.transaction().execute((tx) => releaseResources(tx, spec.instanceUuid))
    throw err
  }
  d.log.info({ requestId: ctx.requestId, instance: spec.instanceUuid, host: sel.host }, 'instance recorded; spawning on host')
  await d.compute.buildAndRunInstance(ctx, sel.host, d.store.toRecord(row))
  void d.agent.outboxChanged(ctx).catch(() => undefined)
  void d.agent.capacityChanged(ctx).catch(() => undefined)
  return { host: sel.host }
}
