import type { Kysely, Migration } from 'kysely'

/**
 * Identity migrations, keyed by name. The API database runs unordered migrations so that identity,
 * image and compute each own their keys; every key here starts with `identity_`.
 */
export const identityMigrations: Readonly<Record<string, Migration>> = Object.freeze({
  identity_0001_initial: {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('domains')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('description', 'varchar(255)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()

      await db.schema
        .createTable('projects')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('domain_id', 'varchar(64)', (c) => c.notNull().references('domains.id'))
        .addColumn('description', 'varchar(255)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('projects_domain_name_uq', ['domain_id', 'name'])
        .execute()

      await db.schema
        .createTable('users')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('domain_id', 'varchar(64)', (c) => c.notNull().references('domains.id'))
        .addColumn('password_hash', 'varchar(255)')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('default_project_id', 'varchar(64)')
        .addColumn('description', 'varchar(255)')
        .addColumn('extra', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('users_domain_name_uq', ['domain_id', 'name'])
        .execute()

      await db.schema
        .createTable('roles')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('description', 'varchar(255)')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()

      // No foreign keys on target_id: it names a project, a domain or `all` depending on target_type.
      await db.schema
        .createTable('role_assignments')
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('target_type', 'varchar(16)', (c) => c.notNull())
        .addColumn('target_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('role_id', 'varchar(64)', (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('role_assignments_pk', ['user_id', 'target_type', 'target_id', 'role_id'])
        .execute()
      await db.schema
        .createIndex('role_assignments_target_idx')
        .on('role_assignments')
        .columns(['target_type', 'target_id'])
        .execute()

      await db.schema
        .createTable('token_revocations')
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('target_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('token_revocations_pk', ['kind', 'target_id'])
        .execute()
      await db.schema.createIndex('token_revocations_expires_idx').on('token_revocations').column('expires_at').execute()
    },

    async down(db: Kysely<any>): Promise<void> {
      for (const table of ['token_revocations', 'role_assignments', 'roles', 'users', 'projects', 'domains']) {
        await db.schema.dropTable(table).execute()
      }
    },
  },
})
