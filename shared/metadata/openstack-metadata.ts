import { randomBytes } from 'node:crypto'
import type { InstanceFacts, MetadataItem } from './instance-facts.js'
import { OPENSTACK_VERSIONS, jsonItem, textItem, userDataOf } from './instance-facts.js'
import { networkDataOf } from './network-data.js'

/** One of {@link OPENSTACK_VERSIONS}. */
export type OpenstackVersion = (typeof OPENSTACK_VERSIONS)[number]

const at = (v: OpenstackVersion, since: OpenstackVersion): boolean => OPENSTACK_VERSIONS.indexOf(v) >= OPENSTACK_VERSIONS.indexOf(since)

/** `latest` or a dated version to the version it means; undefined for an unknown one. */
export function openstackVersion(token: string): OpenstackVersion | undefined {
  if (token === 'latest') return OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.length - 1]
  return (OPENSTACK_VERSIONS as readonly string[]).includes(token) ? (token as OpenstackVersion) : undefined
}

/** The files of one version directory, as Nova lists them (`_handle_version`). */
export function openstackFiles(facts: InstanceFacts, v: OpenstackVersion): string[] {
  const out = ['meta_data.json']
  if (facts.userData !== null) out.push('user_data')
  if (at(v, '2013-04-04')) out.push('password')
  if (at(v, '2013-10-17')) out.push('vendor_data.json')
  if (at(v, '2015-10-15')) out.push('network_data.json')
  if (at(v, '2016-10-06')) out.push('vendor_data2.json')
  return out
}

/**
 * `meta_data.json` of version `v`, keys in Nova's order: what a version added is present from it
 * on (random_seed 2013-04-04, project_id 2015-10-15, devices 2016-06-30, dedicated_cpus 2020-10-14).
 */
export function metaDataJson(facts: InstanceFacts, v: OpenstackVersion): Record<string, unknown> {
  const md: Record<string, unknown> = { uuid: facts.uuid }
  if (Object.keys(facts.metadata).length > 0) md['meta'] = { ...facts.metadata }
  if (facts.keyName !== null && facts.keyData !== null) {
    md['public_keys'] = { [facts.keyName]: facts.keyData }
    md['keys'] = [{ name: facts.keyName, type: 'ssh', data: facts.keyData }]
  }
  md['hostname'] = facts.hostname
  md['name'] = facts.name
  md['launch_index'] = facts.launchIndex
  md['availability_zone'] = facts.availabilityZone
  if (at(v, '2013-04-04')) md['random_seed'] = randomBytes(512).toString('base64')
  if (at(v, '2015-10-15')) md['project_id'] = facts.projectId
  // Device tagging needs block device and interface tags, which builds do not carry yet.
  if (at(v, '2016-06-30')) md['devices'] = []
  if (at(v, '2020-10-14')) md['dedicated_cpus'] = []
  return md
}

/**
 * One file of a version directory; undefined when it does not exist in that version (or, for
 * `user_data`, when the instance has none): the service answers 404.
 */
export function openstackFile(facts: InstanceFacts, v: OpenstackVersion, name: string): MetadataItem | undefined {
  const files = openstackFiles(facts, v)
  if (!files.includes(name)) return undefined
  switch (name) {
    case 'meta_data.json':
      return jsonItem(metaDataJson(facts, v))
    case 'user_data':
      return textItem(userDataOf(facts) ?? Buffer.alloc(0))
    // Nova keeps a password a Windows guest posted; none is ever set here.
    case 'password':
      return textItem('')
    case 'vendor_data.json':
    case 'vendor_data2.json':
      return jsonItem({})
    // Nova leaves network_data.json text/plain (it sets no mimetype for it).
    case 'network_data.json':
      return textItem(JSON.stringify(networkDataOf(facts.networkInfo)))
    default:
      return undefined
  }
}
