import type { CellCapacity } from '../cell-link/types.js'

/** What a parent knows about a build when it picks a child cell. */
export interface CellBuildRequest {
  readonly flavorId: string
  readonly memoryMb: number
  readonly vcpus: number
  readonly diskGb: number
  readonly availabilityZone: string | null
  readonly triedCells: readonly string[]
  readonly imageProperties: Readonly<Record<string, string>>
  readonly hints: Readonly<Record<string, unknown>>
  readonly isAdmin: boolean
}

/** Operator settings of the children (from the cell mappings). */
export interface CellSettings {
  readonly disabled: boolean
  readonly weightOffset: number
}

/** Children worth trying for a build, best first, with why the others were left out. */
export interface CellRanking {
  readonly ranked: readonly CellCapacity[]
  readonly rejected: Readonly<Record<string, string>>
}
