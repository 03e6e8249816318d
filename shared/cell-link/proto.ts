import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import type { PbInstanceEvent } from './event-mapping.js'
import { join } from 'node:path'
import { packageRoot } from '../paths.js'

/** Loads proto/cell.proto once; the generated constructors stay inside shared/cell-link/. */
let cached: grpc.ServiceClientConstructor | undefined

export function cellService(): grpc.ServiceClientConstructor {
  if (cached !== undefined) return cached
  const def = protoLoader.loadSync(join(packageRoot(), 'proto', 'cell.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  })
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    federation: { cell: { v1: { Cell: grpc.ServiceClientConstructor } } }
  }
  cached = pkg.federation.cell.v1.Cell
  return cached
}

/** Wire shapes (snake_case, as proto-loader gives them with keepCase). */
export interface PbContext {
  request_id: string
  user_id: string
  project_id: string
  roles: string[]
}
export interface PbFlavorFit {
  flavor_id: string
  count: number
  max_per_host: number
}
export interface PbCellCapacity {
  path: string
  up: boolean
  disabled: boolean
  hosts_up: number
  hosts_total: number
  instances: number
  ram_free_mb: number
  ram_total_mb: number
  vcpus_free: number
  vcpus_total: number
  disk_free_gb: number
  disk_total_gb: number
  availability_zones: string[]
  hypervisor_types: string[]
  cpu_archs: string[]
  flavor_fits: PbFlavorFit[]
  generated_at_ms: number
  aggregate: boolean
}
/** `message CellUpdate`; its events are mapped in event-mapping.ts. */
export interface PbCellUpdate {
  kind?: 'capacity' | 'events'
  capacity?: { cells: PbCellCapacity[] }
  events?: { events: PbInstanceEvent[]; cursor: number }
}
