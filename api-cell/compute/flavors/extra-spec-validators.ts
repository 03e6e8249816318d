import { RE2JS } from 're2js'
import { InvalidError } from '../../../shared/errors.js'

/** How a known extra spec's value is checked (Nova's `ExtraSpecValidator.value`). */
interface ValueRule {
  readonly type: 'str' | 'int' | 'bool'
  readonly enum?: readonly string[]
  readonly pattern?: string
  readonly min?: number
  readonly max?: number
}

/**
 * The extra specs Nova Zed knows (nova/api/validation/extra_specs/*.py): a full-match name pattern
 * (RE2 syntax, compiled with re2js) and the rule for the value. Standard resource classes and
 * traits are matched by shape (upper-case names), as their lists come from os-resource-classes
 * and os-traits, which change independently of the API.
 */
const KNOWN: ReadonlyArray<readonly [string, ValueRule]> = [
  ["accel:device_profile", {"type": "str"}],
  ["aggregate_instance_extra_specs:(?P<key>.+)", {"type": "str"}],
  ["capabilities:id", {"type": "str"}],
  ["capabilities:uuid", {"type": "str"}],
  ["capabilities:service_id", {"type": "str"}],
  ["capabilities:host", {"type": "str"}],
  ["capabilities:vcpus", {"type": "str"}],
  ["capabilities:memory_mb", {"type": "str"}],
  ["capabilities:local_gb", {"type": "str"}],
  ["capabilities:vcpus_used", {"type": "str"}],
  ["capabilities:memory_mb_used", {"type": "str"}],
  ["capabilities:local_gb_used", {"type": "str"}],
  ["capabilities:hypervisor_type", {"type": "str"}],
  ["capabilities:hypervisor_version", {"type": "str"}],
  ["capabilities:hypervisor_hostname", {"type": "str"}],
  ["capabilities:free_ram_mb", {"type": "str"}],
  ["capabilities:free_disk_gb", {"type": "str"}],
  ["capabilities:current_workload", {"type": "str"}],
  ["capabilities:running_vms", {"type": "str"}],
  ["capabilities:disk_available_least", {"type": "str"}],
  ["capabilities:host_ip", {"type": "str"}],
  ["capabilities:mapped", {"type": "str"}],
  ["capabilities:cpu_allocation_ratio", {"type": "str"}],
  ["capabilities:ram_allocation_ratio", {"type": "str"}],
  ["capabilities:disk_allocation_ratio", {"type": "str"}],
  ["capabilities:total_usable_ram_mb", {"type": "str"}],
  ["capabilities:total_usable_disk_gb", {"type": "str"}],
  ["capabilities:disk_mb_used", {"type": "str"}],
  ["capabilities:free_disk_mb", {"type": "str"}],
  ["capabilities:vcpus_total", {"type": "str"}],
  ["capabilities:vcpus_used", {"type": "str"}],
  ["capabilities:num_instances", {"type": "str"}],
  ["capabilities:num_io_ops", {"type": "str"}],
  ["capabilities:failed_builds", {"type": "str"}],
  ["capabilities:aggregates", {"type": "str"}],
  ["capabilities:cell_uuid", {"type": "str"}],
  ["capabilities:updated", {"type": "str"}],
  ["capabilities:cpu_info(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:metrics(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:stats(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:numa_topology(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:supported_hv_specs(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:pci_device_pools(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:nodename(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:pci_stats(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:supported_instances(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:limits(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["capabilities:instances(?P<filter>(:\\w+)*)", {"type": "str"}],
  ["hw:cpu_realtime", {"type": "bool"}],
  ["hw:cpu_realtime_mask", {"type": "str", "pattern": "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"}],
  ["hw:hide_hypervisor_id", {"type": "bool"}],
  ["hw:cpu_policy", {"type": "str", "enum": ["dedicated", "shared", "mixed"]}],
  ["hw:cpu_thread_policy", {"type": "str", "enum": ["prefer", "isolate", "require"]}],
  ["hw:emulator_threads_policy", {"type": "str", "enum": ["isolate", "share"]}],
  ["hw:cpu_dedicated_mask", {"type": "str", "pattern": "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"}],
  ["hw:mem_page_size", {"type": "str", "pattern": "(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)"}],
  ["hw:locked_memory", {"type": "bool"}],
  ["hw:numa_nodes", {"type": "int", "min": 1}],
  ["hw:numa_cpus.(?P<num>\\d+)", {"type": "str", "pattern": "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"}],
  ["hw:numa_mem.(?P<num>\\d+)", {"type": "int", "min": 1}],
  ["hw:pci_numa_affinity_policy", {"type": "str", "enum": ["required", "preferred", "legacy", "socket"]}],
  ["hw:cpu_sockets", {"type": "int", "min": 1}],
  ["hw:cpu_cores", {"type": "int", "min": 1}],
  ["hw:cpu_threads", {"type": "int", "min": 1}],
  ["hw:cpu_max_sockets", {"type": "int", "min": 1}],
  ["hw:cpu_max_cores", {"type": "int", "min": 1}],
  ["hw:cpu_max_threads", {"type": "int", "min": 1}],
  ["hw:boot_menu", {"type": "bool"}],
  ["hw:vif_multiqueue_enabled", {"type": "bool"}],
  ["hw:mem_encryption", {"type": "bool"}],
  ["hw:mem_encryption_model", {"type": "str", "enum": ["amd-sev", "amd-sev-es", "amd-sev-snp"]}],
  ["hw:pmem", {"type": "str", "pattern": "([a-zA-Z0-9_]+(,)?)+"}],
  ["hw:pmu", {"type": "bool"}],
  ["hw:serial_port_count", {"type": "int", "min": 0}],
  ["hw:tpm_model", {"type": "str", "enum": ["tpm-tis", "tpm-crb"]}],
  ["hw:tpm_version", {"type": "str", "enum": ["1.2", "2.0"]}],
  ["hw:tpm_secret_security", {"type": "str", "enum": ["user", "host", "deployment"]}],
  ["hw:watchdog_action", {"type": "str", "enum": ["none", "pause", "poweroff", "reset", "disabled"]}],
  ["hw:viommu_model", {"type": "str", "enum": ["intel", "smmuv3", "virtio", "auto"]}],
  ["hw:virtio_packed_ring", {"type": "bool"}],
  ["hw:sound_model", {"type": "str", "enum": ["sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"]}],
  ["hw:usb_model", {"type": "str", "enum": ["none", "nec-xhci", "qemu-xhci"]}],
  ["hw:redirected_usb_ports", {"type": "int", "min": 0, "max": 15}],
  ["hw:ephemeral_encryption", {"type": "bool"}],
  ["hw:ephemeral_encryption_format", {"type": "str", "enum": ["plain", "luks", "luksv2"]}],
  ["hw_rng:allowed", {"type": "bool"}],
  ["hw_rng:rate_bytes", {"type": "int", "min": 0}],
  ["hw_rng:rate_period", {"type": "int", "min": 0}],
  ["hw_video:ram_max_mb", {"type": "int", "min": 0}],
  ["hide_hypervisor_id", {"type": "bool"}],
  ["group_policy", {"type": "str", "enum": ["isolate", "none"]}],
  ["os:secure_boot", {"type": "str", "enum": ["disabled", "required"]}],
  ["pci_passthrough:alias", {"type": "str", "pattern": "[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*"}],
  ["quota:cpu_limit", {"type": "int", "min": 0}],
  ["quota:cpu_reservation", {"type": "int"}],
  ["quota:cpu_shares_level", {"type": "str", "enum": ["custom", "high", "normal", "low"]}],
  ["quota:cpu_shares_share", {"type": "int", "min": 0}],
  ["quota:memory_limit", {"type": "int", "min": 0}],
  ["quota:memory_reservation", {"type": "int"}],
  ["quota:memory_shares_level", {"type": "str", "enum": ["custom", "high", "normal", "low"]}],
  ["quota:memory_shares_share", {"type": "int", "min": 0}],
  ["quota:disk_io_limit", {"type": "int", "min": 0}],
  ["quota:disk_io_reservation", {"type": "int"}],
  ["quota:disk_io_shares_level", {"type": "str", "enum": ["custom", "high", "normal", "low"]}],
  ["quota:disk_io_shares_share", {"type": "int", "min": 0}],
  ["quota:vif_limit", {"type": "int", "min": 0}],
  ["quota:vif_reservation", {"type": "int"}],
  ["quota:vif_shares_level", {"type": "str", "enum": ["custom", "high", "normal", "low"]}],
  ["quota:vif_shares_share", {"type": "int", "min": 0}],
  ["quota:cpu_shares", {"type": "int", "min": 0}],
  ["quota:cpu_period", {"type": "int", "min": 0}],
  ["quota:cpu_quota", {"type": "int"}],
  ["quota:disk_read_bytes_sec", {"type": "int", "min": 0}],
  ["quota:disk_read_iops_sec", {"type": "int", "min": 0}],
  ["quota:disk_write_bytes_sec", {"type": "int", "min": 0}],
  ["quota:disk_write_iops_sec", {"type": "int", "min": 0}],
  ["quota:disk_total_bytes_sec", {"type": "int", "min": 0}],
  ["quota:disk_total_iops_sec", {"type": "int", "min": 0}],
  ["quota:vif_inbound_average", {"type": "int", "min": 0}],
  ["quota:vif_inbound_peak", {"type": "int", "min": 0}],
  ["quota:vif_inbound_burst", {"type": "int", "min": 0}],
  ["quota:vif_outbound_average", {"type": "int", "min": 0}],
  ["quota:vif_outbound_peak", {"type": "int", "min": 0}],
  ["quota:vif_outbound_burst", {"type": "int", "min": 0}],
  ["resources(?P<group>([a-zA-Z0-9_-]{1,64})?):CUSTOM_(?P<resource>[A-Z0-9_]+)", {"type": "int"}],
  ["vmware:hw_version", {"type": "str"}],
  ["vmware:storage_policy", {"type": "str"}],
  ["resources(?P<group>([a-zA-Z0-9_-]{1,64})?):(?P<resource>[A-Z][A-Z0-9_]*)", {"type": "int"}],
  ["trait(?P<group>([a-zA-Z0-9_-]{1,64})?):(?P<trait>[A-Z][A-Z0-9_]*)", {"type": "str", "enum": ["required", "forbidden"]}],
]

const COMPILED = KNOWN.map(([name, rule]) => ({ name: RE2JS.compile(name), rule, value: rule.pattern === undefined ? undefined : RE2JS.compile(rule.pattern) }))

/** The namespaces (the part before the first `:`) that Nova validates; others are accepted as they are. */
const NAMESPACES = [...new Set(KNOWN.map(([n]) => n).filter((n) => n.includes(':')).map((n) => n.split(':', 1)[0] ?? ''))].map((n) => RE2JS.compile(n))

const BOOL_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes', '0', 'f', 'false', 'off', 'n', 'no'])

/**
 * Nova's extra spec validation (2.86): a known spec's value must fit its rule; a spec in a known
 * namespace (`hw:`, `quota:`, `resources:`...) that Nova does not know is refused; specs without a
 * namespace or in other namespaces are accepted. Throws Nova's 400.
 */
export function validateExtraSpec(name: string, value: string): void {
  const known = COMPILED.find((k) => k.name.matches(name))
  if (known === undefined) {
    if (!name.includes(':')) return
    const ns = name.split(':', 1)[0] ?? ''
    if (!NAMESPACES.some((n) => n.matches(ns))) return
    throw new InvalidError(`Validation failed; extra spec '${name.slice(0, 255)}' does not appear to be a valid extra spec.`)
  }
  const r = known.rule
  const bad = (why: string): never => {
    throw new InvalidError(`Validation failed; ${why} for extra spec '${name.slice(0, 255)}'.`)
  }
  if (r.type === 'int') {
    if (!/^\s*[-+]?\d+\s*$/.test(value)) bad(`value '${value.slice(0, 255)}' is not an integer`)
    const n = Number(value)
    if (r.min !== undefined && n < r.min) bad(`value '${n}' is less than the minimum value ${r.min}`)
    if (r.max !== undefined && n > r.max) bad(`value '${n}' is greater than the maximum value ${r.max}`)
    return
  }
  if (r.type === 'bool') {
    if (!BOOL_WORDS.has(value.trim().toLowerCase())) bad(`value '${value.slice(0, 255)}' is not a boolean`)
    return
  }
  if (r.enum !== undefined && !r.enum.includes(value)) bad(`value '${value.slice(0, 255)}' is not one of ${JSON.stringify(r.enum)}`)
  if (known.value !== undefined && !known.value.matches(value)) bad(`value '${value.slice(0, 255)}' does not match pattern '${r.pattern ?? ''}'`)
}
