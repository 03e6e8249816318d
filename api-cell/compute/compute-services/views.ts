import type { ServicedHost } from '../hosts/host-inventory.js'
import { novaTime } from '../hosts/host-inventory.js'
import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'

/**
 * One compute service as `GET /os-services` shows it: the id is an integer before 2.53 and the
 * service uuid from 2.53; `forced_down` from 2.11; `zone` is the host's availability zone.
 */
export function serviceView(h: ServicedHost, mv: Microversion): Record<string, unknown> {
  const s = h.host.service
  const out: Record<string, unknown> = {
    id: atLeast(mv, '2.53') ? s.uuid : h.serviceId,
    binary: s.binary,
    host: h.host.host,
    zone: h.host.availabilityZone,
    status: s.disabled ? 'disabled' : 'enabled',
    state: s.up ? 'up' : 'down',
    updated_at: novaTime(s.updatedAt),
    disabled_reason: s.disabledReason,
  }
  if (atLeast(mv, '2.11')) out['forced_down'] = s.forcedDown
  return out
}
