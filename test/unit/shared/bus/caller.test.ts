import { describe, expect, it } from 'vitest'
import { cellBusUsage } from '../../../../child-cell/bus-usage.js'
import { permissionsFor } from '../../../../shared/bus/amqp-permissions.js'
import { callerOf, principalName, requireCaller } from '../../../../shared/bus/caller.js'

describe('caller identities', () => {
  it.each([
    ['federation.api.r1.dc1/conductor', 'conductor', []],
    ['federation.api.r1.dc1/scheduler', 'scheduler', []],
    ['federation.api.r1.dc1/agent', 'agent', []],
    ['federation.api.r1.dc1/compute/host-1+host-2', 'compute', ['host-1', 'host-2']],
    ['api!r1/compute/h', 'compute', ['h']],
    ['guest', 'operator', []],
    ['conductor', 'operator', []],
    ['x/compute/', 'operator', []],
    ['', 'anonymous', []],
    [undefined, 'anonymous', []],
  ])('%s is a %s', (principal, role, hosts) => {
    expect(callerOf(principal)).toMatchObject({ role, hosts })
  })

  it('names principals so that they parse back', () => {
    expect(callerOf(principalName('v', 'compute', ['a', 'b']))).toMatchObject({ role: 'compute', hosts: ['a', 'b'] })
    expect(callerOf(principalName('v', 'agent'))).toMatchObject({ role: 'agent' })
    expect(() => principalName('v', 'compute', [])).toThrow()
  })

  it('refuses a role not allowed, with a 403', () => {
    expect(() => requireCaller(callerOf('v/compute/h'), 'scheduler', ['conductor'])).toThrow(expect.objectContaining({ code: 'forbidden', status: 403 }))
    expect(() => requireCaller(callerOf(undefined), 'scheduler', ['conductor'])).toThrow(/without identity/)
    expect(() => requireCaller(callerOf('v/conductor'), 'scheduler', ['conductor'])).not.toThrow()
  })
})

describe('broker permissions per role', () => {
  const hosts = ['host-1', 'host-2']
  const matches = (re: string, name: string): boolean => new RegExp(re).test(name)

  it.each([
    // [role, own hosts, resource, permission, name, allowed]
    ['compute', ['host-1'], 'topicWrite', 'conductor', true],
    ['compute', ['host-1'], 'topicWrite', 'scheduler', false],
    ['compute', ['host-1'], 'topicWrite', 'compute.host-2', false],
    ['compute', ['host-1'], 'topicWrite', 'compute.host-1', false],
    ['compute', ['host-1'], 'read', 'compute.host-1', true],
    ['compute', ['host-1'], 'read', 'compute.host-2', false],
    ['compute', ['host-1'], 'read', 'compute.host-1x', false],
    ['compute', ['host-1'], 'read', 'conductor', false],
    ['compute', ['host-1'], 'configure', 'conductor', false],
    ['compute', ['host-1'], 'configure', 'federation', false],
    ['compute', ['host-1'], 'write', 'cell-agent_fanout', false],
    ['conductor', undefined, 'topicWrite', 'compute.host-2', true],
    ['conductor', undefined, 'topicWrite', 'conductor', false],
    ['conductor', undefined, 'write', 'cell-agent_fanout', true],
    ['scheduler', undefined, 'write', 'federation', false],
    ['agent', undefined, 'configure', 'amq.gen-abc', true],
    ['agent', undefined, 'write', 'amq.default', true],
    ['agent', undefined, 'topicWrite', 'conductor', true],
  ] as const)('%s (hosts %s): %s on %s is %s', (role, own, perm, name, allowed) => {
    const p = permissionsFor(cellBusUsage(role, hosts, own ?? hosts))
    expect(matches(p[perm], name)).toBe(allowed)
  })
})
