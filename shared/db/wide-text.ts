import type { Kysely } from 'kysely'
import { MysqlAdapter, sql } from 'kysely'

/** A column to widen, and whether it is NOT NULL. */
export interface WideColumn {
  readonly table: string
  readonly column: string
  readonly notNull: boolean
}

/**
 * Makes `columns` MEDIUMTEXT (16 MiB) on MariaDB/MySQL, a no-op on SQLite (whose TEXT has no such
 * limit). MariaDB's TEXT holds 64 KiB, less than what the APIs accept in one record: a build spec
 * carries up to 64 KiB of user_data besides everything else, and 128 metadata items of 255
 * multi-byte characters pass 64 KiB too; in strict mode the insert then fails, and the user would
 * see a 500 for a valid request. For use inside migrations.
 */
export async function widenTextColumns(db: Kysely<any>, columns: readonly WideColumn[]): Promise<void> {
  if (!(db.getExecutor().adapter instanceof MysqlAdapter)) return
  for (const c of columns) {
    await db.schema
      .alterTable(c.table)
      .modifyColumn(c.column, sql`mediumtext`, (col) => (c.notNull ? col.notNull() : col))
      .execute()
  }
}
