import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { BuildSpec } from '../../shared/cell-link/build-spec.js'
import type { RequestContext } from '../../shared/context.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, login, waitFor, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser, mv } from '../helpers/project-user.js'

/** Server groups per microversion, isolation, quotas, and membership through the `group` hint. */
describe('compute API: server groups', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let alice: ProjectUser
  let bob: ProjectUser
  let nova: string
  let imageRef: string

  const create = (s: Session, body: unknown, version = '2.1') => call(s, 'POST', `${nova}/os-server-groups`, body, mv(version))
  const boot = (s: Session, name: string, group?: string, version = '2.1') =>
    call(s, 'POST', `${nova}/servers`, { server: { name, imageRef, flavorRef: '1' }, ...(group === undefined ? {} : { 'os:scheduler_hints': { group } }) }, mv(version))

  beforeAll(async () => {
    cfg = embeddedConfig()
    fed = await startFederation(cfg)
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    nova = `${fed.api.urls.compute}/v2.1`
    alice = await createProjectUser(fed.api.urls.identity, admin, 'sg-alice')
    bob = await createProjectUser(fed.api.urls.identity, admin, 'sg-bob')
    const images = await call(admin, 'GET', `${fed.api.urls.image}/v2/images?name=cirros`)
    imageRef = images.body.images[0].id as string
  })

  afterAll(async () => {
    await fed?.stop()
    removeDir(cfg.stateDir)
  })

  it('creates at 2.1 with policies (200) and exactly the 2.1 keys', async () => {
    const res = await create(alice.session, { server_group: { name: 'g21', policies: ['affinity'] } })
    expect(res.status).toBe(200)
    expect(res.body.server_group).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'g21', policies: ['affinity'], members: [], metadata: {} })
  })

  it('adds project_id and user_id at 2.13 and the soft policies at 2.15', async () => {
    const res = await create(alice.session, { server_group: { name: 'g215', policies: ['soft-anti-affinity'] } }, '2.15')
    expect(res.status).toBe(200)
    expect(res.body.server_group).toEqual({
      id: expect.any(String),
      name: 'g215',
      policies: ['soft-anti-affinity'],
      members: [],
      metadata: {},
      project_id: alice.projectId,
      user_id: alice.userId,
    })
    const early = await create(alice.session, { server_group: { name: 'soft-early', policies: ['soft-affinity'] } }, '2.14')
    expect(early.status).toBe(400)
  })

  it('takes policy and rules from 2.64', async () => {
    const res = await create(alice.session, { server_group: { name: 'g264', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } }, '2.64')
    expect(res.status).toBe(200)
    expect(res.body.server_group).toEqual({
      id: expect.any(String),
      name: 'g264',
      policy: 'anti-affinity',
      rules: { max_server_per_host: 2 },
      members: [],
      project_id: alice.projectId,
      user_id: alice.userId,
    })
    const plain = await create(alice.session, { server_group: { name: 'g264b', policy: 'affinity' } }, '2.64')
    expect(plain.body.server_group).toMatchObject({ policy: 'affinity', rules: {} })
  })

  it.each([
    ['two policies', '2.1', { name: 'x', policies: ['affinity', 'anti-affinity'] }],
    ['no policy', '2.1', { name: 'x', policies: [] }],
    ['an unknown policy', '2.1', { name: 'x', policies: ['together'] }],
    ['policy before 2.64', '2.63', { name: 'x', policy: 'affinity' }],
    ['policies from 2.64', '2.64', { name: 'x', policies: ['affinity'] }],
    ['rules on affinity', '2.64', { name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } }],
    ['a zero max_server_per_host', '2.64', { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 0 } }],
    ['an unknown rule', '2.64', { name: 'x', policy: 'anti-affinity', rules: { max: 1 } }],
    ['no name', '2.1', { policies: ['affinity'] }],
    ['an extra key', '2.1', { name: 'x', policies: ['affinity'], colour: 'red' }],
  ])('refuses %s with 400 and creates nothing', async (_what, version, server_group) => {
    const before = (await call(alice.session, 'GET', `${nova}/os-server-groups`)).body.server_groups.length
    const res = await create(alice.session, { server_group }, version)
    expect(res.status).toBe(400)
    expect(res.body.badRequest.code).toBe(400)
    expect((await call(alice.session, 'GET', `${nova}/os-server-groups`)).body.server_groups).toHaveLength(before)
  })

  it('gives the rules error Nova gives', async () => {
    const res = await create(alice.session, { server_group: { name: 'x', policy: 'soft-affinity', rules: { max_server_per_host: 3 } } }, '2.64')
    expect(res.body.badRequest.message).toBe('Only anti-affinity policy supports rules.')
  })

  it('lists the caller\'s groups only; all_projects widens it for admins; limit and offset page', async () => {
    const bobs = await create(bob.session, { server_group: { name: 'bobs', policies: ['anti-affinity'] } })
    const mine = await call(alice.session, 'GET', `${nova}/os-server-groups`)
    expect(mine.status).toBe(200)
    expect(mine.body.server_groups.map((g: { name: string }) => g.name)).toEqual(['g21', 'g215', 'g264', 'g264b'])
    const sneaky = await call(alice.session, 'GET', `${nova}/os-server-groups?all_projects=True`)
    expect(sneaky.body.server_groups.map((g: { id: string }) => g.id)).not.toContain(bobs.body.server_group.id)
    const all = await call(admin, 'GET', `${nova}/os-server-groups?all_projects=True`)
    expect(all.body.server_groups.map((g: { name: string }) => g.name)).toEqual(['g21', 'g215', 'g264', 'g264b', 'bobs'])
    expect((await call(admin, 'GET', `${nova}/os-server-groups`)).body.server_groups).toEqual([])
    const page = await call(admin, 'GET', `${nova}/os-server-groups?all_projects=1&limit=2&offset=1`)
    expect(page.body.server_groups.map((g: { name: string }) => g.name)).toEqual(['g215', 'g264'])
    expect((await call(alice.session, 'GET', `${nova}/os-server-groups?limit=-1`)).status).toBe(400)
    expect((await call(alice.session, 'GET', `${nova}/os-server-groups?offset=x`)).status).toBe(400)
  })

  it('shows and deletes only the caller\'s groups (another project\'s is a 404); admins reach all', async () => {
    const g = await create(bob.session, { server_group: { name: 'bob-private', policies: ['affinity'] } })
    const id = g.body.server_group.id as string
    const peek = await call(alice.session, 'GET', `${nova}/os-server-groups/${id}`)
    expect(peek.status).toBe(404)
    expect(peek.body.itemNotFound.message).toBe(`Instance group ${id} could not be found.`)
    expect((await call(alice.session, 'DELETE', `${nova}/os-server-groups/${id}`)).status).toBe(404)
    expect((await call(admin, 'GET', `${nova}/os-server-groups/${id}`)).status).toBe(200)
    const del = await call(bob.session, 'DELETE', `${nova}/os-server-groups/${id}`)
    expect(del.status).toBe(204)
    expect(del.body).toBeUndefined()
    expect((await call(bob.session, 'GET', `${nova}/os-server-groups/${id}`)).status).toBe(404)
    expect((await call(bob.session, 'DELETE', `${nova}/os-server-groups/${id}`)).status).toBe(404)
  })

  it('refuses boots naming a malformed, unknown or foreign group (400), and writes nothing', async () => {
    const bobs = (await call(bob.session, 'GET', `${nova}/os-server-groups`)).body.server_groups[0].id as string
    const cases: Array<[string, string]> = [
      ['not-a-uuid', "is not a 'uuid'"],
      ['00000000-0000-4000-8000-000000000000', 'Instance group 00000000-0000-4000-8000-000000000000 could not be found.'],
      [bobs, `Instance group ${bobs} could not be found.`],
    ]
    for (const [group, message] of cases) {
      const res = await boot(alice.session, 'bad-group', group)
      expect(res.status).toBe(400)
      expect(res.body.badRequest.message).toContain(message)
    }
    expect((await call(alice.session, 'GET', `${nova}/servers`)).body.servers).toEqual([])
  })

  it('boots members through the group hint: members listed, BuildSpec.group carries the policy, rule and member hosts', async () => {
    const g = await create(alice.session, { server_group: { name: 'spread', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } }, '2.64')
    const groupId = g.body.server_group.id as string
    const first = await boot(alice.session, 'member-1', groupId)
    expect(first.status).toBe(202)
    const s1 = await waitForStatus(alice.session, nova, first.body.server.id, 'ACTIVE')
    const index = await waitFor('member-1 in the index with its host', async () => {
      const row = await fed.api.db.selectFrom('instance_index').select(['host', 'cell_path']).where('uuid', '=', s1.id).executeTakeFirst()
      return row?.host !== null && row?.host !== undefined && row.cell_path !== null ? row : undefined
    })

    // Hold the second build before dispatch to read the spec the API wrote.
    const dispatcher = fed.api.dispatcher
    const held: Array<{ ctx: RequestContext; uuid: string }> = []
    const enqueue = dispatcher.enqueue.bind(dispatcher)
    dispatcher.enqueue = (ctx, uuid) => void held.push({ ctx, uuid })
    let second
    try {
      second = await boot(alice.session, 'member-2', groupId)
    } finally {
      dispatcher.enqueue = enqueue
    }
    expect(second.status).toBe(202)
    expect(held.map((h) => h.uuid)).toEqual([second.body.server.id])
    const br = await fed.api.db.selectFrom('build_requests').select('spec').where('instance_uuid', '=', second.body.server.id).executeTakeFirstOrThrow()
    const spec = JSON.parse(br.spec) as BuildSpec
    expect(spec.group).toEqual({ uuid: groupId, policy: 'anti-affinity', maxServerPerHost: 2, members: [{ host: index.host, cellPath: index.cell_path }] })
    for (const h of held) enqueue(h.ctx, h.uuid)
    await waitForStatus(alice.session, nova, second.body.server.id, 'ACTIVE')

    const show = await call(alice.session, 'GET', `${nova}/os-server-groups/${groupId}`, undefined, mv('2.64'))
    expect(show.body.server_group.members).toEqual([s1.id, second.body.server.id])
    const listed = (await call(alice.session, 'GET', `${nova}/os-server-groups`, undefined, mv('2.64'))).body.server_groups.find((x: { id: string }) => x.id === groupId)
    expect(listed.members).toHaveLength(2)
  })

  it('shows server_groups on show and update from 2.71, never in list detail or before 2.71', async () => {
    const groupId = (await call(alice.session, 'GET', `${nova}/os-server-groups`)).body.server_groups.find((g: { name: string }) => g.name === 'spread').id as string
    const member = (await call(alice.session, 'GET', `${nova}/os-server-groups/${groupId}`)).body.server_group.members[0] as string
    const s271 = await call(alice.session, 'GET', `${nova}/servers/${member}`, undefined, mv('2.71'))
    expect(s271.body.server.server_groups).toEqual([groupId])
    expect((await call(alice.session, 'GET', `${nova}/servers/${member}`, undefined, mv('2.70'))).body.server.server_groups).toBeUndefined()
    const put = await call(alice.session, 'PUT', `${nova}/servers/${member}`, { server: { name: 'member-1b' } }, mv('2.71'))
    expect(put.status).toBe(200)
    expect(put.body.server.server_groups).toEqual([groupId])
    const detail = await call(alice.session, 'GET', `${nova}/servers/detail`, undefined, mv('2.71'))
    expect(detail.body.servers.length).toBeGreaterThan(0)
    for (const s of detail.body.servers) expect(s.server_groups).toBeUndefined()
    const lone = await boot(alice.session, 'lonely')
    const loneShow = await call(alice.session, 'GET', `${nova}/servers/${lone.body.server.id}`, undefined, mv('2.71'))
    expect(loneShow.body.server.server_groups).toEqual([])
    expect((await call(alice.session, 'DELETE', `${nova}/servers/${lone.body.server.id}`)).status).toBe(204)
  })

  it('drops deleted servers from the members', async () => {
    const groupId = (await call(alice.session, 'GET', `${nova}/os-server-groups`)).body.server_groups.find((g: { name: string }) => g.name === 'spread').id as string
    const [first, secondId] = (await call(alice.session, 'GET', `${nova}/os-server-groups/${groupId}`)).body.server_group.members as string[]
    expect((await call(alice.session, 'DELETE', `${nova}/servers/${first}`)).status).toBe(204)
    const members = await waitFor('member gone', async () => {
      const m = (await call(alice.session, 'GET', `${nova}/os-server-groups/${groupId}`)).body.server_group.members as string[]
      return m.length === 1 ? m : undefined
    })
    expect(members).toEqual([secondId])
  })

  it('enforces server_groups and server_group_members quotas (403)', async () => {
    const carol = await createProjectUser(fed.api.urls.identity, admin, 'sg-carol')
    const put = await call(admin, 'PUT', `${nova}/os-quota-sets/${carol.projectId}`, { quota_set: { server_groups: 1, server_group_members: 1 } })
    expect(put.status).toBe(200)
    const g = await create(carol.session, { server_group: { name: 'only', policies: ['affinity'] } })
    expect(g.status).toBe(200)
    const over = await create(carol.session, { server_group: { name: 'second', policies: ['affinity'] } })
    expect(over.status).toBe(403)
    expect(over.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' } })
    const groupId = g.body.server_group.id as string
    expect((await boot(carol.session, 'in-1', groupId)).status).toBe(202)
    const full = await boot(carol.session, 'in-2', groupId)
    expect(full.status).toBe(403)
    expect(full.body.forbidden.message).toBe('Quota exceeded, too many servers in group')
    expect((await call(carol.session, 'GET', `${nova}/servers`)).body.servers.map((s: { name: string }) => s.name)).toEqual(['in-1'])
    const limits = await call(carol.session, 'GET', `${nova}/limits`)
    expect(limits.body.limits.absolute).toMatchObject({ maxServerGroups: 1, totalServerGroupsUsed: 1, maxServerGroupMembers: 1 })
  })
})
