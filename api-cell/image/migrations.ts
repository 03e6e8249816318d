import type { Kysely, Migration } from 'kysely'

/** Image migrations, keyed by name; every key starts with `image_` (unordered migrations). */
export const imageMigrations: Readonly<Record<string, Migration>> = Object.freeze({
  image_0001_initial: {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('images')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)')
        .addColumn('status', 'varchar(30)', (c) => c.notNull())
        .addColumn('visibility', 'varchar(20)', (c) => c.notNull())
        .addColumn('container_format', 'varchar(32)')
        .addColumn('disk_format', 'varchar(32)')
        .addColumn('size', 'bigint')
        .addColumn('virtual_size', 'bigint')
        .addColumn('checksum', 'varchar(32)')
        .addColumn('os_hash_algo', 'varchar(64)')
        .addColumn('os_hash_value', 'varchar(128)')
        .addColumn('min_disk', 'integer', (c) => c.notNull())
        .addColumn('min_ram', 'integer', (c) => c.notNull())
        .addColumn('protected', 'integer', (c) => c.notNull())
        .addColumn('os_hidden', 'integer', (c) => c.notNull())
        .addColumn('owner', 'varchar(64)')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('images_owner_idx').on('images').column('owner').execute()
      await db.schema.createIndex('images_visibility_idx').on('images').column('visibility').execute()
      await db.schema.createIndex('images_name_idx').on('images').column('name').execute()
    },

    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('images').execute()
    },
  },
})
