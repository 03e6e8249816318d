import type { Request } from 'express'
import { InvalidError } from '../../../shared/errors.js'
import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'

/** The query parameters Nova's `GET /servers[/detail]` schema names (`index_query`, up to 2.75). */
const KNOWN = new Set([
  'user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id', 'ramdisk_id', 'hostname', 'key_name',
  'power_state', 'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id', 'launched_at', 'terminated_at',
  'availability_zone', 'name', 'display_name', 'description', 'display_description', 'locked_by', 'uuid', 'root_device_name',
  'config_drive', 'access_ip_v4', 'access_ip_v6', 'auto_disk_config', 'progress', 'sort_key', 'sort_dir', 'all_tenants',
  'soft_deleted', 'deleted', 'status', 'changes-since', 'ip', 'ip6', 'created_at', 'block_device_mapping', 'services',
  'metadata', 'system_metadata', 'info_cache', 'security_groups', 'pci_devices', 'limit', 'marker',
  // 2.26, 2.66, 2.73
  'tags', 'tags-any', 'not-tags', 'not-tags-any', 'changes-before', 'locked',
])

/**
 * From 2.75 Nova's list schema refuses unknown query parameters (`additionalProperties: false`);
 * names starting with `_` stay admitted by the schema (and are ignored here). Below 2.75 unknown
 * ones are ignored.
 */
export function checkListParams(q: Request['query'], mv: Microversion): void {
  if (!atLeast(mv, '2.75')) return
  for (const k of Object.keys(q)) {
    if (!KNOWN.has(k) && !k.startsWith('_')) {
      throw new InvalidError(`Invalid input for query parameters ${k.slice(0, 64)}. Value: Additional properties are not allowed ('${k.slice(0, 64)}' was unexpected)`)
    }
  }
}
