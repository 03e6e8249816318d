import { z } from 'zod'
import { InvalidError } from '../../shared/errors.js'

/**
 * Request bodies of the identity API, validated with zod. Unknown keys are kept where Keystone keeps
 * them as "extra" attributes (users, projects) and ignored elsewhere, as Keystone does.
 */

/** Names (users, projects, domains, roles): control characters such as NUL are never part of one. */
const name = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine((s) => !/\p{Cc}/u.test(s), 'control characters are not allowed')
const id = z.string().min(1).max(64)
const domainRef = z.object({ id: id.optional(), name: name.optional() })

const passwordMethod = z.object({
  user: z.object({
    id: id.optional(),
    name: name.optional(),
    password: z.string().max(4096),
    domain: domainRef.optional(),
  }),
})

/**
 * Keystone's scope kinds. `OS-TRUST:trust` is parsed only to be refused (we keep no trusts), and
 * `unscoped: {}` is the form older keystoneauth sends. Other keys are kept (not stripped) so that a
 * scope naming nothing we know is refused rather than mistaken for "no scope".
 */
const scope = z.union([
  z.literal('unscoped'),
  z.looseObject({
    project: z.object({ id: id.optional(), name: name.optional(), domain: domainRef.optional() }).optional(),
    domain: domainRef.optional(),
    system: z.object({ all: z.boolean().optional() }).optional(),
    unscoped: z.object({}).optional(),
    'OS-TRUST:trust': z.object({ id: z.string().max(255).optional() }).optional(),
  }),
])

/** `POST /v3/auth/tokens`. */
export const authRequestSchema = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).min(1),
      password: passwordMethod.optional(),
      token: z.object({ id: z.string().min(1).max(8192) }).optional(),
    }),
    scope: scope.optional(),
  }),
})
/** A parsed token request. */
export type AuthRequest = z.infer<typeof authRequestSchema>
/** The `scope` of a token request. */
export type ScopeRequest = NonNullable<AuthRequest['auth']['scope']>
/** A domain given by id or by name. */
export type DomainRef = z.infer<typeof domainRef>

/** `POST /v3/projects`. */
export const createProjectSchema = z.object({
  project: z.looseObject({
    name,
    domain_id: id.optional(),
    description: z.string().max(255).nullable().optional(),
    enabled: z.boolean().optional(),
    is_domain: z.literal(false).optional(),
    parent_id: id.nullable().optional(),
    tags: z.array(z.string().max(255)).max(80).optional(),
  }),
})

/** `PATCH /v3/projects/{id}`. */
export const updateProjectSchema = z.object({
  project: z.looseObject({
    name: name.optional(),
    description: z.string().max(255).nullable().optional(),
    enabled: z.boolean().optional(),
    domain_id: id.optional(),
    tags: z.array(z.string().max(255)).max(80).optional(),
  }),
})

/** `POST /v3/users`. */
export const createUserSchema = z.object({
  user: z.looseObject({
    name,
    domain_id: id.optional(),
    password: z.string().max(4096).nullable().optional(),
    enabled: z.boolean().optional(),
    default_project_id: id.nullable().optional(),
    description: z.string().max(255).nullable().optional(),
  }),
})

/** `PATCH /v3/users/{id}`. */
export const updateUserSchema = z.object({
  user: z.looseObject({
    name: name.optional(),
    password: z.string().max(4096).optional(),
    enabled: z.boolean().optional(),
    default_project_id: id.nullable().optional(),
    description: z.string().max(255).nullable().optional(),
    domain_id: id.optional(),
  }),
})

/** `POST /v3/roles`. */
export const createRoleSchema = z.object({
  role: z.object({
    name,
    description: z.string().max(255).nullable().optional(),
    domain_id: z.null().optional(),
  }),
})

/**
 * Parses `body` or throws {@link InvalidError} with a Keystone-like message naming the first bad field.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.map(String).join('.')
  throw new InvalidError(
    `Invalid input for field '${field}': ${issue?.message ?? 'invalid'}. ` +
      'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  )
}
