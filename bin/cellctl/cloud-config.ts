import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { UsageError } from './usage-error.js'

/** How to reach and authenticate against the cloud, as the `openstack` CLI would. */
export interface CloudSettings {
  readonly authUrl: string
  readonly username: string
  readonly password: string
  readonly projectName: string | undefined
  readonly projectId: string | undefined
  readonly userDomainName: string | undefined
  readonly userDomainId: string | undefined
  readonly projectDomainName: string | undefined
  readonly projectDomainId: string | undefined
  readonly regionName: string | undefined
  /** Endpoint interface to pick in the catalog (`admin` unless configured). */
  readonly interface: string | undefined
  /** Where the settings came from, for error messages. */
  readonly source: string
}

/** What {@link resolveCloud} reads. */
export interface CloudLookup {
  /** `--os-cloud`, else `OS_CLOUD`. */
  readonly cloud: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly home: string
}

/** `OS_*` variable -> clouds.yaml `auth` key (or top-level key for region and interface). */
const ENV_KEYS = {
  OS_AUTH_URL: 'auth_url',
  OS_USERNAME: 'username',
  OS_PASSWORD: 'password',
  OS_PROJECT_NAME: 'project_name',
  OS_PROJECT_ID: 'project_id',
  OS_USER_DOMAIN_NAME: 'user_domain_name',
  OS_USER_DOMAIN_ID: 'user_domain_id',
  OS_PROJECT_DOMAIN_NAME: 'project_domain_name',
  OS_PROJECT_DOMAIN_ID: 'project_domain_id',
  OS_REGION_NAME: 'region_name',
  OS_INTERFACE: 'interface',
} as const

/** Where clouds.yaml is looked for, in openstacksdk's order. */
export function cloudsYamlCandidates(l: Pick<CloudLookup, 'env' | 'cwd' | 'home'>): string[] {
  const explicit = l.env['OS_CLIENT_CONFIG_FILE']
  return [
    ...(explicit === undefined || explicit === '' ? [] : [explicit]),
    join(l.cwd, 'clouds.yaml'),
    join(l.home, '.config', 'openstack', 'clouds.yaml'),
    '/etc/openstack/clouds.yaml',
  ]
}

function readCloud(name: string, l: CloudLookup): { values: Record<string, unknown>; source: string } {
  for (const file of cloudsYamlCandidates(l)) {
    if (!existsSync(file)) continue
    let doc: unknown
    try {
      doc = parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
    }
    const cloud = (doc as { clouds?: Record<string, unknown> } | null)?.clouds?.[name]
    if (cloud === undefined || cloud === null || typeof cloud !== 'object') continue
    const c = cloud as Record<string, unknown>
    const authType = c['auth_type']
    if (authType !== undefined && authType !== 'password' && authType !== 'v3password') {
      throw new UsageError(`cloud ${name} in ${file} uses auth_type ${String(authType)}: only password authentication is supported`)
    }
    const auth = (c['auth'] ?? {}) as Record<string, unknown>
    return { values: { ...auth, region_name: c['region_name'], interface: c['interface'] }, source: `cloud ${name} in ${file}` }
  }
  throw new UsageError(`cloud ${name} not found in any clouds.yaml (${cloudsYamlCandidates(l).join(', ')})`)
}

/**
 * The connection settings, as python-openstackclient resolves them: the named cloud of clouds.yaml
 * (`--os-cloud` or `OS_CLOUD`), then `OS_*` variables on top (they override single values, or
 * stand alone without a cloud). Missing essentials are a usage error naming what to set.
 */
export function resolveCloud(l: CloudLookup): CloudSettings {
  const cloud = l.cloud ?? (l.env['OS_CLOUD'] === '' ? undefined : l.env['OS_CLOUD'])
  const base = cloud === undefined ? { values: {} as Record<string, unknown>, source: 'OS_* environment variables' } : readCloud(cloud, l)
  const v: Record<string, unknown> = { ...base.values }
  for (const [envKey, key] of Object.entries(ENV_KEYS)) {
    const value = l.env[envKey]
    if (value !== undefined && value !== '') v[key] = value
  }
  const str = (k: string): string | undefined => (typeof v[k] === 'string' && v[k] !== '' ? (v[k] as string) : undefined)
  const missing = ['auth_url', 'username', 'password'].filter((k) => str(k) === undefined)
  if (str('project_name') === undefined && str('project_id') === undefined) missing.push('project_name')
  if (missing.length > 0) {
    const hint = cloud === undefined ? 'set OS_CLOUD (with clouds.yaml) or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME' : `complete ${base.source}`
    throw new UsageError(`missing connection settings (${missing.join(', ')}): ${hint}`)
  }
  return {
    authUrl: str('auth_url') ?? '',
    username: str('username') ?? '',
    password: str('password') ?? '',
    projectName: str('project_name'),
    projectId: str('project_id'),
    userDomainName: str('user_domain_name'),
    userDomainId: str('user_domain_id'),
    projectDomainName: str('project_domain_name'),
    projectDomainId: str('project_domain_id'),
    regionName: str('region_name'),
    interface: str('interface'),
    source: base.source,
  }
}
