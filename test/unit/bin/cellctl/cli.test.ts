import { describe, expect, it } from 'vitest'
import { adminRootOf, errorMessageOf, pickComputeEndpoint } from '../../../../bin/cellctl/admin-client.js'
import { COMMANDS, commandHelp, parseCommandLine, runCellctl, topHelp } from '../../../../bin/cellctl/cli.js'
import { resolveCloud } from '../../../../bin/cellctl/cloud-config.js'
import { Progress } from '../../../../bin/cellctl/progress.js'
import { UsageError } from '../../../../bin/cellctl/usage-error.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const io = () => {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) }, env: {}, cwd: '/nonexistent', home: '/nonexistent' },
  }
}

describe('cellctl command line', () => {
  it('finds two-word and one-word commands with their arguments and flags anywhere', () => {
    const p = parseCommandLine(['--format', 'json', 'cell', 'show', 'api!r1'])
    expect(p.kind).toBe('run')
    if (p.kind !== 'run') return
    expect(p.command.name).toEqual(['cell', 'show'])
    expect(p.args).toEqual(['api!r1'])
    expect(p.values['format']).toBe('json')
    const c = parseCommandLine(['capacity', '--flavor', 'm1.tiny'])
    expect(c.kind === 'run' && c.command.name).toEqual(['capacity'])
    const n = parseCommandLine(['cell', 'update', 'api!r1', '--weight-offset', '-1.5'])
    expect(n.kind === 'run' && n.values['weight-offset']).toBe('-1.5')
  })

  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /no command given/],
    [['cell'], /'cell' needs a subcommand: list, tree/],
    [['cell', 'explode'], /unknown command 'cell explode'/],
    [['cell', 'show'], /missing PATH/],
    [['cell', 'show', 'a', 'b'], /unexpected argument 'b'/],
    [['cell', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['host', 'delete', ''], /must not be empty/],
  ])('refuses %j as a usage error', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(UsageError)
    expect(() => parseCommandLine(argv)).toThrow(message)
  })

  it('answers --help for the tool, each group and every command', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help', text: topHelp() })
    expect(parseCommandLine(['help'])).toEqual({ kind: 'help', text: topHelp() })
    const group = parseCommandLine(['host', '--help'])
    expect(group.kind === 'help' && group.text).toContain('cellctl host discover')
    expect(group.kind === 'help' && group.text).not.toContain('cellctl cell list')
    for (const c of COMMANDS) {
      const p = parseCommandLine([...c.name, '--help'])
      expect(p).toEqual({ kind: 'help', text: commandHelp(c) })
      for (const o of Object.keys(c.options)) expect(commandHelp(c)).toContain(`--${o}`)
    }
  })

  it('exits 2 with one line for usage errors and 0 for help', async () => {
    const a = io()
    expect(await runCellctl(['cell', 'list', '--format', 'xml'], a.io)).toBe(2)
    expect(a.err.join('')).toBe("cellctl: --format must be one of table, json, yaml, got xml (see 'cellctl cell list --help')\n")
    const b = io()
    expect(await runCellctl(['cell', 'list'], b.io)).toBe(2)
    expect(b.err.join('')).toMatch(/^cellctl: missing connection settings \(auth_url, username, password, project_name\): set OS_CLOUD/)
    expect(b.err.join('').split('\n')).toHaveLength(2)
    const c = io()
    expect(await runCellctl(['--help'], c.io)).toBe(0)
    expect(c.out.join('')).toContain('Exit codes: 0 success, 1 operation failed')
  })

  it('exits 1 with one line when the cloud cannot be reached', async () => {
    const a = io()
    const env = { OS_AUTH_URL: 'http://127.0.0.1:1/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'p' }
    expect(await runCellctl(['cell', 'list'], { ...a.io, env })).toBe(1)
    expect(a.err.join('')).toMatch(/^cellctl: error: cannot reach http:\/\/127\.0\.0\.1:1: .*\n$/)
  })
})

