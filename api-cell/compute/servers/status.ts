/**
 * Nova's status from (vm_state, task_state) (nova/api/openstack/common.py `_STATE_MAP`), and the
 * reverse for the `status` filter.
 */
const STATE_MAP: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  active: {
    default: 'ACTIVE',
    rebooting: 'REBOOT',
    reboot_pending: 'REBOOT',
    reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT',
    reboot_pending_hard: 'HARD_REBOOT',
    reboot_started_hard: 'HARD_REBOOT',
    updating_password: 'PASSWORD',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: { default: 'SHUTOFF', resize_prep: 'RESIZE', rebuilding: 'REBUILD' },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', rebuilding: 'REBUILD' },
  deleted: { default: 'DELETED' },
  soft_deleted: { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
}

/** The API status of an instance. */
export function statusOf(vmState: string, taskState: string | null): string {
  const m = STATE_MAP[vmState]
  if (m === undefined) return 'UNKNOWN'
  return (taskState !== null ? m[taskState] : undefined) ?? m['default'] ?? 'UNKNOWN'
}

/** vm_states (and task states) an API status filter matches; undefined for an unknown status. */
export function filterForStatus(status: string): { vmStates: string[]; taskStates?: string[] } | undefined {
  const s = status.toUpperCase()
  const vmStates: string[] = []
  const taskStates: string[] = []
  for (const [vm, m] of Object.entries(STATE_MAP)) {
    for (const [task, st] of Object.entries(m)) {
      if (st !== s) continue
      if (task === 'default') vmStates.push(vm)
      else taskStates.push(task)
    }
  }
  if (vmStates.length === 0 && taskStates.length === 0) return undefined
  return taskStates.length > 0 && vmStates.length === 0 ? { vmStates: [], taskStates } : { vmStates }
}
