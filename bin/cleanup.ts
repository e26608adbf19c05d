// `npm run cleanup` (Heroku Scheduler: `node dist/bin/cleanup.js`, every 10 minutes): removes
// abandoned pending uploads past expiry plus grace, with their S3 objects, and old rejected
// rows. Safe to run twice at once. Prints what it did; exits non-zero on any failure.
import { loadConfigOrReport } from '../lib/config.ts'
import { createSql } from '../lib/db.ts'
import { createStorage } from '../lib/storage.ts'
import { cleanupUploads } from '../lib/upload-cleanup.ts'

async function main (): Promise<number> {
  const config = loadConfigOrReport()
  if (!config) return 2
  const sql = createSql(config, { max: 1, applicationName: 'gallery-api-cleanup', connectTimeoutSeconds: 10 })
  const storage = createStorage(config)
  try {
    const result = await cleanupUploads(sql, storage, { log: line => console.log(line) })
    console.log(`cleanup: ${result.pendingRemoved} abandoned pending upload(s) removed (${result.objectsDeleted} object(s) deleted), ${result.rejectedRemoved} old rejected row(s) removed`)
    return 0
  } catch (err) {
    console.error(`cleanup failed: ${(err as Error).message}`)
    return 1
  } finally {
    await sql.end({ timeout: 5 })
    storage.destroy()
  }
}

process.exitCode = await main()
