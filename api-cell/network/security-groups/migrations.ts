import type { Kysely, Migration } from 'kysely'

/**
 * Security group migrations, keyed by name; every key starts with `network_sg_` (unordered
 * migrations, see `migrateToLatest`). Merged into the API database's `API_MIGRATIONS`.
 */
export const securityGroupMigrations: Readonly<Record<string, Migration>> = Object.freeze({
  network_sg_0001_initial: {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('securitygroups')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('description', 'varchar(255)', (c) => c.notNull())
        .addColumn('stateful', 'integer', (c) => c.notNull())
        .addColumn('revision_number', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('securitygroups_project_idx').on('securitygroups').columns(['project_id', 'name']).execute()
      await db.schema
        .createTable('securitygrouprules')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('direction', 'varchar(16)', (c) => c.notNull())
        .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
        .addColumn('protocol', 'varchar(40)')
        .addColumn('port_range_min', 'integer')
        .addColumn('port_range_max', 'integer')
        .addColumn('remote_ip_prefix', 'varchar(64)')
        .addColumn('remote_group_id', 'varchar(36)')
        .addColumn('description', 'varchar(255)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('revision_number', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        // Table constraints, not column REFERENCES: MySQL ignores the latter.
        .addForeignKeyConstraint('securitygrouprules_group_fk', ['security_group_id'], 'securitygroups', ['id'], (fk) => fk.onDelete('cascade'))
        .addForeignKeyConstraint('securitygrouprules_remote_fk', ['remote_group_id'], 'securitygroups', ['id'], (fk) => fk.onDelete('cascade'))
        .execute()
      await db.schema.createIndex('securitygrouprules_group_idx').on('securitygrouprules').column('security_group_id').execute()
      await db.schema.createIndex('securitygrouprules_remote_idx').on('securitygrouprules').column('remote_group_id').execute()
      await db.schema.createIndex('securitygrouprules_project_idx').on('securitygrouprules').column('project_id').execute()
      await db.schema
        .createTable('default_security_groups')
        .addColumn('project_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('securitygroupportbindings')
        .addColumn('port_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull())
        .addPrimaryKeyConstraint('securitygroupportbindings_pk', ['port_id', 'security_group_id'])
        // No cascade: a group a port uses cannot be deleted, whatever races the delete.
        .addForeignKeyConstraint('securitygroupportbindings_group_fk', ['security_group_id'], 'securitygroups', ['id'])
        .execute()
      await db.schema.createIndex('securitygroupportbindings_group_idx').on('securitygroupportbindings').column('security_group_id').execute()
      await db.schema
        .createTable('network_quota_locks')
        .addColumn('scope', 'varchar(160)', (c) => c.primaryKey())
        .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
    },

    async down(db: Kysely<any>): Promise<void> {
      for (const t of ['network_quota_locks', 'securitygroupportbindings', 'default_security_groups', 'securitygrouprules', 'securitygroups']) {
        await db.schema.dropTable(t).execute()
      }
    },
  },
})
