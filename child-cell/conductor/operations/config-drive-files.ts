import type { BuildSpec, ConfigDriveFileWire, InstanceRecord } from '../../../shared/cell-link/build-spec.js'
import { configDriveFiles } from '../../../shared/metadata/metadata-lookup.js'
import type { NetworkInfo } from '../../../shared/network/network-info.js'

/**
 * What of a build spec the config drive is rendered from. `networkInfo` is the build's interfaces
 * when the spec carries them (the network service puts them there); absent, `network_data.json`
 * is `{}`.
 */
export type ConfigDriveSpec = Pick<BuildSpec, 'configDrive' | 'metadata' | 'keyName' | 'keyData' | 'userData'> & { readonly networkInfo?: NetworkInfo }

/**
 * The config drive's files for the spawn of `record` (undefined when the build asked for none):
 * the conductor renders them from the build spec it keeps, with the same module the metadata API
 * serves from, so that compute writes the ISO without reading any database.
 */
export function configDriveFilesOf(record: InstanceRecord, spec: ConfigDriveSpec): ConfigDriveFileWire[] | undefined {
  if (spec.configDrive !== true) return undefined
  const files = configDriveFiles({
    uuid: record.uuid,
    name: record.name,
    hostname: record.hostname,
    projectId: record.projectId,
    launchIndex: record.launchIndex,
    availabilityZone: record.availabilityZone,
    reservationId: record.reservationId,
    imageId: record.imageRef,
    flavorName: record.flavor.name,
    metadata: spec.metadata,
    keyName: spec.keyName,
    keyData: spec.keyData,
    userData: spec.userData,
    securityGroups: [],
    networkInfo: spec.networkInfo ?? [],
  })
  const firstWith = new Map<string, string>()
  return files.map((f) => {
    const contentBase64 = f.content.toString('base64')
    const same = firstWith.get(contentBase64)
    if (same !== undefined) return { path: f.path, sameAs: same }
    firstWith.set(contentBase64, f.path)
    return { path: f.path, contentBase64 }
  })
}
