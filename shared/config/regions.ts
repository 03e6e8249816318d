import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { z } from 'zod'
import { PATH_SEPARATOR } from '../cell-link/types.js'

/**
 * The federation's shape, read from `deploy/regions/*.yaml`: one file per region, each a tree of
 * cells whose leaves list their compute hosts. Validated once at start-up, then frozen.
 */

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/
/** `host:port` (a name, an IPv4 address or a bracketed IPv6 one), as the admin API takes it. */
const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/
const hostPort = z
  .string()
  .max(255)
  .regex(HOST_PORT, 'must be host:port')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535')

const hostSchema = z
  .object({
    name: z.string().regex(NAME, 'host names are lowercase letters, digits and dashes'),
    vcpus: z.number().int().positive(),
    memory_mb: z.number().int().positive(),
    disk_gb: z.number().int().positive(),
    cpu_arch: z.string().default('x86_64'),
    cpu_allocation_ratio: z.number().positive().optional(),
    ram_allocation_ratio: z.number().positive().optional(),
    disk_allocation_ratio: z.number().positive().optional(),
    reserved_host_memory_mb: z.number().int().nonnegative().default(512),
    reserved_host_disk_gb: z.number().int().nonnegative().default(0),
  })
  .strict()

type CellInput = {
  name: string
  availability_zone?: string | undefined
  weight_offset?: number | undefined
  grpc_port?: number | undefined
  grpc_listen?: string | undefined
  grpc_address?: string | undefined
  hosts?: z.input<typeof hostSchema>[] | undefined
  children?: CellInput[] | undefined
}

const cellSchema: z.ZodType<CellInput> = z.lazy(() =>
  z
    .object({
      name: z.string().regex(NAME, 'cell names are lowercase letters, digits and dashes'),
      availability_zone: z.string().min(1).optional(),
      weight_offset: z.number().optional(),
      grpc_port: z.number().int().min(1).max(65535).optional(),
      grpc_listen: hostPort.optional(),
      grpc_address: hostPort.optional(),
      hosts: z.array(hostSchema).optional(),
      children: z.array(cellSchema).optional(),
    })
    .strict(),
)

/** One compute host of a leaf cell. */
export interface HostConfig {
  readonly name: string
  readonly vcpus: number
  readonly memoryMb: number
  readonly diskGb: number
  readonly cpuArch: string
  readonly cpuAllocationRatio: number
  readonly ramAllocationRatio: number
  readonly diskAllocationRatio: number
  readonly reservedHostMemoryMb: number
  readonly reservedHostDiskGb: number
}

/** One cell of the tree (the region's root is a cell too). */
export interface CellConfig {
  readonly name: string
  readonly path: string
  readonly region: string
  readonly availabilityZone: string
  readonly weightOffset: number
  readonly grpcPort: number | undefined
  /**
   * Production: `host:port` the cell agent's gRPC server binds (default `--host` and the cell's
   * port). Separate sites bind an address their parent can reach, or `0.0.0.0:port`.
   */
  readonly grpcListen: string | undefined
  /**
   * Production: `host:port` the parent dials to reach this cell (default: `grpcListen`, or
   * `--public-host` with its port when `grpcListen` binds every address). Cell links are dialled parent to child
   * only, so a child needs no address of its parent.
   */
  readonly grpcAddress: string | undefined
  readonly hosts: readonly HostConfig[]
  readonly children: readonly CellConfig[]
}

/**
 * The Keystone region that spans the whole federation: its compute endpoint is the global one
 * (`/v2.1`), and it is the parent region of every region of the tree. No region file may take
 * this name.
 */
export const FEDERATION_REGION = 'federation'

/** Nova's default allocation ratios. */
export const DEFAULT_RATIOS = { cpu: 16.0, ram: 1.5, disk: 1.0 } as const

function build(input: CellInput, parentPath: string, region: string, inheritedAz: string): CellConfig {
  const path = `${parentPath}${PATH_SEPARATOR}${input.name}`
  const az = input.availability_zone ?? inheritedAz
  const hosts = (input.hosts ?? []).map((h) => {
    const p = hostSchema.parse(h)
    return Object.freeze({
      name: p.name,
      vcpus: p.vcpus,
      memoryMb: p.memory_mb,
      diskGb: p.disk_gb,
      cpuArch: p.cpu_arch,
      cpuAllocationRatio: p.cpu_allocation_ratio ?? DEFAULT_RATIOS.cpu,
      ramAllocationRatio: p.ram_allocation_ratio ?? DEFAULT_RATIOS.ram,
      diskAllocationRatio: p.disk_allocation_ratio ?? DEFAULT_RATIOS.disk,
      reservedHostMemoryMb: p.reserved_host_memory_mb,
      reservedHostDiskGb: p.reserved_host_disk_gb,
    })
  })
  const children = (input.children ?? []).map((c) => build(c, path, region, az))
  return Object.freeze({
    name: input.name,
    path,
    region,
    availabilityZone: az,
    weightOffset: input.weight_offset ?? 0,
    grpcPort: input.grpc_port,
    grpcListen: input.grpc_listen,
    grpcAddress: input.grpc_address,
    hosts: Object.freeze(hosts),
    children: Object.freeze(children),
  })
}

/** Parses one region file's text. The file name is only used in error messages. */
export function parseRegion(text: string, file: string, apiPath = 'api'): CellConfig {
  const raw: unknown = parse(text)
  const result = cellSchema.safeParse(raw)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new Error(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  return build(result.data, apiPath, result.data.name, result.data.availability_zone ?? 'nova')
}

/** Reads every `*.yaml`/`*.yml` in `dir`, sorted by name; rejects duplicate cell or host names. */
export function loadRegions(dir: string): readonly CellConfig[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
  if (files.length === 0) throw new Error(`no region files (*.yaml) in ${dir}`)
  const regions = files.map((f) => parseRegion(readFileSync(join(dir, f), 'utf8'), join(dir, f)))
  const reserved = regions.find((r) => r.name === FEDERATION_REGION)
  if (reserved !== undefined) throw new Error(`region name ${FEDERATION_REGION} is reserved for the federation-wide region`)
  const paths = new Set<string>()
  const hosts = new Set<string>()
  for (const cell of allCells(regions)) {
    if (paths.has(cell.path)) throw new Error(`duplicate cell ${cell.path}`)
    paths.add(cell.path)
    for (const h of cell.hosts) {
      if (hosts.has(h.name)) throw new Error(`duplicate host name ${h.name} (host names are global)`)
      hosts.add(h.name)
    }
  }
  return Object.freeze(regions)
}

/** Every cell of the trees, parents before children. */
export function allCells(roots: readonly CellConfig[]): CellConfig[] {
  const out: CellConfig[] = []
  const walk = (c: CellConfig): void => {
    out.push(c)
    c.children.forEach(walk)
  }
  roots.forEach(walk)
  return out
}
