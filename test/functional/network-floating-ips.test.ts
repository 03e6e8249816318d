import { describe, expect, it } from 'vitest'
import { FloatingIpStore } from '../../api-cell/network/floating-ips/floating-ip-store.js'
import { floatingIpRouter } from '../../api-cell/network/floating-ips/router.js'
import type { NetworkQuotaLimits } from '../../api-cell/network/security-groups/network-quotas.js'
import { NEUTRON_DEFAULT_QUOTAS } from '../../api-cell/network/security-groups/network-quotas.js'
import { fixture } from '../helpers/identity-fixture.js'
import { MapDirectory, networkApp } from '../helpers/network-app.js'

const FIP = '/v2.0/floatingips'
const EXT = 'e0000000-0000-4000-8000-000000000001'
const EXT_SUBNET = 'e0000000-0000-4000-8000-0000000000a1'
const PRIVATE = 'b0000000-0000-4000-8000-000000000002'
const PRIVATE_SUBNET = 'b0000000-0000-4000-8000-0000000000b2'
const PORT = 'c0000000-0000-4000-8000-000000000003'
const TWO_IPS = 'c0000000-0000-4000-8000-000000000004'
const BOBS_PORT = 'c0000000-0000-4000-8000-000000000005'

async function setup(limits?: NetworkQuotaLimits) {
  const identity = await fixture()
  const alice = await identity.member('alice')
  const bob = await identity.member('bob')
  const directory = new MapDirectory()
  directory.networks.set(EXT, {
    id: EXT,
    projectId: 'admin-project',
    external: true,
    shared: false,
    subnets: [{ id: EXT_SUBNET, ipVersion: 4, cidr: '198.51.100.0/29', gatewayIp: '198.51.100.1', allocationPools: [{ start: '198.51.100.2', end: '198.51.100.5' }] }],
  })
  directory.networks.set(PRIVATE, {
    id: PRIVATE,
    projectId: alice.projectId,
    external: false,
    shared: false,
    subnets: [{ id: PRIVATE_SUBNET, ipVersion: 4, cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', allocationPools: [] }],
  })
  directory.ports.set(PORT, { id: PORT, projectId: alice.projectId, networkId: PRIVATE, fixedIps: [{ subnetId: PRIVATE_SUBNET, ipAddress: '10.0.0.5' }] })
  directory.ports.set(TWO_IPS, {
    id: TWO_IPS,
    projectId: alice.projectId,
    networkId: PRIVATE,
    fixedIps: [
      { subnetId: PRIVATE_SUBNET, ipAddress: '10.0.0.6' },
      { subnetId: PRIVATE_SUBNET, ipAddress: '10.0.0.7' },
    ],
  })
  directory.ports.set(BOBS_PORT, { id: BOBS_PORT, projectId: bob.projectId, networkId: PRIVATE, fixedIps: [{ subnetId: PRIVATE_SUBNET, ipAddress: '10.0.0.9' }] })
  let store: FloatingIpStore | undefined
  const app = await networkApp(identity, (database, auth) => {
    store = new FloatingIpStore({ db: database.db, directory, ...(limits === undefined ? {} : { limits }) })
    return [floatingIpRouter({ store, auth })]
  })
  if (store === undefined) throw new Error('no store')
  return { app, alice, bob, admin: identity.admin, directory, store }
}

describe('Neutron floating IPs API', () => {
  it('allocates the first free pool address (DOWN), associates (ACTIVE), disassociates and deletes', async () => {
    const { app, alice } = await setup()
    const created = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })
    expect(created.status).toBe(201)
    const f = created.body.floatingip
    expect(f).toMatchObject({ floating_network_id: EXT, floating_ip_address: '198.51.100.2', status: 'DOWN', port_id: null, fixed_ip_address: null, project_id: alice.projectId, router_id: null })
    const assoc = await app.call('PUT', `${FIP}/${f.id}`, alice.token, { floatingip: { port_id: PORT } })
    expect(assoc.status).toBe(200)
    expect(assoc.body.floatingip).toMatchObject({ port_id: PORT, fixed_ip_address: '10.0.0.5', status: 'ACTIVE' })
    const byPort = await app.call('GET', `${FIP}?port_id=${PORT}`, alice.token)
    expect(byPort.body.floatingips.map((x: { id: string }) => x.id)).toEqual([f.id])
    const dis = await app.call('PUT', `${FIP}/${f.id}`, alice.token, { floatingip: { port_id: null } })
    expect(dis.body.floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, status: 'DOWN' })
    expect((await app.call('GET', `${FIP}/${f.id}`, alice.token)).body.floatingip.status).toBe('DOWN')
    expect((await app.call('DELETE', `${FIP}/${f.id}`, alice.token)).status).toBe(204)
    expect((await app.call('GET', `${FIP}/${f.id}`, alice.token)).status).toBe(404)
    // The address is free again (asked for on its subnet).
    const again = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, subnet_id: EXT_SUBNET } })
    expect(again.body.floatingip.floating_ip_address).toBe('198.51.100.2')
  })

  it('associates at creation with port_id and fixed_ip_address; one floating IP per fixed address (409)', async () => {
    const { app, alice } = await setup()
    const one = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, port_id: TWO_IPS, fixed_ip_address: '10.0.0.7' } })
    expect(one.status).toBe(201)
    expect(one.body.floatingip).toMatchObject({ port_id: TWO_IPS, fixed_ip_address: '10.0.0.7', status: 'ACTIVE' })
    const twice = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, port_id: TWO_IPS, fixed_ip_address: '10.0.0.7' } })
    expect(twice.status).toBe(409)
    expect(twice.body.NeutronError.type).toBe('FloatingIPPortAlreadyAssociated')
    const ambiguous = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, port_id: TWO_IPS } })
    expect(ambiguous.status).toBe(400)
    const notOnPort = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, port_id: PORT, fixed_ip_address: '10.0.0.99' } })
    expect(notOnPort.status).toBe(400)
    // Failed creations hold no address: the next one gets the second pool address.
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })).body.floatingip.floating_ip_address).toBe('198.51.100.3')
  })

  it('scopes by project: another project cannot see, update, delete or use its port', async () => {
    const { app, alice, bob, admin } = await setup()
    const f = (await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })).body.floatingip
    expect((await app.call('GET', `${FIP}/${f.id}`, bob.token)).status).toBe(404)
    expect((await app.call('PUT', `${FIP}/${f.id}`, bob.token, { floatingip: { port_id: BOBS_PORT } })).status).toBe(404)
    expect((await app.call('DELETE', `${FIP}/${f.id}`, bob.token)).status).toBe(404)
    expect((await app.call('GET', FIP, bob.token)).body.floatingips).toEqual([])
    const others = await app.call('PUT', `${FIP}/${f.id}`, alice.token, { floatingip: { port_id: BOBS_PORT } })
    expect(others.status).toBe(404)
    expect(others.body.NeutronError.type).toBe('PortNotFound')
    const all = await app.call('GET', `${FIP}?project_id=${alice.projectId}`, admin)
    expect(all.body.floatingips.map((x: { id: string }) => x.id)).toEqual([f.id])
  })

  it('refuses non-external networks (400), unknown networks (404), chosen addresses for members (403), taken ones (409)', async () => {
    const { app, alice, admin } = await setup()
    const internal = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: PRIVATE } })
    expect(internal.status).toBe(400)
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: 'f0000000-0000-4000-8000-000000000000' } })).status).toBe(404)
    expect((await app.call('POST', FIP, alice.token, { floatingip: {} })).status).toBe(400)
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, colour: 'red' } })).status).toBe(400)
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, subnet_id: PRIVATE_SUBNET } })).status).toBe(400)
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, floating_ip_address: '198.51.100.4' } })).status).toBe(403)
    const chosen = await app.call('POST', FIP, admin, { floatingip: { floating_network_id: EXT, floating_ip_address: '198.51.100.4' } })
    expect(chosen.status).toBe(201)
    expect(chosen.body.floatingip.floating_ip_address).toBe('198.51.100.4')
    const taken = await app.call('POST', FIP, admin, { floatingip: { floating_network_id: EXT, floating_ip_address: '198.51.100.4' } })
    expect(taken.status).toBe(409)
    expect(taken.body.NeutronError.type).toBe('IpAddressInUse')
    const gateway = await app.call('POST', FIP, admin, { floatingip: { floating_network_id: EXT, floating_ip_address: '198.51.100.1' } })
    expect(gateway.status).toBe(400)
    expect((await app.call('GET', FIP, alice.token)).body.floatingips).toEqual([])
  })

  it('runs out of addresses with 409 IpAddressGenerationFailure, skipping addresses ports hold', async () => {
    const { app, alice, directory } = await setup()
    directory.ports.set('d0000000-0000-4000-8000-000000000009', { id: 'd0000000-0000-4000-8000-000000000009', projectId: 'router', networkId: EXT, fixedIps: [{ subnetId: EXT_SUBNET, ipAddress: '198.51.100.2' }] })
    const got: string[] = []
    for (let i = 0; i < 3; i++) got.push((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })).body.floatingip.floating_ip_address)
    expect(got).toEqual(['198.51.100.3', '198.51.100.4', '198.51.100.5'])
    const none = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })
    expect(none.status).toBe(409)
    expect(none.body.NeutronError.type).toBe('IpAddressGenerationFailure')
  })

  it('enforces the floatingip quota with 409 OverQuota', async () => {
    const { app, alice } = await setup({ limitOf: (_p, r) => Promise.resolve(r === 'floatingip' ? 1 : NEUTRON_DEFAULT_QUOTAS[r]) })
    expect((await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })).status).toBe(201)
    const over = await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT } })
    expect(over.status).toBe(409)
    expect(over.body.NeutronError).toMatchObject({ type: 'OverQuota', message: "Quota exceeded for resources: ['floatingip']." })
  })

  it('disassociates the floating IPs of a deleted port', async () => {
    const { app, alice, store } = await setup()
    const f = (await app.call('POST', FIP, alice.token, { floatingip: { floating_network_id: EXT, port_id: PORT } })).body.floatingip
    await store.disassociatePort(PORT)
    expect((await app.call('GET', `${FIP}/${f.id}`, alice.token)).body.floatingip).toMatchObject({ port_id: null, status: 'DOWN' })
  })
})
