// Release-phase migrations: each file in one transaction, serialized across concurrent
// releases by an advisory lock, recorded in schema_migrations so a re-run is a no-op.
// @see https://devcenter.heroku.com/articles/release-phase
import { readdir, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import type { Sql } from './db.ts'

// Any fixed 64-bit number works; it only has to be the same for every release of this app.
const MIGRATION_LOCK_ID = 4_171_204_519

/** migrations/ sits at the project root, both when run from source and from dist/. */
export function findMigrationsDir (from = import.meta.dirname): string {
  let dir = resolve(from)
  for (;;) {
    const candidate = join(dir, 'migrations')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no migrations/ folder above ${from}`)
    dir = parent
  }
}

export interface MigrationResult { applied: string[], skipped: string[] }

export async function migrate (sql: Sql, dir = findMigrationsDir(), log: (msg: string) => void = () => {}): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter(f => /^\d+_[\w-]+\.sql$/.test(f)).sort()
  const reserved = await sql.reserve()
  try {
    await reserved`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    try {
      await reserved`create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())`
      const done = new Set((await reserved<{ name: string }[]>`select name from schema_migrations`).map(r => r.name))
      const result: MigrationResult = { applied: [], skipped: [] }
      for (const file of files) {
        if (done.has(file)) { result.skipped.push(file); continue }
        const text = await readFile(join(dir, file), 'utf8')
        await reserved`begin`
        try {
          await reserved.unsafe(text).simple()
          await reserved`insert into schema_migrations (name) values (${file})`
          await reserved`commit`
        } catch (err) {
          await reserved`rollback`.catch(() => {})
          throw Object.assign(new Error(`migration ${file} failed: ${(err as Error).message}`), { cause: err })
        }
        result.applied.push(file)
        log(`applied ${file}`)
      }
      return result
    } finally {
      await reserved`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {})
    }
  } finally {
    reserved.release()
  }
}
