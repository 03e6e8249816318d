import { describe, expect, it } from 'vitest'
import { AggregateInstanceExtraSpecsFilter } from '../../../../../child-cell/scheduler/filters/aggregate-instance-extra-specs-filter.js'
import { AggregateMultiTenancyIsolation } from '../../../../../child-cell/scheduler/filters/aggregate-multi-tenancy-isolation.js'
import { host, keeps, spec } from '../fixtures.js'

const hosts = ['h1', 'h2', 'h3'].map((name) => host({ host: name }))
const aggregates: Array<{ hosts: string[]; metadata: Record<string, string> }> = [
  { hosts: ['h1'], metadata: { ssd: 'true', gpus: '4' } },
  { hosts: ['h2'], metadata: { ssd: 'false', filter_tenant_id: 'p-a,p-b' } },
  { hosts: ['h1', 'h2'], metadata: { filter_tenant_id_2: 'p-c' } },
]

describe('AggregateInstanceExtraSpecsFilter', () => {
  const filter = AggregateInstanceExtraSpecsFilter.fromOptions({})
  const flavorWith = (extraSpecs: Record<string, string>) => spec({ aggregates, flavor: { ...spec().flavor, extraSpecs } })

  it.each<{ case: string; specs: Record<string, string>; want: boolean[] }>([
    { case: 'no extra specs: every host', specs: {}, want: [true, true, true] },
    { case: 'scoped key matched by one aggregate', specs: { 'aggregate_instance_extra_specs:ssd': 'true' }, want: [true, false, false] },
    { case: 'unscoped key is checked too (as Nova)', specs: { ssd: 'false' }, want: [false, true, false] },
    { case: 'operators apply', specs: { 'aggregate_instance_extra_specs:gpus': '>= 2' }, want: [true, false, false] },
    { case: 'other namespaces are ignored', specs: { 'hw:cpu_policy': 'dedicated' }, want: [true, true, true] },
    { case: 'a host in no aggregate with the key fails', specs: { 'aggregate_instance_extra_specs:gpus': '4' }, want: [true, false, false] },
  ])('$case', ({ specs, want }) => {
    expect(keeps(filter, hosts, flavorWith(specs))).toEqual(want)
  })
})

describe('AggregateMultiTenancyIsolation', () => {
  const filter = AggregateMultiTenancyIsolation.fromOptions({})

  it.each([
    { case: 'a listed project reaches its isolated hosts and the free one', project: 'p-a', want: [false, true, true] },
    { case: 'a project of a suffixed key', project: 'p-c', want: [true, true, true] },
    { case: 'another project only the free host', project: 'p-z', want: [false, false, true] },
  ])('$case', ({ project, want }) => {
    expect(keeps(filter, hosts, spec({ aggregates, projectId: project }))).toEqual(want)
  })

  it('keeps every host without aggregates', () => {
    expect(keeps(filter, hosts, spec({ projectId: 'p-z' }))).toEqual([true, true, true])
  })
})
