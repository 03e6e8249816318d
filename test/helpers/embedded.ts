import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ApiRuntimeArgs } from '../../api-cell/runtime.js'
import type { Federation } from '../../bin/embedded.js'
import { startEmbeddedFederation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { federationConfig } from '../../shared/config/federation.js'
import { createLogger } from '../../shared/logging.js'

/** A temp state dir and a config for an embedded federation on free ports. */
export function embeddedConfig(stateDir = mkdtempSync(join(tmpdir(), 'fed-')), extra: Record<string, string> = {}): FederationConfig {
  process.env['ADMIN_PASSWORD'] = 'secret-admin-pw'
  return federationConfig('embedded', {
    'state-dir': stateDir,
    'identity-port': '0',
    'compute-port': '0',
    'image-port': '0',
    ...extra,
  })
}

export async function startFederation(cfg: FederationConfig, extra: Pick<ApiRuntimeArgs, 'addressLookup'> = {}): Promise<Federation> {
  return startEmbeddedFederation(cfg, createLogger('test'), extra)
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
