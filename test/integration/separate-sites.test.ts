import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import type { SitesRig } from '../../bench/sites-rig.js'
import { API_PUBLIC, RIG_ADMIN_PASSWORD, startSites } from '../../bench/sites-rig.js'
import type { Federation } from '../helpers/exactly-once.js'
import { burst, checkInvariants, DEPLOY_LEAVES, leafInstances, reportCensus, settle } from '../helpers/exactly-once.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitFor } from '../helpers/os-client.js'

/** How long the region's link stays cut (issue #9: 20 s, mid-burst). */
const CUT_MS = 20_000

/**
 * Issue #9, part 8: a rehearsal of separate sites (bench/sites-rig.ts). The API cell and each
 * region run in their own network namespace, each started on its own by `npm run start:production
 * -- --only ... --setup skip` after one `--setup only`; sites reach each other only over veth links
 * with 50 ms of round trip added, and each reaches MariaDB and RabbitMQ (its "own" servers) over a
 * Unix-socket relay that the cut does not touch. A burst of 20 boots goes out, region-one's link is
 * cut for 20 s in the middle of it, then restored; the exactly-once invariants must hold (the
 * leaves' own databases are the truth): every accepted build ACTIVE or ERROR with a reason, none
 * in two cells, no VM in a leaf that the API shows as ERROR or not at all, the index equal to the
 * leaves. Without `ip netns` (not root, no iproute2) the start fails: this rehearsal never skips.
 */
describe('separate sites: each region in its own network namespace, a link cut mid-burst', () => {
  let rig: SitesRig | undefined
  let admin: Session
  let fed: Federation

  beforeAll(async () => {
    rig = await startSites()
    admin = await login(rig.identityUrl, 'admin', RIG_ADMIN_PASSWORD, 'admin')
    // The catalog names the public address, which only the regions reach: the client goes by its relay.
    expect(endpoint(admin, 'image', 'region-one')).toBe(`http://${API_PUBLIC}:${new URL(rig.imageUrl).port}`)
    const imageRef = (await call(admin, 'GET', `${rig.imageUrl}/v2/images?name=cirros`)).body.images[0].id as string
    const quota = await call(admin, 'PUT', `${rig.computeUrl}/os-quota-sets/${admin.projectId}`, { quota_set: { instances: 500, cores: 1000, ram: 10_000_000 } })
    expect(quota.status).toBe(200)
    fed = { admin, computeUrl: rig.computeUrl, imageRef, prefix: rig.prefix, leaves: DEPLOY_LEAVES }
    process.stdout.write(`separate sites: namespaces ${Object.values(rig.net.ns).join(', ')}; 25 ms each way between sites by ${rig.net.delayBy}\n`)
  }, 420_000)

  afterAll(async () => {
    await rig?.destroy()
  }, 60_000)

  it('region-one cut off for 20 s mid-burst: found down, reads still answer, and after the link is back every build ended once', async () => {
    const r = rig as SitesRig
    // What the sites logged (warnings and up), for whoever reads a failure.
    onTestFailed(() => {
      const file = join(tmpdir(), `separate-sites-${r.prefix}.log`)
      writeFileSync(file, r.output())
      process.stdout.write(`--- sites' output (last 20000 characters; all of it in ${file}) ---\n${r.output().slice(-20_000)}\n`)
    })
    // Half the burst before the cut, half right after it: some builds are on their way to region-one
    // when its link goes, others are placed while it is unreachable and not yet known down.
    const first = burst(fed, 'sites-cut-a', 10)
    await new Promise((res) => setTimeout(res, 300))
    const cutAt = Date.now()
    r.net.setLink('region-one', false)
    const second = burst(fed, 'sites-cut-b', 10)
    const accepted = Promise.all([first, second]).then(([a, b]) => [...a, ...b])
    let detectedMs: number | undefined
    const polls: Array<Promise<void>> = []
    try {
      // While cut off: the region is found down, and listing answers from the index meanwhile. A
      // listing sent before the region is known down may wait on it until its deadline, so a new one
      // goes out every 250 ms without waiting for the last: the first that names it dates detection.
      while (Date.now() - cutAt < CUT_MS) {
        polls.push(
          (async () => {
            const h = await call(admin, 'GET', `${fed.computeUrl}/os-hypervisors`)
            if (detectedMs === undefined && (h.headers.get('x-federation-cells-down') ?? '').includes('api!region-one')) detectedMs = Date.now() - cutAt
          })(),
        )
        await new Promise((res) => setTimeout(res, 250))
      }
      await Promise.all(polls)
      const listed = await call(admin, 'GET', `${fed.computeUrl}/servers/detail`, undefined, { 'openstack-api-version': 'compute 2.69' })
      expect(listed.status).toBe(200)
    } finally {
      r.net.setLink('region-one', true)
    }
    const restoredAt = Date.now()
    expect(detectedMs, 'region-one found down while its link was cut').toBeDefined()
    const ids = await accepted
    expect(ids.length).toBeGreaterThan(0)
    const unsettled = (await Promise.all(ids.map(async (id) => (await call(admin, 'GET', `${fed.computeUrl}/servers/${id}`)).body?.server?.status))).filter((st) => st !== 'ACTIVE' && st !== 'ERROR').length
    await waitFor(
      'region-one back in service',
      async () => ((await call(admin, 'GET', `${fed.computeUrl}/os-hypervisors`)).headers.get('x-federation-cells-down') === null ? true : undefined),
      60_000,
    )
    const backMs = Date.now() - restoredAt
    const servers = await settle(fed, ids)
    const reasons = new Set([...servers.values()].filter((s) => s.status === 'ERROR').map((s) => String(s.fault?.message)))
    if (reasons.size > 0) process.stdout.write(`link-cut: ERROR reasons: ${[...reasons].join(' | ')}\n`)
    const c = await checkInvariants(fed, ids, servers)
    reportCensus('link-cut (separate sites)', c)
    const perLeaf = [...leafInstances(fed)].map(([leaf, uuids]) => `${leaf} ${uuids.filter((u) => ids.includes(u)).length}`)
    process.stdout.write(`link-cut: placed ${perLeaf.join(', ')}; ${unsettled} still building when the link returned; region-one found down ${String(detectedMs)} ms after the cut; back in service ${backMs} ms after it returned\n`)
    // The link came back well within the placement deadline (60 s): no build needed to fail.
    expect(c.error).toBe(0)
  }, 240_000)
})
