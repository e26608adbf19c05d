import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, copyFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { getServices, testEnv } from '../helpers/services.ts'
import { findMigrationsDir, migrate } from '../../lib/migrate.ts'
import { spawnNode } from '../helpers/spawn.ts'

async function tables (url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return (await sql<{ t: string }[]>`select table_name as t from information_schema.tables where table_schema = 'public' order by 1`).map(r => r.t)
  } finally { await sql.end() }
}

async function applied (url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return (await sql<{ name: string }[]>`select name from schema_migrations order by name`).map(r => r.name)
  } finally { await sql.end() }
}

/** A migrations folder: the real ones plus extra files. */
async function folderWith (extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gallery-migrations-'))
  const real = findMigrationsDir()
  for (const f of await readdir(real)) await copyFile(join(real, f), join(dir, f))
  for (const [name, text] of Object.entries(extra)) await writeFile(join(dir, name), text)
  return dir
}

test('the release command applies every migration once; a second run is a no-op', async () => {
  const services = await getServices()
  const url = await services.newDatabase()
  const env = await testEnv({ DATABASE_URL: url })
  const first = spawnNode(['bin/migrate.ts'], env)
  assert.equal((await first.exited).code, 0, first.output())
  assert.match(first.output(), /applied 001_gallery\.sql/)
  assert.ok((await tables(url)).includes('images'))
  const second = spawnNode(['bin/migrate.ts'], env)
  assert.equal((await second.exited).code, 0, second.output())
  assert.match(second.output(), /0 applied, \d+ already applied/)
})

test('a failing migration exits non-zero and leaves the schema unchanged', async () => {
  const services = await getServices()
  const url = await services.newDatabase()
  const env = await testEnv({ DATABASE_URL: url })
  assert.equal((await spawnNode(['bin/migrate.ts'], env).exited).code, 0)
  const before = await tables(url)
  const dir = await folderWith({
    '900_half_done.sql': 'create table half_done (id int);\ninsert into half_done values (1);\nselect * from no_such_table;\n'
  })
  const run = spawnNode(['bin/migrate.ts', '--dir', dir], env)
  const { code } = await run.exited
  assert.notEqual(code, 0)
  assert.match(run.output(), /migration 900_half_done\.sql failed/)
  assert.deepEqual(await tables(url), before, 'the half-done table was rolled back')
  assert.ok(!(await applied(url)).includes('900_half_done.sql'))
})

test('an unreachable database exits non-zero quickly', async () => {
  const env = await testEnv({ DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:1/nothing' })
  const run = spawnNode(['bin/migrate.ts'], env)
  const { code } = await run.exited
  assert.notEqual(code, 0)
  assert.match(run.output(), /migration failed/)
})

test('two concurrent runs serialize on the advisory lock: each migration applied exactly once', async () => {
  const services = await getServices()
  const url = await services.newDatabase()
  const dir = await folderWith({ '950_slow.sql': 'select pg_sleep(0.5);\ncreate table slow_marker (id int);\n' })
  const a = postgres(url, { max: 1, onnotice: () => {} })
  const b = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [ra, rb] = await Promise.all([migrate(a, dir), migrate(b, dir)])
    const all = [...ra.applied, ...rb.applied].sort()
    // Without the lock both would try 001 and one would fail on "relation already exists"
    assert.deepEqual(all, ['001_gallery.sql', '950_slow.sql'])
    assert.ok(ra.applied.length === 0 || rb.applied.length === 0, 'one run did everything, the other found nothing to do')
  } finally {
    await a.end(); await b.end()
  }
  assert.deepEqual(await applied(url), ['001_gallery.sql', '950_slow.sql'])
})
