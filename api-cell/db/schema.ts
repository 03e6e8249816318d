import type { IdentityTables } from '../identity/schema.js'
import type { ComputeTables } from './compute-schema.js'

/** The API database: identity, image metadata and the compute tables of the API cell. */
export type ApiSchema = ComputeTables & IdentityTables & Record<string, any>
