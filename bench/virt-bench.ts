import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { writeTestHostXml } from '../child-cell/compute/virt/host-xml.js'
import { loadLibvirt } from '../child-cell/compute/virt/libvirt-binding.js'
import { LibvirtDriver } from '../child-cell/compute/virt/libvirt-driver.js'

/** Guests per measurement: enough for stable percentiles, few enough to finish in seconds. */
const GUESTS = 500
const CONCURRENCY = 8

/**
 * libvirt test driver costs, each on a fresh simulated host:
 * - `libvirt.defineCreate.*`: the binding's domainDefineXML + domainCreate, the floor DESIGN.md
 *   quotes (0.36 ms on a 2-core machine);
 * - `libvirt.spawn.*` / `libvirt.destroy.*`: the same through LibvirtDriver (lookup, lock, XML);
 * - `libvirt.spawnConcurrent.perSec`: spawns per second with {@link CONCURRENCY} in flight.
 * Latencies in milliseconds.
 */
export async function benchVirt(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'virt-bench-'))
  try {
    const host = (n: number) => writeTestHostXml({ path: join(dir, `host-${n}.xml`), vcpus: 64, memoryMb: 1024 * 1024 })
    const raw = await benchRawDefineCreate(await host(1))
    const driver = await benchDriver(await host(2), dir)
    const concurrent = await benchConcurrentSpawn(await host(3), dir)
    return { guests: GUESTS, ...raw, ...driver, 'libvirt.spawnConcurrent.perSec': concurrent }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function benchRawDefineCreate(uri: string): Promise<Record<string, number>> {
  const { Hypervisor } = await loadLibvirt()
  const hv = new Hypervisor({ uri })
  await hv.connectOpen()
  try {
    const samples: number[] = []
    for (let i = 0; i < GUESTS; i++) {
      const uuid = randomUUID()
      const xml =
        `<domain type='test'><name>bench-${uuid}</name><uuid>${uuid}</uuid>` +
        `<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`
      const start = performance.now()
      const domain = await hv.domainDefineXML(xml)
      await hv.domainCreate(domain)
      samples.push(performance.now() - start)
    }
    return percentiles('libvirt.defineCreate', samples)
  } finally {
    await hv.connectClose()
  }
}

async function benchDriver(uri: string, dir: string): Promise<Record<string, number>> {
  const driver = new LibvirtDriver({ uri, saveDir: join(dir, 'save-driver') })
  await driver.init()
  try {
    const uuids = Array.from({ length: GUESTS }, () => randomUUID())
    const spawn: number[] = []
    for (const uuid of uuids) {
      const start = performance.now()
      await driver.spawn({ uuid, name: 'bench', memoryMb: 512, vcpus: 1, rootGb: 1 })
      spawn.push(performance.now() - start)
    }
    const destroy: number[] = []
    for (const uuid of uuids) {
      const start = performance.now()
      await driver.destroy(uuid)
      destroy.push(performance.now() - start)
    }
    return { ...percentiles('libvirt.spawn', spawn), ...percentiles('libvirt.destroy', destroy) }
  } finally {
    await driver.close()
  }
}

async function benchConcurrentSpawn(uri: string, dir: string): Promise<number> {
  const driver = new LibvirtDriver({ uri, saveDir: join(dir, 'save-concurrent') })
  await driver.init()
  try {
    let next = 0
    const start = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < GUESTS) await driver.spawn({ uuid: randomUUID(), name: 'bench', memoryMb: 512, vcpus: 1, rootGb: 1 })
      }),
    )
    return round((GUESTS / (performance.now() - start)) * 1000)
  } finally {
    await driver.close()
  }
}

function percentiles(prefix: string, samples: readonly number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return {
    [`${prefix}.p50Ms`]: round(at(0.5)),
    [`${prefix}.p95Ms`]: round(at(0.95)),
    [`${prefix}.p99Ms`]: round(at(0.99)),
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
