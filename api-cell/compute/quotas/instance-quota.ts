import { OverQuotaError } from '../../../shared/errors.js'

/** The instance resources a boot consumes. */
export const INSTANCE_RESOURCES = ['cores', 'instances', 'ram'] as const
/** One of {@link INSTANCE_RESOURCES}. */
export type InstanceResource = (typeof INSTANCE_RESOURCES)[number]

/** One bound on a resource: its limit (-1 = unlimited) and what is already used against it. */
export interface QuotaBound {
  readonly limit: number
  readonly used: number
}

/** What {@link allowedInstances} weighs. */
export interface InstanceQuotaRequest {
  /** Every bound per resource (the project's, and the user's when the user has an override). */
  readonly bounds: Readonly<Record<InstanceResource, readonly QuotaBound[]>>
  readonly vcpus: number
  readonly memoryMb: number
  readonly minCount: number
  readonly maxCount: number
}

/** The tightest bound of a resource (least headroom), or undefined when all are unlimited. */
function binding(bounds: readonly QuotaBound[]): (QuotaBound & { headroom: number }) | undefined {
  let best: (QuotaBound & { headroom: number }) | undefined
  for (const b of bounds) {
    if (b.limit < 0) continue
    const headroom = Math.max(0, b.limit - b.used)
    if (best === undefined || headroom < best.headroom) best = { ...b, headroom }
  }
  return best
}

/**
 * How many instances of a multi-create fit, as Nova's `check_num_instances_quota` decides:
 * `max_count` when it fits; else as many as fit when that is at least `min_count`; else
 * {@link OverQuotaError} (HTTP 403) with Nova's `TooManyInstances` message, e.g.
 * `Quota exceeded for instances: Requested 1, but already used 10 of 10 instances`. Pure: the
 * caller counts usage under the quota lock and inserts in the same transaction.
 */
export function allowedInstances(r: InstanceQuotaRequest): number {
  const perInstance: Record<InstanceResource, number> = { cores: r.vcpus, instances: 1, ram: r.memoryMb }
  let allowed = Number.POSITIVE_INFINITY
  const overs: Array<{ resource: InstanceResource; bound: QuotaBound & { headroom: number } }> = []
  for (const resource of INSTANCE_RESOURCES) {
    const b = binding(r.bounds[resource])
    const need = perInstance[resource]
    if (b === undefined || need <= 0) continue
    allowed = Math.min(allowed, Math.floor(b.headroom / need))
    if (need * r.maxCount > b.headroom) overs.push({ resource, bound: b })
  }
  if (allowed >= r.maxCount) return r.maxCount
  if (allowed >= r.minCount) return allowed
  const requested: Record<InstanceResource, string> = {
    instances: r.minCount === r.maxCount ? String(r.minCount) : `${r.minCount}-${r.maxCount}`,
    cores: String(r.vcpus * r.maxCount),
    ram: String(r.memoryMb * r.maxCount),
  }
  const list = (f: (o: (typeof overs)[number]) => string): string => overs.map(f).join(', ')
  const names = list((o) => o.resource)
  throw new OverQuotaError(
    `Quota exceeded for ${names}: Requested ${list((o) => requested[o.resource])}, but already used ${list((o) => String(o.bound.used))} of ${list((o) => String(o.bound.limit))} ${names}`,
    { overs: overs.map((o) => o.resource) },
  )
}
