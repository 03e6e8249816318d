import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import { InvalidError } from '../../../shared/errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../../shared/fs/private-files.js'

/** One simulated host for libvirt's test driver. */
export interface TestHostXmlArgs {
  /** Where to write the file; relative paths are resolved against the working directory. */
  readonly path: string
  readonly vcpus: number
  readonly memoryMb: number
  /** What libvirt reports as the node's model, i.e. its machine name. Default `x86_64`. */
  readonly cpuModel?: string
  /** Default 2400. */
  readonly mhz?: number
}

/**
 * Writes a `<node>` file for libvirt's test driver and returns the `test:///...` URI that opens it.
 * Each connection to such a URI is a separate simulated host with these CPUs and this memory and
 * its own guests, which is how one compute process simulates many hosts (DESIGN.md).
 *
 * The file is written to a temporary name and renamed, so a connection never reads half of it.
 *
 * @example
 *   const uri = await writeTestHostXml({ path: '/var/lib/federation/dc1/host-3.xml', vcpus: 32, memoryMb: 131072 })
 *   // uri === 'test:///var/lib/federation/dc1/host-3.xml'
 */
export async function writeTestHostXml(args: TestHostXmlArgs): Promise<string> {
  const mhz = args.mhz ?? 2400
  const model = args.cpuModel ?? 'x86_64'
  if (!Number.isInteger(args.vcpus) || args.vcpus < 1) throw new InvalidError('test host: vcpus must be a whole number >= 1')
  if (!Number.isInteger(args.memoryMb) || args.memoryMb < 1) throw new InvalidError('test host: memoryMb must be a whole number >= 1')
  if (!Number.isInteger(mhz) || mhz < 1) throw new InvalidError('test host: mhz must be a whole number >= 1')
  if (!/^[A-Za-z0-9_.+-]{1,64}$/.test(model)) throw new InvalidError(`test host: invalid cpu model ${JSON.stringify(model)}`)
  const path = resolve(args.path)
  // All CPUs as cores of one socket: libvirt's test driver reports nodes*sockets*cores*threads CPUs.
  const xml =
    `<node>\n` +
    `  <cpu><mhz>${mhz}</mhz><model>${model}</model><nodes>1</nodes><sockets>1</sockets>` +
    `<cores>${args.vcpus}</cores><threads>1</threads></cpu>\n` +
    `  <memory>${args.memoryMb * 1024}</memory>\n` +
    `</node>\n`
  await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE })
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(temporary, xml, { mode: PRIVATE_FILE_MODE })
    await rename(temporary, path)
  } catch (err) {
    await rm(temporary, { force: true })
    throw err
  }
  return testHostUri(path)
}

/**
 * The test driver URI for a host file. Path segments are percent-encoded: libvirt refuses
 * URIs with spaces and decodes the escapes.
 */
export function testHostUri(path: string): string {
  const segments = resolve(path).split(sep).map((segment) => encodeURIComponent(segment))
  return `test://${segments.join('/')}`
}
