import { z } from 'zod'
import { InvalidError } from '../errors.js'
import type { BuildSpec } from './build-spec.js'
import { networkInfoSchema } from './network-info-schema.js'

const str = z.string().max(65_536)
const nullableStr = str.nullable()
const count = z.number().int().min(0).max(1_000_000_000)
const stringMap = z.record(z.string().max(255), z.string().max(65_536))

const flavorSchema = z.object({
  id: z.string().min(1).max(255),
  name: z.string().max(255),
  memoryMb: count,
  vcpus: count,
  rootGb: count,
  ephemeralGb: count,
  swapMb: count,
  extraSpecs: stringMap,
})

const imageSchema = z.object({
  id: z.string().max(255),
  name: z.string().max(255),
  properties: stringMap,
  downloadUrl: z.string().max(4096).optional(),
  checksum: z.string().max(128).optional(),
  diskFormat: z.string().max(64).optional(),
})

const cellPath = z.string().min(1).max(255)

/**
 * The build spec as a receiving cell checks it before anything of it is used, once it is mapped
 * from the wire (build-mapping.ts): every field bounded, the same shape as {@link BuildSpec}.
 */
export const buildSpecSchema = z
  .object({
    instanceUuid: z.uuid(),
    name: z.string().max(255),
    hostname: z.string().max(255),
    projectId: z.string().min(1).max(255),
    userId: z.string().max(255),
    flavor: flavorSchema,
    image: imageSchema,
    availabilityZone: z.string().max(255).nullable(),
    metadata: stringMap,
    keyName: z.string().max(255).nullable(),
    keyData: nullableStr,
    userData: z.string().max(1_048_576).nullable(),
    description: nullableStr,
    reservationId: z.string().max(255),
    launchIndex: count,
    schedulerHints: z.record(z.string().max(255), z.unknown()),
    group: z
      .object({
        uuid: z.string().max(255),
        policy: z.enum(['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']),
        maxServerPerHost: count.optional(),
        members: z.array(z.object({ host: z.string().max(255), cellPath })).max(100_000),
      })
      .strict()
      .optional(),
    minCount: count.optional(),
    retry: z
      .object({ attempt: count, triedCells: z.array(cellPath).max(10_000), faults: z.array(str).max(10_000), versionBase: count })
      .strict()
      .optional(),
    accessIpV4: z.string().max(64).optional(),
    accessIpV6: z.string().max(64).optional(),
    tags: z.array(z.string().min(1).max(60)).max(50).optional(),
    requestedHost: z.string().min(1).max(255).optional(),
    unshelveImageRef: z.string().min(1).max(255).optional(),
    networkInfo: networkInfoSchema.optional(),
    configDrive: z.boolean().optional(),
    aggregates: z
      .array(z.object({ hosts: z.array(z.string().max(255)).max(100_000), metadata: z.record(z.string().max(255), z.string().max(255)) }).strict())
      .max(10_000)
      .optional(),
    createdAt: z.number().int().min(0),
  })
  .strict()

/**
 * Checks a build received from a parent (its protocol version already checked by
 * build-mapping.ts): the spec's bounds, and that it is the instance the call names. Throws
 * {@link InvalidError}: a definite refusal, nothing is kept.
 */
export function checkBuildSpec(args: { readonly instanceUuid: string; readonly spec: unknown }): BuildSpec {
  const parsed = buildSpecSchema.safeParse(args.spec)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidError(`malformed build spec: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim())
  }
  if (parsed.data.instanceUuid !== args.instanceUuid) throw new InvalidError('the build spec names another instance than the call')
  return parsed.data as BuildSpec
}
