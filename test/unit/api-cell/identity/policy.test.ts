import { describe, expect, it } from 'vitest'
import { ForbiddenError } from '../../../../shared/errors.js'
import { authorize, isAllowed, POLICY, POLICY_RULES, withImpliedRoles } from '../../../../api-cell/identity/policy.js'
import type { PolicyRule, PolicySubject, PolicyTarget } from '../../../../api-cell/identity/policy.js'

const admin: PolicySubject = { userId: 'admin-user', roles: ['admin', 'member', 'reader'], projectId: 'admin-project', domainId: 'default' }
const member: PolicySubject = { userId: 'alice', roles: ['member', 'reader'], projectId: 'p1', domainId: 'default' }
const reader: PolicySubject = { userId: 'bob', roles: ['reader'], projectId: 'p1', domainId: 'default' }
const unscoped: PolicySubject = { userId: 'carol', roles: [] }

describe('identity policy', () => {
  it('has an entry for every rule and no entry for unknown rules', () => {
    expect(Object.keys(POLICY).sort()).toEqual([...POLICY_RULES].sort())
  })

  it.each<[string, PolicySubject, PolicyRule, PolicyTarget, boolean]>([
    ['admin lists projects', admin, 'identity:list_projects', {}, true],
    ['member lists projects', member, 'identity:list_projects', {}, false],
    ['admin creates users', admin, 'identity:create_user', {}, true],
    ['member creates users', member, 'identity:create_user', {}, false],
    ['reader deletes projects', reader, 'identity:delete_project', { projectId: 'p1' }, false],
    ['member grants roles', member, 'identity:create_grant', {}, false],
    ['member shows own project', member, 'identity:get_project', { projectId: 'p1' }, true],
    ['member shows another project', member, 'identity:get_project', { projectId: 'p2' }, false],
    ['unscoped shows a project', unscoped, 'identity:get_project', { projectId: 'p1' }, false],
    ['reader shows own user', reader, 'identity:get_user', { userId: 'bob' }, true],
    ['reader shows another user', reader, 'identity:get_user', { userId: 'alice' }, false],
    ['unscoped lists own projects', unscoped, 'identity:list_user_projects', { userId: 'carol' }, true],
    ['member validates own token', member, 'identity:validate_token', { userId: 'alice' }, true],
    ['member validates another token', member, 'identity:validate_token', { userId: 'bob' }, false],
    ['admin validates any token', admin, 'identity:validate_token', { userId: 'bob' }, true],
    ['unscoped lists regions', unscoped, 'identity:list_regions', {}, true],
    ['member shows own domain', member, 'identity:get_domain', { domainId: 'default' }, true],
    ['member shows another domain', member, 'identity:get_domain', { domainId: 'other' }, false],
    ['member lists domains', member, 'identity:list_domains', {}, false],
    ['missing target never matches an owner clause', member, 'identity:get_user', {}, false],
  ])('%s -> %s', (_name, subject, rule, target, allowed) => {
    expect(isAllowed(subject, rule, target)).toBe(allowed)
    if (allowed) expect(() => authorize(subject, rule, target)).not.toThrow()
    else expect(() => authorize(subject, rule, target)).toThrow(ForbiddenError)
  })

  it('names the rule in the 403 message', () => {
    try {
      authorize(member, 'identity:list_users')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ForbiddenError)
      expect((err as ForbiddenError).status).toBe(403)
      expect((err as Error).message).toBe('You are not authorized to perform the requested action: identity:list_users.')
    }
  })

  it.each([
    [['admin'], ['admin', 'member', 'reader']],
    [['member'], ['member', 'reader']],
    [['reader'], ['reader']],
    [['custom', 'member'], ['custom', 'member', 'reader']],
    [['constructor'], ['constructor']],
  ])('implied roles of %j are %j', (given, expected) => {
    expect(withImpliedRoles(given)).toEqual(expected)
  })
})
