// Procfile `release:` command: apply pending migrations, exit non-zero on any failure so
// Heroku does not deploy the release. Short connect timeout: a release must fail fast.
import { loadConfigOrReport } from '../lib/config.ts'
import { createSql } from '../lib/db.ts'
import { migrate } from '../lib/migrate.ts'
import { parseArgs } from 'node:util'

async function main (): Promise<number> {
  // --dir exists for tests of failing migrations; Heroku runs the command without arguments
  const { values } = parseArgs({ options: { dir: { type: 'string' } } })
  const config = loadConfigOrReport()
  if (!config) return 2
  // Migrations may legitimately run long (1 h release limit): no statement timeout here
  const sql = createSql(config, { max: 1, applicationName: 'gallery-api-release', connectTimeoutSeconds: 10, statementTimeoutMs: 0 })
  try {
    const { applied, skipped } = await migrate(sql, values.dir, msg => console.log(msg))
    console.log(`migrations: ${applied.length} applied, ${skipped.length} already applied`)
    return 0
  } catch (err) {
    console.error(`migration failed: ${(err as Error).message}`)
    return 1
  } finally {
    await sql.end({ timeout: 5 })
  }
}

process.exitCode = await main()
