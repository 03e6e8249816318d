import type { Kysely } from 'kysely'
import { systemContext } from '../../shared/context.js'
import type { RequestContext } from '../../shared/context.js'
import { IdentityStore } from './identity-store.js'
import type { ScryptCost } from './password-hasher.js'
import { verifyPassword } from './password-hasher.js'
import { KyselyRevocationStore, RevocationRecorder } from './revocation-store.js'
import { ROLES } from './policy.js'
import type { IdentityTables } from './schema.js'
import { stableId } from './catalog.js'

/** The Default domain, with the id and name every client expects. */
export const DEFAULT_DOMAIN = Object.freeze({ id: 'default', name: 'Default' })

/** Options of {@link bootstrapIdentity}. */
export interface BootstrapOptions {
  /** The admin user's password: set on creation, reset on every run (as `keystone-manage bootstrap`). */
  readonly adminPassword: string
  readonly adminUserName?: string
  readonly adminProjectName?: string
  /** scrypt cost (tests lower it). */
  readonly passwordCost?: ScryptCost
  readonly ctx?: RequestContext
}

/** What {@link bootstrapIdentity} found or made. */
export interface BootstrapResult {
  readonly domainId: string
  readonly adminProjectId: string
  readonly adminUserId: string
  /** Role name -> id for admin, member, reader. */
  readonly roleIds: Readonly<Record<(typeof ROLES)[number], string>>
  /** `true` when the admin user did not exist before this run. */
  readonly createdAdmin: boolean
}

/**
 * Idempotent, after `keystone-manage bootstrap`: ensures the Default domain, the `admin` project, the
 * roles admin/member/reader, the `admin` user (its password set to `adminPassword`), and grants admin
 * on the admin project and on the system. Safe to run on every start and from several processes at
 * once (inserts that lose a race are ignored). Bootstrap ids are derived from names, so two API
 * processes bootstrapping an empty database agree on them.
 *
 * @example
 *   const password = process.env.ADMIN_PASSWORD ?? generatePassword()
 *   await bootstrapIdentity(db, { adminPassword: password })
 */
export async function bootstrapIdentity(db: Kysely<IdentityTables>, options: BootstrapOptions): Promise<BootstrapResult> {
  if (options.adminPassword === '') throw new Error('the admin password must not be empty')
  const ctx = options.ctx ?? systemContext()
  // A password reset here revokes the admin's live tokens like any password change: recorded in the
  // database, where every token service (this process's, or a running API's on refresh) reads it.
  const revoker = new RevocationRecorder(new KyselyRevocationStore(db))
  const store = new IdentityStore(db, { revoker, passwordCost: options.passwordCost })
  const userName = options.adminUserName ?? 'admin'
  const projectName = options.adminProjectName ?? 'admin'

  await store.ensureDomain(ctx, { ...DEFAULT_DOMAIN, description: 'The default domain', enabled: 1 })

  const roleIds = {} as Record<(typeof ROLES)[number], string>
  for (const name of ROLES) {
    const existing = (await store.listRoles(ctx, { name }))[0]
    const role =
      existing ??
      (await createIgnoringRace(
        () => store.createRole(ctx, { id: stableId('role', name), name }),
        async () => (await store.listRoles(ctx, { name }))[0],
      ))
    roleIds[name] = role.id
  }

  const project =
    (await store.findProjectByName(ctx, DEFAULT_DOMAIN.id, projectName)) ??
    (await createIgnoringRace(
      () =>
        store.createProject(ctx, {
          id: stableId('project', projectName),
          name: projectName,
          domainId: DEFAULT_DOMAIN.id,
          description: 'Bootstrap project for initializing the cloud.',
        }),
      () => store.findProjectByName(ctx, DEFAULT_DOMAIN.id, projectName),
    ))

  let user = await store.findUserByName(ctx, DEFAULT_DOMAIN.id, userName)
  const createdAdmin = user === undefined
  if (user === undefined) {
    user = await createIgnoringRace(
      () =>
        store.createUser(ctx, {
          id: stableId('user', userName),
          name: userName,
          domainId: DEFAULT_DOMAIN.id,
          password: options.adminPassword,
        }),
      () => store.findUserByName(ctx, DEFAULT_DOMAIN.id, userName),
    )
  }
  // Reset every run: the operator's configured password is the truth, and the user must be usable.
  // Only an actual change is written, so that a plain restart leaves the admin's tokens alone.
  if (!(await verifyPassword(options.adminPassword, user.password_hash))) {
    await store.updateUser(ctx, user.id, { password: options.adminPassword })
  }
  if (user.enabled !== 1) await store.updateUser(ctx, user.id, { enabled: 1 })

  await store.grant(ctx, { userId: user.id, targetType: 'project', targetId: project.id, roleId: roleIds.admin })
  await store.grant(ctx, { userId: user.id, targetType: 'system', targetId: 'all', roleId: roleIds.admin })

  return { domainId: DEFAULT_DOMAIN.id, adminProjectId: project.id, adminUserId: user.id, roleIds, createdAdmin }
}

/** Runs `create`; when another process created the row first (409), returns the row it made. */
async function createIgnoringRace<T>(create: () => Promise<T>, refetch: () => Promise<T | undefined>): Promise<T> {
  try {
    return await create()
  } catch (err) {
    const winner = await refetch()
    if (winner === undefined) throw err
    return winner
  }
}
