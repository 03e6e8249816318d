/**
 * Embedded federations over generated region files, for the listing and propagation benches:
 * the same start-up as `npm start` (bin/embedded.ts), pointed at a temp `--regions-dir` written
 * here, so that a bench can build trees of any width or depth without touching deploy/regions.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import type { Federation } from '../bin/embedded.js'
import { startEmbeddedFederation } from '../bin/embedded.js'
import type { FederationConfig } from '../shared/config/federation.js'
import { federationConfig } from '../shared/config/federation.js'
import { createLogger } from '../shared/logging.js'

/** One region file's document (deploy/regions' format). */
export type RegionDoc = Record<string, unknown>

/** A running bench federation and how to tear it down. */
export interface BenchTree {
  readonly fed: Federation
  readonly cfg: FederationConfig
  readonly password: string
  close(): Promise<void>
}

/** A compute host large enough that no bench runs out of room on it. */
export function bigHost(name: string): Record<string, unknown> {
  return { name, vcpus: 1024, memory_mb: 4_194_304, disk_gb: 100_000 }
}

/**
 * `leaves` leaf cells with one host each, grouped under regions of at most 10 leaves
 * (`bench-r0` over `l0`..`l9`, ...): API -> region -> leaf, as a wide federation is laid out.
 */
export function wideTree(leaves: number): RegionDoc[] {
  const out: RegionDoc[] = []
  for (let r = 0; r * 10 < leaves; r += 1) {
    const children = []
    for (let l = r * 10; l < Math.min(leaves, r * 10 + 10); l += 1) children.push({ name: `l${l}`, availability_zone: `l${l}`, hosts: [bigHost(`b-l${l}-c1`)] })
    out.push({ name: `bench-r${r}`, availability_zone: `bench-r${r}-az`, children })
  }
  return out
}

/**
 * Writes `regions` into a temp regions dir and starts an embedded federation on them (fake
 * driver, ports 0, logs silent unless LOG_LEVEL says otherwise). `env` is set around the start
 * (timing settings such as FEDERATION_REPORT_INTERVAL_MS are read then).
 */
export async function startBenchTree(prefix: string, regions: readonly RegionDoc[], env: Record<string, string> = {}): Promise<BenchTree> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${prefix}-`))
  const regionsDir = join(dir, 'regions')
  mkdirSync(regionsDir)
  for (const r of regions) writeFileSync(join(regionsDir, `${String(r['name'])}.yaml`), stringify(r))
  const password = 'bench-pw'
  process.env['ADMIN_PASSWORD'] = password
  process.env['LOG_LEVEL'] ??= 'silent'
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  let cfg: FederationConfig
  try {
    cfg = federationConfig('embedded', {
      'state-dir': join(dir, 'state'),
      'regions-dir': regionsDir,
      driver: 'fake',
      'identity-port': '0',
      'compute-port': '0',
      'image-port': '0',
    })
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  const fed = await startEmbeddedFederation(cfg, createLogger(`bench-${prefix}`)).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true })
    throw err
  })
  return {
    fed,
    cfg,
    password,
    close: async () => {
      await fed.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
