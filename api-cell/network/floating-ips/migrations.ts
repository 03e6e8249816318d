import type { Kysely, Migration } from 'kysely'

/**
 * Floating IP migrations, keyed by name; every key starts with `network_fip_`. They need the
 * security group migrations too (`network_quota_locks`); both go into `API_MIGRATIONS`.
 */
export const floatingIpMigrations: Readonly<Record<string, Migration>> = Object.freeze({
  network_fip_0001_initial: {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('floatingips')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('floating_network_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('floating_subnet_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('floating_ip_address', 'varchar(64)', (c) => c.notNull())
        .addColumn('port_id', 'varchar(36)')
        .addColumn('fixed_ip_address', 'varchar(64)')
        .addColumn('description', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('revision_number', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        // One floating IP per (external network, fixed address of a port), as Neutron's constraint.
        .addUniqueConstraint('floatingips_port_fixed_uq', ['floating_network_id', 'port_id', 'fixed_ip_address'])
        .execute()
      await db.schema.createIndex('floatingips_project_idx').on('floatingips').column('project_id').execute()
      await db.schema.createIndex('floatingips_port_idx').on('floatingips').column('port_id').execute()
      await db.schema
        .createTable('floatingip_allocations')
        .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
        .addColumn('floatingip_id', 'varchar(36)', (c) => c.notNull())
        .addPrimaryKeyConstraint('floatingip_allocations_pk', ['subnet_id', 'ip_address'])
        .execute()
    },

    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('floatingip_allocations').execute()
      await db.schema.dropTable('floatingips').execute()
    },
  },
})
