import { z } from 'zod'
import { InvalidError } from '../../shared/errors.js'

/**
 * Bodies and queries of the cell administration API, validated before anything changes: a bad
 * request is a 400 naming the first bad field.
 */

/** Cell names, as in deploy/regions: lowercase letters, digits and dashes. */
const cellName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes (at most 63)')
const cellPath = z.string().min(1).max(255).regex(/^[a-z0-9][a-z0-9-]*(![a-z0-9][a-z0-9-]*)*$/, 'must be a cell path such as api!region-one!dc1')
const grpcAddress = z.string().max(255).regex(/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/, 'must be host:port')
const url = z.string().min(1).max(1024).regex(/^[a-z][a-z0-9+.-]*:/, 'must be a URL')
const weight = z.number().finite().min(-1e6).max(1e6)

/** `POST /cells` */
export const createCellBody = z.object({
  cell: z
    .object({
      parent: cellPath,
      name: cellName,
      grpc_address: grpcAddress,
      database_url: url.optional(),
      transport_url: url.optional(),
      weight_offset: weight.optional(),
    })
    .strict(),
})

/** `PUT /cells/{path}` */
export const updateCellBody = z.object({
  cell: z
    .object({ name: z.string().min(1).max(255).optional(), weight_offset: weight.optional(), grpc_address: grpcAddress.optional() })
    .strict()
    .refine((c) => Object.keys(c).length > 0, 'nothing to update: give name, weight_offset or grpc_address'),
})

/** `POST /cells/{path}/disable` */
export const disableCellBody = z.object({ reason: z.string().trim().min(1, 'a reason is required').max(255) }).strict()

/** `POST /hosts/discover` */
export const discoverBody = z.object({ cell: cellPath.optional() }).strict()

/** `POST /cell0/map` */
export const mapCell0Body = z.object({ database_url: url.optional() }).strict()

/** A cell path in a URL or query. */
export const cellPathParam = cellPath

/** Parses `value` with `schema`, or throws a 400 naming the first problem. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {})
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const where = issue === undefined || issue.path.length === 0 ? what : `${what}: ${issue.path.join('.')}`
  throw new InvalidError(`Invalid ${where}: ${issue?.message ?? 'invalid'}`)
}
