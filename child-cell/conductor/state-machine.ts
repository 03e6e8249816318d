import { ConflictError } from '../../shared/errors.js'

/**
 * The instance state machine (after Nova's `check_instance_state`): which actions an instance
 * accepts in which (vm_state, task_state), the task state the action sets while compute works,
 * and the state compute leaves behind. Invalid transitions are refused with 409.
 */

export const VM_STATES = ['building', 'active', 'stopped', 'paused', 'suspended', 'rescued', 'shelved', 'shelved_offloaded', 'error', 'resized', 'deleted'] as const
/** One of {@link VM_STATES}. */
export type VmState = (typeof VM_STATES)[number]

/** Actions that go through compute. */
export const POWER_ACTIONS = ['stop', 'start', 'reboot', 'pause', 'unpause', 'suspend', 'resume', 'rebuild', 'delete'] as const
/** One of {@link POWER_ACTIONS}. */
export type PowerAction = (typeof POWER_ACTIONS)[number]

interface Rule {
  /** vm_states the action is allowed from. */
  readonly from: readonly VmState[]
  /** task_states allowed (null = idle); `any` for delete. */
  readonly taskStates: readonly (string | null)[] | 'any'
  /** The task state set while compute works. */
  readonly taskState: string
}

const RULES: Readonly<Record<PowerAction, Rule>> = {
  stop: { from: ['active', 'error'], taskStates: [null], taskState: 'powering-off' },
  start: { from: ['stopped'], taskStates: [null], taskState: 'powering-on' },
  reboot: { from: ['active', 'stopped', 'paused', 'suspended', 'error'], taskStates: [null, 'rebooting'], taskState: 'rebooting' },
  pause: { from: ['active'], taskStates: [null], taskState: 'pausing' },
  unpause: { from: ['paused'], taskStates: [null], taskState: 'unpausing' },
  suspend: { from: ['active'], taskStates: [null], taskState: 'suspending' },
  resume: { from: ['suspended'], taskStates: [null], taskState: 'resuming' },
  rebuild: { from: ['active', 'stopped', 'error'], taskStates: [null], taskState: 'rebuilding' },
  delete: {
    from: ['building', 'active', 'stopped', 'paused', 'suspended', 'rescued', 'shelved', 'shelved_offloaded', 'error', 'resized'],
    taskStates: 'any',
    taskState: 'deleting',
  },
}

/** Snapshots, backups, shelving and rescue (Nova's `check_instance_state` of each). */
export const LIFECYCLE_ACTIONS = ['snapshot', 'backup', 'shelve', 'shelve_offload', 'unshelve', 'rescue', 'unrescue'] as const
/** One of {@link LIFECYCLE_ACTIONS}. */
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number]

const LIFECYCLE_RULES: Readonly<Record<LifecycleAction, Rule>> = {
  snapshot: { from: ['active', 'stopped', 'paused', 'suspended'], taskStates: [null], taskState: 'image_snapshot' },
  backup: { from: ['active', 'stopped', 'paused', 'suspended'], taskStates: [null], taskState: 'image_backup' },
  shelve: { from: ['active', 'stopped', 'paused', 'suspended'], taskStates: [null], taskState: 'shelving' },
  shelve_offload: { from: ['shelved'], taskStates: [null], taskState: 'shelving_offloading' },
  unshelve: { from: ['shelved', 'shelved_offloaded'], taskStates: [null], taskState: 'unshelving' },
  rescue: { from: ['active', 'stopped', 'error'], taskStates: [null], taskState: 'rescuing' },
  unrescue: { from: ['rescued'], taskStates: [null], taskState: 'unrescuing' },
}

/** Whether `action` is one of {@link LIFECYCLE_ACTIONS}. */
export const isLifecycleAction = (action: string): action is LifecycleAction => (LIFECYCLE_ACTIONS as readonly string[]).includes(action)

/** The task state to set for a lifecycle `action`, or a 409 when the instance cannot take it now. */
export function beginLifecycle(action: LifecycleAction, current: { readonly vmState: string; readonly taskState: string | null }): string {
  const rule = LIFECYCLE_RULES[action]
  if (!rule.from.includes(current.vmState as VmState)) throw conflict(action, current)
  if (rule.taskStates !== 'any' && !rule.taskStates.includes(current.taskState)) throw conflict(action, current)
  return rule.taskState
}

/** The task state to set for `action`, or a 409 when the instance cannot take it now. */
export function beginAction(
  action: PowerAction,
  current: { readonly vmState: string; readonly taskState: string | null },
  opts: { readonly hard?: boolean } = {},
): string {
  const rule = RULES[action]
  if (action === 'reboot' && opts.hard !== true && current.vmState !== 'active') {
    throw conflict(action, current)
  }
  if (!rule.from.includes(current.vmState as VmState)) throw conflict(action, current)
  if (rule.taskStates !== 'any' && !rule.taskStates.includes(current.taskState)) throw conflict(action, current)
  if (action === 'reboot') return opts.hard === true ? 'rebooting_hard' : 'rebooting'
  return rule.taskState
}

/** Where an instance ends after compute finished `action` successfully. */
export function endState(action: Exclude<PowerAction, 'delete' | 'rebuild'>): { vmState: VmState; powerState: number } {
  switch (action) {
    case 'stop':
      return { vmState: 'stopped', powerState: 4 }
    case 'start':
    case 'reboot':
    case 'unpause':
    case 'resume':
      return { vmState: 'active', powerState: 1 }
    case 'pause':
      return { vmState: 'paused', powerState: 3 }
    case 'suspend':
      return { vmState: 'suspended', powerState: 7 }
  }
}

function conflict(action: string, s: { vmState: string; taskState: string | null }): ConflictError {
  const what = s.taskState === null ? `vm_state ${s.vmState}` : `vm_state ${s.vmState} and task_state ${s.taskState}`
  return new ConflictError(`Cannot '${action}' instance while it is in ${what}`, { action, ...s })
}
