// Review apps' `pr-predestroy` (app.json: `node dist/bin/delete-prefix.js`): deletes every object
// under this app's key prefix (S3_KEY_PREFIX, or one derived from HEROKU_APP_NAME) in the shared
// staging bucket. Refuses in production, and anywhere but a review app (HEROKU_PR_NUMBER, which
// Heroku sets in review apps only) or for the default prefix "images" unless given --force.
import { loadConfigOrReport, keyPrefix } from '../lib/config.ts'
import { createStorage } from '../lib/storage.ts'
import { deletePrefix, deletePrefixRefusal } from '../lib/upload-cleanup.ts'

async function main (): Promise<number> {
  const config = loadConfigOrReport()
  if (!config) return 2
  const prefix = keyPrefix(config)
  // Not part of lib/config.ts: only this command reads it
  const refusal = deletePrefixRefusal({
    environment: config.ENVIRONMENT,
    prefix,
    prNumber: process.env.HEROKU_PR_NUMBER,
    force: process.argv.includes('--force')
  })
  if (refusal !== null) { console.error(`delete-prefix: ${refusal}`); return 3 }
  const storage = createStorage(config)
  try {
    console.log(`delete-prefix: deleting every object under s3://${storage.bucket}/${prefix}/`)
    const deleted = await deletePrefix(storage, prefix, { log: line => console.log(line) })
    console.log(`delete-prefix: ${deleted} object(s) deleted`)
    return 0
  } catch (err) {
    console.error(`delete-prefix failed: ${(err as Error).message}`)
    return 1
  } finally {
    storage.destroy()
  }
}

process.exitCode = await main()