describe('cellctl connection settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellctl-'))
  const file = join(dir, 'clouds.yaml')
  writeFileSync(
    file,
    'clouds:\n  fed:\n    auth:\n      auth_url: http://k:5000/v3\n      username: admin\n      password: pw\n      project_name: admin\n      user_domain_name: Default\n    region_name: region-one\n  token:\n    auth_type: token\n    auth: {}\n',
  )

  it('reads the named cloud from OS_CLIENT_CONFIG_FILE and lets OS_* override single values', () => {
    const s = resolveCloud({ cloud: undefined, env: { OS_CLOUD: 'fed', OS_CLIENT_CONFIG_FILE: file, OS_PASSWORD: 'other' }, cwd: '/x', home: '/x' })
    expect(s).toMatchObject({ authUrl: 'http://k:5000/v3', username: 'admin', password: 'other', projectName: 'admin', userDomainName: 'Default', regionName: 'region-one' })
    expect(s.source).toContain(file)
  })

  it('finds ./clouds.yaml and uses the environment alone without a cloud', () => {
    expect(resolveCloud({ cloud: 'fed', env: {}, cwd: dir, home: '/x' }).username).toBe('admin')
    const env = { OS_AUTH_URL: 'http://a/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_ID: 'pid' }
    expect(resolveCloud({ cloud: undefined, env, cwd: '/x', home: '/x' })).toMatchObject({ projectId: 'pid', projectName: undefined })
  })

  it('refuses unknown clouds, other auth types and missing values as usage errors', () => {
    expect(() => resolveCloud({ cloud: 'nope', env: { OS_CLIENT_CONFIG_FILE: file }, cwd: '/x', home: '/x' })).toThrow(/cloud nope not found/)
    expect(() => resolveCloud({ cloud: 'token', env: { OS_CLIENT_CONFIG_FILE: file }, cwd: '/x', home: '/x' })).toThrow(/only password authentication/)
    expect(() => resolveCloud({ cloud: undefined, env: { OS_AUTH_URL: 'http://a' }, cwd: '/x', home: '/x' })).toThrow(UsageError)
  })

  it.each([
    ['http://h:8774/v2.1', 'http://h:8774/cell-admin/v1'],
    ['http://h:8774/regions/region-one/v2.1', 'http://h:8774/cell-admin/v1'],
    ['http://h:8774/regions/region-one/v2.1/', 'http://h:8774/cell-admin/v1'],
    ['https://h/compute/v2.1/0123abcd', 'https://h/compute/cell-admin/v1'],
  ])('derives the admin API root from the compute endpoint %s', (url, root) => {
    expect(adminRootOf(url)).toBe(root)
  })

  it('picks the compute endpoint of the wanted interface and region, else any', () => {
    const catalog = [
      { type: 'identity', endpoints: [{ interface: 'admin', region: 'r1', url: 'http://k' }] },
      {
        type: 'compute',
        endpoints: [
          { interface: 'public', region: 'r1', url: 'http://pub-r1' },
          { interface: 'admin', region: 'r1', url: 'http://adm-r1' },
          { interface: 'admin', region: 'r2', url: 'http://adm-r2' },
        ],
      },
    ]
    expect(pickComputeEndpoint(catalog, 'admin', 'r2')).toBe('http://adm-r2')
    expect(pickComputeEndpoint(catalog, 'admin', undefined)).toBe('http://adm-r1')
    expect(pickComputeEndpoint(catalog, 'internal', undefined)).toBe('http://pub-r1')
    expect(pickComputeEndpoint([], 'admin', undefined)).toBeUndefined()
  })

  it('reads one line out of Keystone, Nova and admin API error bodies', () => {
    expect(errorMessageOf({ error: { code: 404, message: 'Cell x is\nnot registered.' } }, 'x')).toBe('Cell x is not registered.')
    expect(errorMessageOf({ itemNotFound: { code: 404, message: 'gone' } }, 'x')).toBe('gone')
    expect(errorMessageOf('<html>', 'Bad Gateway')).toBe('Bad Gateway')
  })
})

describe('cellctl progress', () => {
  it('rewrites one line on a terminal and clears it when done', () => {
    const written: string[] = []
    const p = new Progress({ isTTY: true, write: (t: string) => written.push(t) }, 2, 'discovering hosts')
    p.step('api!region-one')
    p.step('api!r2')
    p.done()
    expect(written[0]).toBe('\rdiscovering hosts: [1/2] api!region-one')
    expect(written[1]).toBe(`\r${'discovering hosts: [2/2] api!r2'.padEnd('discovering hosts: [1/2] api!region-one'.length)}`)
    expect(written[2]).toBe(`\r${' '.repeat('discovering hosts: [1/2] api!region-one'.length)}\r`)
  })

  it('writes nothing when stderr is not a terminal', () => {
    const written: string[] = []
    const p = new Progress({ write: (t: string) => written.push(t) }, 1, 'x')
    p.step('a')
    p.done()
    expect(written).toEqual([])
  })
})
