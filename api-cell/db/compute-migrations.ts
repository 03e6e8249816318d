import type { Kysely, Migration } from 'kysely'
import { widenTextColumns } from '../../shared/db/wide-text.js'

/** Migrations of the API cell's compute tables (portable across SQLite and MySQL). */
export const computeMigrations: Readonly<Record<string, Migration>> = {
  compute_0001_initial: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cells')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('path', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('parent_path', 'varchar(255)')
        .addColumn('region', 'varchar(255)')
        .addColumn('grpc_address', 'varchar(255)')
        .addColumn('database_url', 'varchar(1024)')
        .addColumn('transport_url', 'varchar(1024)')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled_reason', 'varchar(255)')
        .addColumn('weight_offset', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('event_cursor', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('host_mappings')
        .addColumn('host', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('cell_path', 'varchar(255)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('instance_mappings')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('cell_path', 'varchar(255)')
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('region', 'varchar(255)')
        .addColumn('queued_for_delete', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('build_requests')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('region', 'varchar(255)')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('flavors')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('flavorid', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('root_gb', 'integer', (c) => c.notNull())
        .addColumn('ephemeral_gb', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('swap', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('rxtx_factor', 'double precision', (c) => c.notNull().defaultTo(1))
        .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('description', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('flavor_extra_specs')
        .addColumn('flavor_id', 'integer', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('value', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavor_id', 'key'])
        .execute()
      await db.schema
        .createTable('instance_index')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('vm_state', 'varchar(32)', (c) => c.notNull())
        .addColumn('task_state', 'varchar(64)')
        .addColumn('power_state', 'integer', (c) => c.notNull())
        .addColumn('host', 'varchar(255)')
        .addColumn('availability_zone', 'varchar(255)')
        .addColumn('cell_path', 'varchar(255)')
        .addColumn('region', 'varchar(255)')
        .addColumn('flavor_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('image_ref', 'varchar(255)', (c) => c.notNull())
        .addColumn('reservation_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('instance_index_project').on('instance_index').columns(['project_id', 'created_at']).execute()
      await db.schema.createIndex('instance_index_created').on('instance_index').columns(['created_at', 'uuid']).execute()
    },
  },
  /** Integer ids of hypervisors, services and zone aggregates across cells (see LegacyIdsTable). */
  compute_0002_legacy_ids: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('legacy_ids')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('kind', 'varchar(32)', (c) => c.notNull())
        .addColumn('ref', 'varchar(255)', (c) => c.notNull())
        .addColumn('cell_path', 'varchar(255)')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('legacy_ids_kind_ref', ['kind', 'ref'])
        .execute()
    },
  },
  /** Private flavors: which projects may use them. */
  compute_0003_flavor_access: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('flavor_projects')
        .addColumn('flavor_id', 'integer', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('flavor_projects_pk', ['flavor_id', 'project_id'])
        .execute()
    },
  },
  /** Key pairs, unique by (user, name). */
  compute_0004_keypairs: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('key_pairs')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(255)', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint')
        .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
        .execute()
    },
  },
  /** Server groups and their members. */
  compute_0005_server_groups: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('instance_groups')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('policy', 'varchar(32)', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('instance_groups_project').on('instance_groups').columns(['project_id', 'created_at']).execute()
      await db.schema
        .createTable('instance_group_members')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('group_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('instance_group_members_group').on('instance_group_members').columns(['group_id']).execute()
    },
  },
  /** Quota overrides, quota classes (defaults), per-scope quota locks, and what each instance was charged. */
  compute_0006_quotas: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('quotas')
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().defaultTo(''))
        .addColumn('resource', 'varchar(64)', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'user_id', 'resource'])
        .execute()
      await db.schema
        .createTable('quota_classes')
        .addColumn('class_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(64)', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
        .execute()
      await db.schema
        .createTable('quota_locks')
        .addColumn('scope', 'varchar(160)', (c) => c.primaryKey())
        .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema
        .createTable('quota_instance_usage')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .execute()
    },
  },
  /**
   * The region a build was last sent to without a definite answer: after an API restart the
   * build is asked of that region again first, never placed a second time elsewhere.
   */
  compute_0007_build_dispatch_cell: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('build_requests').addColumn('dispatch_cell', 'varchar(255)').execute()
    },
  },
  /** MEDIUMTEXT on MariaDB for build specs, which carry up to 64 KiB of user_data (see wide-text.ts). */
  compute_0008_wide_text: {
    async up(db: Kysely<any>) {
      await widenTextColumns(db, [{ table: 'build_requests', column: 'spec', notNull: true }])
    },
  },
  /** Host aggregates created through the API, their hosts and metadata. */
  compute_0010_aggregates: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('aggregates')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('legacy_id', 'integer', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint')
        .execute()
      await db.schema
        .createTable('aggregate_hosts')
        .addColumn('aggregate_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_uuid', 'host'])
        .execute()
      await db.schema
        .createTable('aggregate_metadata')
        .addColumn('aggregate_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('value', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_uuid', 'key'])
        .execute()
    },
  },
  /**
   * Unshelves into another cell under way (api-cell/scheduler/unshelve-mover.ts): one row per
   * instance, its step persisted so that an API restart resumes the move where it stopped.
   */
  compute_0011_unshelve_moves: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('unshelve_moves')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('source_cell', 'varchar(255)', (c) => c.notNull())
        .addColumn('target_cell', 'varchar(255)')
        .addColumn('target_host', 'varchar(255)')
        .addColumn('step', 'varchar(16)', (c) => c.notNull())
        .addColumn('ranked', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('fallback', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await widenTextColumns(db, [{ table: 'unshelve_moves', column: 'spec', notNull: true }])
    },
  },
  /** Server tags in the instance index (a JSON array), for the 2.26 list filters. */
  compute_0009_instance_tags: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instance_index').addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]')).execute()
    },
  },
  /** Cross-cell cold migrations and resizes, the API cell's saga state (see CrossCellMigrationsTable). */
  compute_0012_cross_cell_migrations: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cross_cell_migrations')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        // The instance's uuid while the move is unfinished, null after: at most one move at a time.
        .addColumn('active_instance', 'varchar(36)', (c) => c.unique())
        .addColumn('migration_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('source_cell', 'varchar(255)', (c) => c.notNull())
        .addColumn('target_cell', 'varchar(255)')
        .addColumn('source_host', 'varchar(255)', (c) => c.notNull())
        .addColumn('source_node', 'varchar(255)', (c) => c.notNull())
        .addColumn('dest_host', 'varchar(255)')
        .addColumn('dest_node', 'varchar(255)')
        .addColumn('requested_host', 'varchar(255)')
        .addColumn('old_flavor', 'text', (c) => c.notNull())
        .addColumn('new_flavor', 'text', (c) => c.notNull())
        .addColumn('previous_vm_state', 'varchar(32)', (c) => c.notNull())
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('tried_cells', 'text', (c) => c.notNull())
        .addColumn('auto_confirm', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('message', 'varchar(255)')
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('cross_cell_migrations_instance').on('cross_cell_migrations').column('instance_uuid').execute()
      await widenTextColumns(db, [{ table: 'cross_cell_migrations', column: 'instance', notNull: true }])
    },
  },
  /**
   * Indexes for `GET /servers` at scale (bench/listing-bench.ts, issue #12): `status` reads an
   * exact vm_state within the project, newest first, instead of scanning the project's servers;
   * `sort_key=updated_at` and `changes-since` across projects read updated_at in order. Not
   * (project_id, updated_at): with it SQLite (no statistics) took it for every `changes-since`
   * and sorted all the project's changes for each page of 1,000 (0.4 s at 100,000 servers), where
   * walking (project_id, created_at) and testing updated_at stops after one page.
   */
  compute_0013_instance_index_listing: {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.createIndex('instance_index_updated').on('instance_index').columns(['updated_at', 'uuid']).execute()
      await db.schema.createIndex('instance_index_project_state').on('instance_index').columns(['project_id', 'vm_state', 'created_at']).execute()
    },
  },
}
