import { describe, expect, it } from 'vitest'
import type { ServicedHost } from '../../../../../api-cell/compute/hosts/host-inventory.js'
import { hypervisorView, statisticsView } from '../../../../../api-cell/compute/hypervisors/views.js'

const host = (over: Partial<ServicedHost['host']['service']> = {}): ServicedHost => ({
  hypervisorId: 7,
  serviceId: 19,
  host: {
    cellPath: 'api!region-two',
    nodeId: 3,
    nodeUuid: '11111111-2222-4333-8444-555555555555',
    host: 'r2-c3',
    hypervisorHostname: 'r2-c3',
    hostIp: '10.0.0.3',
    availabilityZone: 'az',
    vcpus: 32,
    vcpusUsed: 4,
    memoryMb: 131072,
    memoryMbUsed: 8192,
    localGb: 2000,
    localGbUsed: 40,
    runningVms: 2,
    hypervisorType: 'QEMU',
    hypervisorVersion: 8002000,
    cpuInfo: '{"arch":"x86_64","model":"core2duo"}',
    reservedHostMemoryMb: 512,
    reservedHostDiskGb: 0,
    service: {
      id: 3,
      uuid: '99999999-2222-4333-8444-555555555555',
      binary: 'nova-compute',
      disabled: false,
      disabledReason: null,
      forcedDown: false,
      up: true,
      updatedAt: 0,
      ...over,
    },
  },
})

const mv = (v: string) => {
  const [major, minor] = v.split('.').map(Number)
  return { major: major as number, minor: minor as number }
}

describe('hypervisorView', () => {
  it.each([
    ['2.1', 7, 19, 'string', true],
    ['2.27', 7, 19, 'string', true],
    ['2.28', 7, 19, 'object', true],
    ['2.53', '11111111-2222-4333-8444-555555555555', '99999999-2222-4333-8444-555555555555', 'object', true],
    ['2.88', '11111111-2222-4333-8444-555555555555', '99999999-2222-4333-8444-555555555555', 'undefined', false],
  ] as const)('at %s: ids, cpu_info and resource fields', (v, id, serviceId, cpuInfoType, resources) => {
    const out = hypervisorView(host(), { mv: mv(v), detail: true })
    expect(out['id']).toBe(id)
    expect((out['service'] as { id: unknown }).id).toBe(serviceId)
    expect(typeof out['cpu_info']).toBe(cpuInfoType)
    expect('vcpus' in out).toBe(resources)
    expect('uptime' in out).toBe(!resources)
  })

  it('counts reserved host memory as used, as Nova does', () => {
    const out = hypervisorView(host(), { mv: mv('2.1'), detail: true })
    expect(out).toMatchObject({ memory_mb_used: 8704, free_ram_mb: 131072 - 8704, free_disk_gb: 1960, running_vms: 2 })
  })

  it.each([
    [{ disabled: true, disabledReason: 'x' }, 'disabled', 'up'],
    [{ up: false }, 'enabled', 'down'],
    [{}, 'enabled', 'up'],
  ] as const)('status and state from the service %j', (svc, status, state) => {
    expect(hypervisorView(host(svc), { mv: mv('2.1'), detail: false })).toEqual({ id: 7, hypervisor_hostname: 'r2-c3', status, state })
  })

  it.each([
    ['2.53', [], true, undefined],
    ['2.75', [], true, []],
    ['2.53', [{ uuid: 'u', name: 'n' }], true, [{ name: 'n', uuid: 'u' }]],
    ['2.1', [{ uuid: 'u', name: 'n' }], false, [{ name: 'n', uuid: 'u' }]],
  ] as const)('at %s lists servers %j (with_servers %s)', (v, servers, withServers, expected) => {
    expect(hypervisorView(host(), { mv: mv(v), detail: false, servers, withServers })['servers']).toEqual(expected)
  })
})

describe('statisticsView', () => {
  it('sums every host and counts them', () => {
    const stats = statisticsView([host(), host()], new Map([['r2-c3', 1]]))
    expect(stats).toMatchObject({ count: 2, vcpus: 64, vcpus_used: 8, running_vms: 4, current_workload: 2, memory_mb_used: 2 * 8704 })
  })
})
