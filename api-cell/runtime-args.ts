import type { CellRegistrationInput, FederationConfig } from '../shared/config/federation.js'
import { adminPasswordFor, apiDatabases } from '../shared/config/federation.js'
import type { Logger } from '../shared/logging.js'
import type { ApiRuntimeArgs } from './runtime.js'

/**
 * The API cell's start-up arguments from the federation's configuration: one mapping for the
 * API process of production mode (api-cell/main.ts) and the embedded federation
 * (bin/embedded.ts), which differ only in where the cells' agents are reached (`cells`).
 */
export function apiRuntimeArgsOf(cfg: FederationConfig, a: { readonly cells: CellRegistrationInput[]; readonly log: Logger }): ApiRuntimeArgs {
  const dbs = apiDatabases(cfg)
  return {
    apiDatabaseUrl: dbs.api,
    cell0DatabaseUrl: dbs.cell0,
    stateDir: cfg.stateDir,
    host: cfg.host,
    publicHost: cfg.publicHost,
    ports: cfg.ports,
    console: cfg.console,
    metadata: cfg.metadata,
    regions: cfg.regions.map((r) => r.name),
    cells: a.cells,
    adminPassword: adminPasswordFor(cfg),
    downAfterMs: cfg.timing.downAfterMs,
    placementDeadlineMs: cfg.timing.placementDeadlineMs,
    antiEntropyIntervalMs: cfg.timing.antiEntropyIntervalMs,
    maxCellAttempts: cfg.scheduler.maxCellAttempts,
    scheduler: cfg.scheduler,
    crossCellRule: cfg.crossCellResize,
    pki: cfg.pki,
    log: a.log,
  }
}
