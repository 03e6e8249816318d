import type { DiskFormat, RescueArgs, SpawnArgs } from './driver.js'


/** Marks a rescue definition (libvirt keeps `<description>` as given). */
export const RESCUE_MARK = 'federation-rescue'

/** The domain definition: only what a guest needs to start; Nova's config builder is much larger. */
export function domainXml(
  args: SpawnArgs & { type: 'test' | 'kvm' | 'qemu'; disk: { path: string; format: DiskFormat } | undefined; consoleLog: string | undefined },
): string {
  const devices: string[] = []
  if (args.disk !== undefined) {
    devices.push(
      `<disk type='file' device='disk'><driver name='qemu' type='${args.disk.format}'/><source file='${xmlEscape(args.disk.path)}'/>` +
        `<target dev='vda' bus='virtio'/></disk>`,
    )
  }
  if (args.consoleLog === undefined) devices.push(`<console type='pty'/>`)
  else {
    // Nova's libvirt driver logs the serial console to `console.log` in the instance directory
    // (os-getConsoleOutput reads it back).
    const log = xmlEscape(args.consoleLog)
    devices.push(`<serial type='file'><source path='${log}'/><target port='0'/></serial>`, `<console type='file'><source path='${log}'/><target type='serial' port='0'/></console>`)
  }
  const image = args.imageRef === undefined ? '' : `<fed:image>${xmlEscape(args.imageRef)}</fed:image>`
  return [
    `<domain type='${args.type}'>`,
    `<name>instance-${args.uuid}</name>`,
    `<uuid>${args.uuid}</uuid>`,
    `<title>${xmlEscape(args.name)}</title>`,
    `<metadata><fed:instance xmlns:fed='urn:x-cells-federation:instance:1'>${image}` +
      `<fed:rootGb>${args.rootGb}</fed:rootGb></fed:instance></metadata>`,
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

/** Escapes text for an XML attribute or element. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}
