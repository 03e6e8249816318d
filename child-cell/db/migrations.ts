import type { Kysely, Migration } from 'kysely'
import { widenTextColumns } from '../../shared/db/wide-text.js'

/** Cell DB migrations, portable across SQLite and MySQL. */
export const cellMigrations: Readonly<Record<string, Migration>> = {
  cell_0001_initial: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('services')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('binary', 'varchar(64)', (c) => c.notNull())
        .addColumn('topic', 'varchar(255)', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled_reason', 'varchar(255)')
        .addColumn('forced_down', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen_up', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('services_host_binary', ['host', 'binary'])
        .execute()
      await db.schema
        .createTable('compute_nodes')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('host', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('hypervisor_hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('host_ip', 'varchar(64)', (c) => c.notNull())
        .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('local_gb', 'integer', (c) => c.notNull())
        .addColumn('vcpus_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('memory_mb_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('local_gb_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('running_vms', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cpu_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('ram_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('disk_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('reserved_host_memory_mb', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reserved_host_disk_gb', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('hypervisor_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('hypervisor_version', 'integer', (c) => c.notNull())
        .addColumn('cpu_arch', 'varchar(32)', (c) => c.notNull())
        .addColumn('cpu_info', 'text', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('instances')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)')
        .addColumn('node', 'varchar(255)')
        .addColumn('availability_zone', 'varchar(255)')
        .addColumn('flavor', 'text', (c) => c.notNull())
        .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('image_ref', 'varchar(255)', (c) => c.notNull())
        .addColumn('vm_state', 'varchar(32)', (c) => c.notNull())
        .addColumn('task_state', 'varchar(64)')
        .addColumn('power_state', 'integer', (c) => c.notNull())
        .addColumn('key_name', 'varchar(255)')
        .addColumn('key_data', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('user_data', 'text')
        .addColumn('description', 'varchar(255)')
        .addColumn('reservation_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('launch_index', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_by', 'varchar(16)')
        .addColumn('locked_reason', 'varchar(255)')
        .addColumn('config_drive', 'varchar(16)', (c) => c.notNull().defaultTo(''))
        .addColumn('access_ip_v4', 'varchar(64)')
        .addColumn('access_ip_v6', 'varchar(64)')
        .addColumn('fault', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('launched_at', 'bigint')
        .addColumn('terminated_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('deleted_at', 'bigint')
        .execute()
      await db.schema.createIndex('instances_host').on('instances').columns(['host', 'deleted']).execute()
      await db.schema.createIndex('instances_project').on('instances').columns(['project_id', 'deleted']).execute()
      await db.schema
        .createTable('allocations')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('node_id', 'integer', (c) => c.notNull())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('disk_gb', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('allocations_node').on('allocations').column('node_id').execute()
      await db.schema
        .createTable('instance_actions')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('request_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('action', 'varchar(64)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('start_time', 'bigint', (c) => c.notNull())
        .addColumn('finish_time', 'bigint')
        .addColumn('message', 'varchar(255)')
        .execute()
      await db.schema.createIndex('instance_actions_uuid').on('instance_actions').column('instance_uuid').execute()
      await db.schema
        .createTable('instance_action_events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('action_id', 'integer', (c) => c.notNull())
        .addColumn('event', 'varchar(64)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)')
        .addColumn('start_time', 'bigint', (c) => c.notNull())
        .addColumn('finish_time', 'bigint')
        .addColumn('result', 'varchar(32)')
        .execute()
      await db.schema.createIndex('instance_action_events_action').on('instance_action_events').column('action_id').execute()
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('cell_path', 'varchar(255)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('instance_index')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('cell_path', 'varchar(255)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('cell_state')
        .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute()
    },
  },
  /**
   * Scheduling state: the build spec a leaf keeps while an instance is building (to retry it on
   * another host, or hand it back up the tree), and the per-host member counters of server groups
   * that make group policies atomic with the resource claim.
   */
  cell_0002_scheduling: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('build_specs')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('tried_hosts', 'text', (c) => c.notNull())
        .addColumn('faults', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('server_group_hosts')
        .addColumn('group_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('slot', 'varchar(255)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('members', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('server_group_hosts_pk', ['group_uuid', 'slot'])
        .execute()
      await db.schema
        .createTable('server_group_claims')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('group_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('slot', 'varchar(255)', (c) => c.notNull())
        .execute()
    },
  },
  /** The row outbox writers lock so that outbox ids commit in order (db/outbox-writer.ts). */
  cell_0003_outbox_writer: {
    async up(db: Kysely<any>) {
      await db.insertInto('cell_state').values({ key: 'outbox_writer', value: '0' }).execute()
    },
  },
  /** MEDIUMTEXT on MariaDB for what a valid request can make larger than 64 KiB (see wide-text.ts). */
  cell_0004_wide_text: {
    async up(db: Kysely<any>) {
      await widenTextColumns(db, [
        { table: 'instances', column: 'metadata', notNull: true },
        { table: 'instances', column: 'user_data', notNull: false },
        { table: 'build_specs', column: 'spec', notNull: true },
        { table: 'outbox', column: 'payload', notNull: true },
      ])
    },
  },
  /** Server tags (compute API 2.26), as a JSON array on the instance. */
  cell_0005_instance_tags: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]')).execute()
    },
  },
  /** Moves of instances between hosts (resize, migrations, evacuation): see schema.ts `MigrationsTable`. */
  cell_0006_migrations: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('migrations')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('migration_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('source_host', 'varchar(255)', (c) => c.notNull())
        .addColumn('source_node', 'varchar(255)', (c) => c.notNull())
        .addColumn('dest_host', 'varchar(255)')
        .addColumn('dest_node', 'varchar(255)')
        .addColumn('old_flavor', 'text', (c) => c.notNull())
        .addColumn('new_flavor', 'text', (c) => c.notNull())
        .addColumn('previous_vm_state', 'varchar(32)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('migrations_instance').on('migrations').column('instance_uuid').execute()
    },
  },
  /** The snapshot image of a shelved instance (unshelve spawns from it once offloaded). */
  cell_0007_shelved_image: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('shelved_image_id', 'varchar(36)').execute()
    },
  },
  /**
   * The interfaces an instance was built with (its build spec's `networkInfo`, JSON; NULL: no
   * network), so that every later spawn of its guest renders the same interfaces. MEDIUMTEXT on
   * MariaDB: 16 ports of 500 rules each pass 64 KiB.
   */
  cell_0008_instance_network_info: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('network_info', 'text').execute()
      await widenTextColumns(db, [{ table: 'instances', column: 'network_info', notNull: false }])
    },
  },
}
