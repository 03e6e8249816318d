import type { Request } from 'express'
import { describe, expect, it } from 'vitest'
import { listBody } from '../../../../api-cell/network/list-query.js'
import { NeutronError } from '../../../../api-cell/network/faults.js'

const items = [
  { id: 'a', name: 'x', admin_state_up: true, fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.3' }], device_id: 'd1' },
  { id: 'b', name: 'y', admin_state_up: false, fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.4' }], device_id: 'd2' },
  { id: 'c', name: 'x', admin_state_up: true, fixed_ips: [], device_id: 'd1' },
  { id: 'd', name: 'z', admin_state_up: true, fixed_ips: [{ subnet_id: 's2', ip_address: '10.0.1.5' }], device_id: '' },
]
const req = (query: Record<string, string | string[]>): Request => ({ query }) as unknown as Request
const ids = (body: Record<string, unknown>): string[] => (body['ports'] as { id: string }[]).map((p) => p.id)

describe('Neutron list semantics', () => {
  it.each([
    [{ name: 'x' }, ['a', 'c']],
    [{ name: ['x', 'z'] }, ['a', 'c', 'd']],
    [{ admin_state_up: 'False' }, ['b']],
    [{ fixed_ips: 'ip_address=10.0.0.4' }, ['b']],
    [{ fixed_ips: 'subnet_id=s1' }, ['a', 'b']],
    [{ device_id: 'd1', name: 'x' }, ['a', 'c']],
    [{ unknown_attr: 'q' }, ['a', 'b', 'c', 'd']],
    [{ sort_key: 'name', sort_dir: 'desc' }, ['d', 'b', 'a', 'c']],
  ])('filters and sorts %j', (query, expected) => {
    expect(ids(listBody(req(query), 'ports', items, 'http://h/v2.0/ports'))).toEqual(expected)
  })

  it('pages with limit and marker, and links the next page', () => {
    const first = listBody(req({ limit: '2' }), 'ports', items, 'http://h/v2.0/ports')
    expect(ids(first)).toEqual(['a', 'b'])
    const next = (first['ports_links'] as { rel: string; href: string }[]).find((l) => l.rel === 'next')!
    expect(next.href).toBe('http://h/v2.0/ports?limit=2&marker=b')
    const second = listBody(req({ limit: '2', marker: 'b' }), 'ports', items, 'http://h/v2.0/ports')
    expect(ids(second)).toEqual(['c', 'd'])
    expect((second['ports_links'] as { rel: string }[]).map((l) => l.rel)).toEqual(['previous'])
    expect(ids(listBody(req({ limit: '2', marker: 'c', page_reverse: 'True' }), 'ports', items, 'http://h/v2.0/ports'))).toEqual(['a', 'b'])
  })

  it('selects fields', () => {
    expect(listBody(req({ fields: ['id', 'name'], name: 'y' }), 'ports', items, 'u')['ports']).toEqual([{ id: 'b', name: 'y' }])
  })

  it.each([[{ marker: 'nope' }, 404], [{ limit: '-1' }, 400], [{ sort_dir: 'up' }, 400], [{ sort_key: 'nope' }, 400]])('refuses %j', (query, status) => {
    let err: unknown
    try {
      listBody(req(query), 'ports', items, 'u')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(NeutronError)
    expect((err as NeutronError).status).toBe(status)
  })
})
