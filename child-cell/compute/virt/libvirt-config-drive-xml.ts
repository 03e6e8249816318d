/** The guest device of the config drive (after the root disk `vda`). */
export const CONFIG_DRIVE_DEV = 'sda'

/**
 * The config drive as a domain device, as Nova's libvirt driver attaches it: a read-only
 * `cdrom` of the raw ISO file compute built, on the SATA bus (cloud-init finds it by its
 * `config-2` label, not by where it sits). `escapedIsoPath`: the ISO's path, already escaped
 * for an XML attribute (libvirt-domain-xml.ts's `xmlEscape`).
 */
export function configDriveDiskXml(escapedIsoPath: string): string {
  return (
    `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${escapedIsoPath}'/>` +
    `<target dev='${CONFIG_DRIVE_DEV}' bus='sata'/><readonly/></disk>`
  )
}
