// The README's quick start, checked from outside as a new user would: with `npm start` running
// (started by .ci/quickstart.sh), authenticate with the clouds.yaml it wrote, find the compute
// endpoint of the federation-wide region (what a client given no region name uses), see every
// hypervisor of the federation through it, boot a server to ACTIVE and delete it.
// Usage: node .ci/quickstart-smoke.mjs STATE_DIR   (plain Node 20, no dependency: runs before tests)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const stateDir = process.argv[2]
if (stateDir === undefined) throw new Error('usage: node .ci/quickstart-smoke.mjs STATE_DIR')
const clouds = readFileSync(join(stateDir, 'clouds.yaml'), 'utf8')
/** One `key: value` of the clouds.yaml (a flat look-up is enough for the file we write). */
const field = (key) => {
  const m = new RegExp(`^\\s*${key}: (.+)$`, 'm').exec(clouds)
  if (m === null) throw new Error(`clouds.yaml has no ${key}`)
  return m[1].trim().replace(/^["']|["']$/g, '')
}
const authUrl = field('auth_url')
const region = field('region_name')

async function json(method, url, token, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { 'x-auth-token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
}
function check(ok, what) {
  if (!ok) throw new Error(`quick start: ${what}`)
  console.log(`ok: ${what}`)
}

const auth = await json('POST', `${authUrl}/auth/tokens`, undefined, {
  auth: {
    identity: { methods: ['password'], password: { user: { name: field('username'), password: field('password'), domain: { name: 'Default' } } } },
    scope: { project: { name: field('project_name'), domain: { name: 'Default' } } },
  },
})
check(auth.status === 201, `a token for admin (HTTP ${auth.status})`)
const token = auth.headers.get('x-subject-token')
const endpointOf = (type) =>
  auth.body.token.catalog.find((s) => s.type === type)?.endpoints.find((e) => e.interface === 'public' && e.region === region)?.url
const compute = endpointOf('compute')
check(region === 'federation' && compute !== undefined && compute.endsWith('/v2.1'), `clouds.yaml defaults to the federation-wide region (${region}: ${compute})`)

const hypervisors = await json('GET', `${compute}/os-hypervisors`, token)
check(hypervisors.status === 200 && hypervisors.body.hypervisors.length === 12, `12 hypervisors across the federation (got ${hypervisors.body?.hypervisors?.length})`)

const images = await json('GET', `${endpointOf('image')}/v2/images?name=cirros`, token)
const imageRef = images.body?.images?.[0]?.id
check(imageRef !== undefined, 'the cirros image is there')
const created = await json('POST', `${compute}/servers`, token, { server: { name: 'quickstart', imageRef, flavorRef: '1', networks: 'none' } }, {
  'openstack-api-version': 'compute 2.37',
})
check(created.status === 202, `POST /servers accepted (HTTP ${created.status} ${JSON.stringify(created.body)})`)
const id = created.body.server.id
let server
for (let i = 0; i < 600; i++) {
  server = (await json('GET', `${compute}/servers/${id}`, token)).body?.server
  if (server?.status === 'ACTIVE' || server?.status === 'ERROR') break
  await new Promise((r) => setTimeout(r, 100))
}
check(server?.status === 'ACTIVE', `the server reached ACTIVE on ${server?.['OS-EXT-SRV-ATTR:host']} (status ${server?.status})`)
const deleted = await json('DELETE', `${compute}/servers/${id}`, token)
check(deleted.status === 204, `DELETE answered ${deleted.status}`)
