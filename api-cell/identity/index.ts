/**
 * Identity (Keystone v3 subset) for the API cell: signed tokens, policy, the identity router, the
 * auth middleware the compute and image listeners put in front of their routes, and bootstrap.
 */
export { authMiddleware, authOf, contextOf, policySubjectOf, requestIdOf, toAuthContext } from './auth.js'
export type { AuthContext, AuthMiddlewareOptions } from './auth.js'
export { bootstrapIdentity, DEFAULT_DOMAIN } from './bootstrap.js'
export type { BootstrapOptions, BootstrapResult } from './bootstrap.js'
export { buildCatalog, INTERFACES, resolveCatalog, stableId } from './catalog.js'
export type { CatalogConfig, CatalogEndpoint, CatalogService, CatalogSource, EndpointInterface } from './catalog.js'
export { keystoneErrorHandler, titleOf, toHttpFailure } from './http-errors.js'
export type { ErrorLogger, HttpFailure } from './http-errors.js'
export { identityMigrations } from './migrations.js'
export { DEFAULT_SCRYPT_COST, generatePassword, hashPassword, verifyPassword } from './password-hasher.js'
export type { ScryptCost } from './password-hasher.js'
export { authorize, IMPLIED_ROLES, isAllowed, POLICY, POLICY_RULES, ROLES, withImpliedRoles } from './policy.js'
export type { PolicyEntry, PolicyRule, PolicySubject, PolicyTarget, Role } from './policy.js'
export { KyselyRevocationStore } from './revocation-store.js'
export type { RevocationEvent, RevocationStore } from './revocation-store.js'
export { identityRouter } from './router.js'
export type { IdentityRouterDeps } from './router.js'
export type { IdentityTables } from './schema.js'
export { newAuditId, TokenService } from './tokens.js'
export type { IssueArgs, IssuedToken, TokenData, TokenRole, TokenScope, TokenServiceOptions, TokenUser } from './tokens.js'
