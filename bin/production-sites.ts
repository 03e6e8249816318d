import { existsSync } from 'node:fs'
import type { FederationConfig } from '../shared/config/federation.js'
import type { CellConfig } from '../shared/config/regions.js'
import { allCells } from '../shared/config/regions.js'
import { cellCertificateProblem } from '../shared/pki/federation-ca.js'
import { pkiLayout } from '../shared/pki/pki-layout.js'
import type { ProcessIdentity } from './production-credentials.js'

/**
 * Running the federation site by site: `--only PATH[,PATH]` picks the processes one site runs, and
 * `--setup` says whether this start does the one-time set-up (schemas, vhosts, users, PKI).
 */

/** What `--setup` takes: set up then run (default), set up and exit, or run what another site set up. */
export const SETUP_MODES = ['auto', 'only', 'skip'] as const
export type SetupMode = (typeof SETUP_MODES)[number]

/** `--setup`'s value, checked. */
export function setupModeOf(v: string | undefined): SetupMode {
  if (v === undefined) return 'auto'
  if (!(SETUP_MODES as readonly string[]).includes(v)) throw new Error(`--setup must be one of ${SETUP_MODES.join(', ')}, got ${v}`)
  return v as SetupMode
}

/**
 * The part of the federation one start covers: the API process or not, and a set of cells. A
 * cell path selects the cell and its whole subtree (a region's intermediate cell cannot place a
 * build without its children, so they are one site); `api` selects the API process alone.
 */
export interface SiteSelection {
  readonly api: boolean
  /** Selected cells, parents before children. */
  readonly cells: readonly CellConfig[]
}

/** Everything: what a start without `--only` runs. */
export function wholeFederation(cfg: FederationConfig): SiteSelection {
  return { api: true, cells: allCells(cfg.regions) }
}

/** `--only`'s comma-separated cell paths (as the region files make them: `api!region-two`), checked. */
export function parseOnly(cfg: FederationConfig, value: string | undefined): SiteSelection {
  if (value === undefined) return wholeFederation(cfg)
  const cells = allCells(cfg.regions)
  const wanted = value.split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (wanted.length === 0) throw new Error('--only needs at least one cell path')
  const unknown = wanted.filter((p) => p !== 'api' && !cells.some((c) => c.path === p))
  if (unknown.length > 0) throw new Error(`--only: no cell ${unknown.join(', ')} in ${cfg.regionsDir} (known: api, ${cells.map((c) => c.path).join(', ')})`)
  const picked = new Set<string>()
  for (const p of wanted) if (p !== 'api') for (const c of allCells([cells.find((x) => x.path === p) as CellConfig])) picked.add(c.path)
  return { api: wanted.includes('api'), cells: cells.filter((c) => picked.has(c.path)) }
}

/** Whether a process of the plan belongs to `sel`. */
export function inSelection(sel: SiteSelection, id: ProcessIdentity): boolean {
  if (id.role === 'api') return sel.api
  return id.cell !== undefined && sel.cells.some((c) => c.path === id.cell?.path)
}

/** The cell identities (certificates) `sel` needs: `api` for the API process, and each cell's. */
export function identitiesOf(sel: SiteSelection): string[] {
  return [...(sel.api ? ['api'] : []), ...sel.cells.map((c) => c.path)]
}

/**
 * With `--setup skip`: what another site's set-up should have left here and did not (the CA
 * certificate and a usable certificate per selected cell), one line each; empty when all is there.
 */
export function missingSetup(pkiDir: string, sel: SiteSelection): string[] {
  // The CA's certificate only: a site needs no CA key (certificates are issued where the set-up ran).
  if (!existsSync(pkiLayout(pkiDir).caCert)) return [`no federation CA certificate in ${pkiDir}`]
  return identitiesOf(sel).flatMap((p) => {
    const problem = cellCertificateProblem(pkiDir, p)
    return problem === undefined ? [] : [`certificate of ${p}: ${problem}`]
  })
}
