import { createHash } from 'node:crypto'

/** Name, formats and virtual size of the seeded image (those of CirrOS 0.6.x). */
export const CIRROS = Object.freeze({
  name: 'cirros',
  containerFormat: 'bare',
  diskFormat: 'qcow2',
  virtualSize: 117_440_512,
})

/** Size of the placeholder file. */
export const CIRROS_PLACEHOLDER_BYTES = 16 * 1024

/**
 * A deterministic stand-in for the CirrOS image until real image files are provided: a qcow2 version 2
 * header announcing CirrOS's virtual size, followed by bytes from a SHA-256 chain. Not bootable; the
 * same bytes (and so the same checksums) on every machine.
 */
export function cirrosPlaceholder(): Buffer {
  const out = Buffer.alloc(CIRROS_PLACEHOLDER_BYTES)
  out.writeUInt32BE(0x514649fb, 0) // "QFI\xfb"
  out.writeUInt32BE(2, 4) // version
  out.writeUInt32BE(16, 20) // cluster_bits: 64 KiB clusters
  out.writeBigUInt64BE(BigInt(CIRROS.virtualSize), 24)
  let block = createHash('sha256').update('federation cirros placeholder').digest()
  for (let offset = 72; offset < out.length; offset += block.length) {
    block.copy(out, offset)
    block = createHash('sha256').update(block).digest()
  }
  return out
}
