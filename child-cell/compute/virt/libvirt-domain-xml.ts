import type { ConsoleAddress, ConsoleKind, DiskFormat, RescueArgs, SpawnArgs } from './driver.js'
import { ConsoleUnavailableError } from './driver.js'
import { configDriveDiskXml } from './libvirt-config-drive-xml.js'


/** Marks a rescue definition (libvirt keeps `<description>` as given). */
export const RESCUE_MARK = 'federation-rescue'

/** The domain definition: only what a guest needs to start; Nova's config builder is much larger. */
export function domainXml(
  args: SpawnArgs & {
    type: 'test' | 'kvm' | 'qemu'
    disk: { path: string; format: DiskFormat } | undefined
    consoleLog: string | undefined
    vncListen?: string
    vncPort?: number
    /** The guest's rendered ports (libvirt-network-xml.ts): `<interface>` devices and `<fed:port>` metadata. */
    network?: { readonly devices: string; readonly metadata: string }
  },
): string {
  const devices: string[] = []
  // A VNC display, as Nova's libvirt driver gives every guest with `[vnc] enabled`: qemu picks a
  // free port (autoport); libvirt's test driver picks none, so it gets `vncPort` (the host's
  // stand-in display, test-display.ts) or, without one, a port made from the uuid.
  const listen = xmlEscape(args.vncListen ?? '127.0.0.1')
  devices.push(
    args.type === 'test'
      ? `<graphics type='vnc' port='${args.vncPort ?? testVncPort(args.uuid)}' autoport='no' listen='${listen}'/>`
      : `<graphics type='vnc' autoport='yes' listen='${listen}'/>`,
  )
  if (args.disk !== undefined) {
    devices.push(
      `<disk type='file' device='disk'><driver name='qemu' type='${args.disk.format}'/><source file='${xmlEscape(args.disk.path)}'/>` +
        `<target dev='vda' bus='virtio'/></disk>`,
    )
  }
  if (args.configDrivePath !== undefined) devices.push(configDriveDiskXml(xmlEscape(args.configDrivePath)))
  if (args.consoleLog === undefined) devices.push(`<console type='pty'/>`)
  else {
    // Nova's libvirt driver logs the serial console to `console.log` in the instance directory
    // (os-getConsoleOutput reads it back).
    const log = xmlEscape(args.consoleLog)
    devices.push(`<serial type='file'><source path='${log}'/><target port='0'/></serial>`, `<console type='file'><source path='${log}'/><target type='serial' port='0'/></console>`)
  }
  if (args.network !== undefined) devices.push(args.network.devices)
  const image = args.imageRef === undefined ? '' : `<fed:image>${xmlEscape(args.imageRef)}</fed:image>`
  return [
    `<domain type='${args.type}'>`,
    `<name>instance-${args.uuid}</name>`,
    `<uuid>${args.uuid}</uuid>`,
    `<title>${xmlEscape(args.name)}</title>`,
    `<metadata><fed:instance xmlns:fed='urn:x-cells-federation:instance:1'>${image}` +
      `<fed:rootGb>${args.rootGb}</fed:rootGb>${args.network?.metadata ?? ''}</fed:instance></metadata>`,
    `<memory unit='MiB'>${args.memoryMb}</memory>`,
    `<vcpu>${args.vcpus}</vcpu>`,
    `<os><type>hvm</type><boot dev='hd'/></os>`,
    // ACPI lets a graceful shutdown reach the guest.
    `<features><acpi/></features>`,
    args.type === 'kvm' ? `<cpu mode='host-model'/>` : '',
    `<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>`,
    `<devices>${devices.join('')}</devices>`,
    `</domain>`,
  ].join('')
}



/**
 * The rescue definition of a guest, from its current definition (as libvirt returns it): the
 * rescue disk becomes `vda` and boots, the guest's own disk is moved to `vdb`, and the definition
 * is marked (see {@link RESCUE_MARK}). Guests without disks (libvirt's test driver) get the mark only.
 */
export function rescueXml(current: string, rescue: { disk: { path: string; format: DiskFormat } | undefined } & Pick<RescueArgs, 'imageRef'>): string {
  let xml = current.replace(/<description>[\s\S]*?<\/description>/, '')
  const image = rescue.imageRef === undefined ? '' : ` image ${xmlEscape(rescue.imageRef)}`
  xml = xml.replace(/(<domain\b[^>]*>)/, `$1<description>${RESCUE_MARK}${image}</description>`)
  if (rescue.disk === undefined) return xml
  xml = xml.replace(/<target dev=(['"])vda\1/g, "<target dev='vdb'")
  const disk =
    `<disk type='file' device='disk'><driver name='qemu' type='${rescue.disk.format}'/><source file='${xmlEscape(rescue.disk.path)}'/>` +
    `<target dev='vda' bus='virtio'/></disk>`
  return xml.replace(/<devices>/, `<devices>${disk}`)
}

/** The VNC port of a test-driver guest: 5900 to 6899, from its uuid. */
function testVncPort(uuid: string): number {
  return 5900 + (Number.parseInt(uuid.slice(0, 8), 16) % 1000)
}

const WILDCARD = new Set(['0.0.0.0', '::', ''])

/**
 * Where the `kind` console of a domain listens, from its live XML (as Nova's libvirt driver reads
 * `./devices/graphics[@type='vnc']`): the `<graphics>` element's port and listen address for vnc
 * and spice, a TCP `<serial>` bound port for serial. A wildcard listen address is reached on the
 * host's loopback. No port yet (qemu has not started the guest) or no such device:
 * {@link ConsoleUnavailableError}.
 */
export function consoleAddressOf(xml: string, kind: ConsoleKind): ConsoleAddress {
  if (kind === 'serial') {
    for (const m of xml.matchAll(/<serial\b([^>]*)>([\s\S]*?)<\/serial>/g)) {
      if (attributes(m[1] ?? '')['type'] !== 'tcp') continue
      const source = /<source\b([^>]*)\/?>/.exec(m[2] ?? '')
      const a = attributes(source?.[1] ?? '')
      const port = Number(a['service'])
      if (a['mode'] === 'bind' && Number.isInteger(port) && port > 0 && port < 65536) return { host: reachable(a['host']), port }
    }
    throw new ConsoleUnavailableError(kind)
  }
  for (const m of xml.matchAll(/<graphics\b([^>]*?)\/?>/g)) {
    const a = attributes(m[1] ?? '')
    if (a['type'] !== kind) continue
    const port = Number(a['port'])
    if (!Number.isInteger(port) || port <= 0 || port > 65535) break
    return { host: reachable(a['listen']), port }
  }
  throw new ConsoleUnavailableError(kind)
}

function reachable(listen: string | undefined): string {
  return listen === undefined || WILDCARD.has(listen) ? '127.0.0.1' : listen
}

/** The attributes of one XML start tag (`name='value'` or `name="value"`), entities of ours undone. */
function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of tag.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) {
    const value = m[2] ?? m[3] ?? ''
    out[m[1] ?? ''] = value.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
  }
  return out
}

/** Escapes text for an XML attribute or element. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}
