/**
 * What an image asks of a hypervisor, after Nova's ImagePropertiesFilter: architecture, hypervisor
 * type, VM mode and a hypervisor version predicate. Shared by the host filter in a leaf cell and the
 * cell filter at every parent, so that both read image properties the same way.
 *
 * Property names: the current ones win over the legacy ones, as in Nova's `ImageMetaProps`:
 * `hw_architecture` (legacy `architecture`), `img_hv_type` (`hypervisor_type`), `hw_vm_mode`
 * (`vm_mode`), `img_hv_requested_version` (`hypervisor_version_requires`).
 *
 * Versions: hosts report Nova's integer form (`convert_version_to_int`: 4.2.0 -> 4002000). A
 * requirement such as `>=4.2`, or `>=6000` (a bare integer is read as Nova's integer form, i.e. 6.0),
 * or a list `>=4.0, <7.0`, is compared component by component like Nova's `VersionPredicate`, with
 * missing trailing components counting as 0 (`6.0` equals `6.0.0`).
 */

/** The compute-related requirements of one image; absent fields ask for nothing. */
export interface ImageRequirements {
  /** Canonical architecture (`x86_64`, `aarch64`, ...). */
  readonly arch?: string
  /** Canonical hypervisor type (`qemu`, `kvm`, ...). */
  readonly hypervisorType?: string
  /** Canonical VM mode (`hvm`, `xen`, `exe`, `uml`). */
  readonly vmMode?: string
  /** The version predicate as written, if any. */
  readonly versionText?: string
  /** Parsed predicate; `null` when `versionText` cannot be parsed (nothing satisfies it). */
  readonly version?: readonly VersionPredicate[] | null
}

/** One `op version` term of a version requirement. */
export interface VersionPredicate {
  readonly op: VersionOp
  readonly version: readonly number[]
  /** The version in Nova's three-part integer form (`6.0` -> 6000000), when it has at most three parts. */
  readonly int3?: number
}

/** The comparison operators of Nova's (distutils') `VersionPredicate`. */
export const VERSION_OPS = ['<=', '>=', '!=', '==', '<', '>'] as const
/** One of {@link VERSION_OPS}. */
export type VersionOp = (typeof VERSION_OPS)[number]

/** The only VM mode a host supports here (every driver runs full virtualisation). */
export const HOST_VM_MODE = 'hvm'

/** Nova's `Architecture.canonicalize`, without rejecting names it does not know. */
export function canonicalArch(name: string): string {
  const lower = name.toLowerCase()
  if (lower === 'i386' || lower === 'i486' || lower === 'i586' || lower === 'x86_32' || lower === 'x86_32p') return 'i686'
  if (lower === 'amd64') return 'x86_64'
  return lower
}

/** Nova's `HVType.canonicalize`. */
export function canonicalHypervisorType(name: string): string {
  const lower = name.toLowerCase()
  return lower === 'xapi' ? 'xen' : lower
}

/** Nova's `VMMode.canonicalize`. */
export function canonicalVmMode(name: string): string {
  const lower = name.toLowerCase()
  if (lower === 'pv') return 'xen'
  if (lower === 'hv' || lower === 'baremetal') return 'hvm'
  return lower
}

/** Nova's `convert_version_to_str` as components: 4002000 -> [4, 2, 0], 6000 -> [6, 0]. */
export function versionFromInt(version: number): number[] {
  const parts: number[] = []
  let v = Math.trunc(version)
  while (v > 0) {
    parts.unshift(v % 1000)
    v = Math.trunc(v / 1000)
  }
  return parts
}

/** Nova's `convert_version_to_int`: `4.2.0` -> 4002000. Undefined when not a dotted number. */
export function versionToInt(text: string): number | undefined {
  if (!/^\d+(\.\d+)*$/.test(text)) return undefined
  return text.split('.').reduce((acc, part) => acc * 1000 + Number(part), 0)
}

/**
 * Parses `>=4.2`, `>=6000`, `(>=4.0, <7.0)`. Undefined when any term is malformed (Nova raises).
 */
export function parseVersionPredicate(text: string): VersionPredicate[] | undefined {
  let body = text.trim()
  if (body.startsWith('(') && body.endsWith(')')) body = body.slice(1, -1)
  const terms: VersionPredicate[] = []
  for (const term of body.split(',')) {
    const m = /^\s*(<=|>=|!=|==|<|>)\s*(\d+(?:\.\d+)*)\s*$/.exec(term)
    if (m === null) return undefined
    const [, op, version] = m as unknown as [string, VersionOp, string]
    const parts = version.includes('.') ? version.split('.').map(Number) : versionFromInt(Number(version))
    const int3 = parts.length <= 3 ? ((parts[0] ?? 0) * 1000 + (parts[1] ?? 0)) * 1000 + (parts[2] ?? 0) : undefined
    terms.push({ op, version: parts, ...(int3 === undefined ? {} : { int3 }) })
  }
  return terms.length === 0 ? undefined : terms
}

