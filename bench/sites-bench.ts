import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { adminToken, SITES_LAYOUT, startSites } from './sites-rig.js'

type Figures = Record<string, number | string>

const ROUNDS = 3
const BOOTS_PER_REGION = 5

/**
 * A production federation over separate sites (bench/sites-rig.ts: a network namespace per site,
 * 50 ms of round trip between sites, default report interval 1 s and down threshold 4 s):
 * - `boot.<region>.*`: one boot at a time through the region's endpoint, from POST to ACTIVE, and
 *   the POST alone (what a client waits for);
 * - `cut.toDown.*`: from region-one's link going down (`ip link set down`) to the first answer
 *   listing it in `X-Federation-Cells-Down` (asked every 100 ms); `cut.toUp.*`: from the link back
 *   to the first answer without it.
 * Milliseconds. Needs root and iproute2, like the separate-sites test.
 */
export async function benchSites(): Promise<Figures> {
  const rig = await startSites()
  try {
    const { token, projectId: project } = await adminToken(rig.identityUrl)
    const headers = { 'x-auth-token': token, 'content-type': 'application/json' }
    const json = async (url: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> => {
      const res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(30_000) })
      const text = await res.text()
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers }
    }
    const imageRef = (await json(`${rig.imageUrl}/v2/images?name=cirros`)).body.images[0].id as string
    await json(`${rig.computeUrl}/os-quota-sets/${project}`, { method: 'PUT', body: JSON.stringify({ quota_set: { instances: -1, cores: -1, ram: -1 } }) })
    const figures: Figures = { 'sites.delayBy': rig.net.delayBy, 'sites.addedRoundTripMs': SITES_LAYOUT.oneWayDelayMs * 2 }
    const base = rig.computeUrl.replace(/\/v2\.1$/, '')
    for (const region of SITES_LAYOUT.spokes) {
      const post: number[] = []
      const active: number[] = []
      for (let i = 0; i < BOOTS_PER_REGION; i++) {
        const t0 = performance.now()
        const r = await json(`${base}/regions/${region}/v2.1/servers`, { method: 'POST', body: JSON.stringify({ server: { name: `bench-${region}-${i}`, imageRef, flavorRef: '1' } }) })
        post.push(performance.now() - t0)
        if (r.status !== 202) throw new Error(`boot in ${region}: ${r.status} ${JSON.stringify(r.body)}`)
        const id = r.body.server.id as string
        await until(60_000, async () => {
          const s = (await json(`${rig.computeUrl}/servers/${id}`)).body?.server
          if (s?.status === 'ERROR') throw new Error(`boot in ${region} failed: ${JSON.stringify(s.fault)}`)
          return s?.status === 'ACTIVE'
        })
        active.push(performance.now() - t0)
      }
      Object.assign(figures, stats(`boot.${region}.post`, post), stats(`boot.${region}.toActive`, active))
    }
    const down = async (): Promise<boolean> => ((await json(`${rig.computeUrl}/os-hypervisors`)).headers.get('x-federation-cells-down') ?? '').includes('api!region-one')
    const toDown: number[] = []
    const toUp: number[] = []
    for (let i = 0; i < ROUNDS; i++) {
      rig.net.setLink('region-one', false)
      let t0 = performance.now()
      try {
        toDown.push((await firstAnswer(t0, down)) - t0)
      } finally {
        rig.net.setLink('region-one', true)
      }
      t0 = performance.now()
      toUp.push((await firstAnswer(t0, async () => !(await down()))) - t0)
    }
    return { ...figures, 'cut.downAfterMs': 4000, ...stats('cut.toDown', toDown), ...stats('cut.toUp', toUp) }
  } finally {
    await rig.destroy()
  }
}

/**
 * When `cond` first answered true, asking anew every 100 ms without waiting for earlier answers: a
 * listing sent before the API knows the region is down may wait on the region until its deadline,
 * and must not hold back the ones sent after.
 */
async function firstAnswer(t0: number, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false
    const tick = setInterval(() => {
      if (performance.now() - t0 > timeoutMs) {
        clearInterval(tick)
        reject(new Error('benchmark condition not reached in time'))
        return
      }
      cond().then(
        (yes) => {
          if (!yes || done) return
          done = true
          clearInterval(tick)
          resolve(performance.now())
        },
        () => undefined,
      )
    }, 100)
  })
}

async function until(timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('benchmark condition not reached in time')
    await sleep(50)
  }
}

function stats(name: string, samples: readonly number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10
  return { [`${name}.p50Ms`]: at(0.5), [`${name}.maxMs`]: at(1), [`${name}.n`]: sorted.length }
}
