import type { InstanceFacts, MetadataItem } from './instance-facts.js'
import { EC2_VERSIONS, OPENSTACK_VERSIONS, jsonItem, textItem, userDataOf } from './instance-facts.js'
import { ec2Find, ec2MetaDataJson, ec2Print, ec2Tree, ec2Version } from './ec2-metadata.js'
import { openstackFile, openstackFiles, openstackVersion } from './openstack-metadata.js'

/** What `GET /` answers, before any instance is identified: the EC2 versions and `latest`. */
export const ROOT_LISTING = [...EC2_VERSIONS, 'latest'].join('\n')

/** A path's segments after POSIX normalisation (`.`, `..`, repeated and trailing slashes). */
export function pathTokens(path: string): string[] {
  const out: string[] = []
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return out
}

/**
 * The content at `path` for one instance, as Nova's `InstanceMetadata.lookup` serves it: paths
 * under `/openstack` in the OpenStack format, everything else in the EC2 format (`/ec2` optional,
 * `/latest/meta-data/...`). Undefined: no such path (404). `today` (`YYYY-MM-DD`) hides versions
 * dated later from the `/openstack` listing, as Nova does; `address` is the caller's address.
 */
export function lookupMetadata(args: { readonly facts: InstanceFacts; readonly path: string; readonly address: string | null; readonly today: string }): MetadataItem | undefined {
  let tokens = pathTokens(args.path)
  if (tokens[0] !== 'ec2' && tokens[0] !== 'openstack') tokens = ['ec2', ...tokens]
  const [kind, version, ...rest] = tokens
  if (version === undefined) {
    const versions = kind === 'openstack' ? OPENSTACK_VERSIONS.filter((v) => v <= args.today) : [...EC2_VERSIONS]
    return textItem([...versions, 'latest'].join('\n'))
  }
  if (kind === 'openstack') {
    const v = openstackVersion(version)
    if (v === undefined) return undefined
    if (rest.length === 0) return textItem(openstackFiles(args.facts, v).join('\n'))
    return rest.length === 1 ? openstackFile(args.facts, v, rest[0] ?? '') : undefined
  }
  const v = ec2Version(version)
  if (v === undefined) return undefined
  const node = ec2Find(ec2Tree(args.facts, v, args.address), rest)
  return node === undefined ? undefined : textItem(ec2Print(node))
}

/** One file of a config drive: its path under the drive's root, and its bytes. */
export interface ConfigDriveFile {
  readonly path: string
  readonly content: Buffer
}

/**
 * EC2 versions Nova leaves off config drives by default (`[api] config_drive_skip_versions`):
 * only 2009-04-04 and `latest` are written.
 */
const SKIPPED_EC2_ON_DRIVE: ReadonlySet<string> = new Set(EC2_VERSIONS.slice(0, -1))

/**
 * The files of an instance's config drive (Nova's `metadata_for_config_drive`): `ec2/<v>/meta-data.json`
 * and `user-data`, then for every OpenStack version and `latest` `meta_data.json`, `user_data`
 * (when there is one), `vendor_data.json`, `network_data.json` and `vendor_data2.json` as far as
 * the version has them. The same content the metadata service serves.
 */
export function configDriveFiles(facts: InstanceFacts): ConfigDriveFile[] {
  const files: ConfigDriveFile[] = []
  for (const token of [...EC2_VERSIONS, 'latest']) {
    if (SKIPPED_EC2_ON_DRIVE.has(token)) continue
    const v = ec2Version(token)
    if (v === undefined) continue
    const tree = ec2Tree(facts, v, null)
    const userData = userDataOf(facts)
    if (userData !== undefined) files.push({ path: `ec2/${token}/user-data`, content: userData })
    files.push({ path: `ec2/${token}/meta-data.json`, content: jsonItem(ec2MetaDataJson(tree)).body })
  }
  for (const token of [...OPENSTACK_VERSIONS, 'latest']) {
    const v = openstackVersion(token)
    if (v === undefined) continue
    for (const name of openstackFiles(facts, v)) {
      if (name === 'password') continue
      const item = openstackFile(facts, v, name)
      if (item !== undefined) files.push({ path: `openstack/${token}/${name}`, content: item.body })
    }
  }
  return files
}