/** Compares Nova's integer form with components, missing components as 0, without allocating. */
function compareIntToVersion(have: number, version: readonly number[]): number {
  let digits = 0
  for (let t = Math.trunc(have); t > 0; t = Math.trunc(t / 1000)) digits++
  const n = Math.max(digits, version.length)
  for (let i = 0; i < n; i++) {
    const part = i < digits ? Math.trunc(have / 1000 ** (digits - 1 - i)) % 1000 : 0
    const d = part - (version[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** Whether a hypervisor version (Nova's integer form) satisfies every term. */
export function satisfiesVersion(predicate: readonly VersionPredicate[], hypervisorVersion: number): boolean {
  // Hosts report three parts (libvirt: 4.2.0 = 4002000): then plain integers compare like versions.
  const threeParts = hypervisorVersion >= 1_000_000 && hypervisorVersion < 1_000_000_000
  for (const { op, version, int3 } of predicate) {
    const c = threeParts && int3 !== undefined ? hypervisorVersion - int3 : compareIntToVersion(hypervisorVersion, version)
    const ok =
      op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '==' ? c === 0 : c !== 0
    if (!ok) return false
  }
  return true
}

/** Reads the requirements from image properties (current names over legacy ones). */
export function imageRequirements(properties: Readonly<Record<string, string>>): ImageRequirements {
  const pick = (current: string, legacy: string): string | undefined => {
    const v = Object.hasOwn(properties, current) ? properties[current] : Object.hasOwn(properties, legacy) ? properties[legacy] : undefined
    return v === undefined || v === '' ? undefined : v
  }
  const arch = pick('hw_architecture', 'architecture')
  const hvType = pick('img_hv_type', 'hypervisor_type')
  const vmMode = pick('hw_vm_mode', 'vm_mode')
  const versionText = pick('img_hv_requested_version', 'hypervisor_version_requires')
  return {
    ...(arch === undefined ? {} : { arch: canonicalArch(arch) }),
    ...(hvType === undefined ? {} : { hypervisorType: canonicalHypervisorType(hvType) }),
    ...(vmMode === undefined ? {} : { vmMode: canonicalVmMode(vmMode) }),
    ...(versionText === undefined ? {} : { versionText, version: parseVersionPredicate(versionText) ?? null }),
  }
}

/** Whether the image asks for anything at all. */
export function hasRequirements(req: ImageRequirements): boolean {
  return req.arch !== undefined || req.hypervisorType !== undefined || req.vmMode !== undefined || req.versionText !== undefined
}

/** A human-readable summary for rejection reasons, e.g. `architecture=x86_64, hypervisor version >=4.0`. */
export function describeRequirements(req: ImageRequirements): string {
  const parts: string[] = []
  if (req.arch !== undefined) parts.push(`architecture=${req.arch}`)
  if (req.hypervisorType !== undefined) parts.push(`hypervisor type=${req.hypervisorType}`)
  if (req.vmMode !== undefined) parts.push(`vm mode=${req.vmMode}`)
  if (req.versionText !== undefined) parts.push(`hypervisor version ${req.versionText}${req.version === null ? ' (unparsable)' : ''}`)
  return parts.join(', ')
}

// Hosts report a handful of distinct spellings ('QEMU', 'x86_64'); canonicalising each once keeps the
// per-host check free of string allocation. The last answer is kept in front of the map because
// neighbouring hosts usually agree. Bounded in case of unexpected variety.
class CanonicalCache {
  #lastRaw: string | undefined
  #lastCanonical = ''
  readonly #map = new Map<string, string>()
  constructor(readonly canonical: (v: string) => string) {}
  get(raw: string): string {
    if (raw === this.#lastRaw) return this.#lastCanonical
    let c = this.#map.get(raw)
    if (c === undefined) {
      if (this.#map.size >= 256) this.#map.clear()
      c = this.canonical(raw)
      this.#map.set(raw, c)
    }
    this.#lastRaw = raw
    this.#lastCanonical = c
    return c
  }
}
const hostArch = new CanonicalCache(canonicalArch)
const hostHvType = new CanonicalCache(canonicalHypervisorType)

/**
 * Whether a hypervisor of this kind can run the image: it supports its own architecture, its own
 * hypervisor type and VM mode `hvm`. A version of 0 (unknown) satisfies any predicate, as in Nova;
 * an unparsable predicate is satisfied by nothing.
 */
export function supportsImage(
  req: ImageRequirements,
  host: { readonly cpuArch: string; readonly hypervisorType: string; readonly hypervisorVersion: number },
): boolean {
  return supportsKind(req, host.cpuArch, host.hypervisorType) && supportsVersion(req, host.hypervisorVersion)
}

/** The architecture, hypervisor type and VM mode part of {@link supportsImage}. */
export function supportsKind(req: ImageRequirements, cpuArch: string, hypervisorType: string): boolean {
  if (req.arch !== undefined && req.arch !== cpuArch && req.arch !== hostArch.get(cpuArch)) return false
  if (req.hypervisorType !== undefined && req.hypervisorType !== hypervisorType && req.hypervisorType !== hostHvType.get(hypervisorType)) {
    return false
  }
  return req.vmMode === undefined || req.vmMode === HOST_VM_MODE
}

/** The version part of {@link supportsImage}. */
export function supportsVersion(req: ImageRequirements, hypervisorVersion: number): boolean {
  if (req.version === null) return false
  return req.version === undefined || hypervisorVersion <= 0 || satisfiesVersion(req.version, hypervisorVersion)
}
