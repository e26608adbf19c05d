// Removes abandoned uploads: pending rows whose presigned POST expired (plus a grace period)
// with their objects, and rejected rows after a day (their objects were deleted on rejection).
// Run by bin/cleanup.ts on a schedule; the bucket's lifecycle rule on state=pending objects is
// the backstop for anything this misses (an incoming object re-POSTed after completion, say).
import type { Sql } from './db.ts'
import type { Storage } from './storage.ts'
import { incomingKey } from './uploads.ts'

export interface CleanupOptions {
  /** Time after expires_at before a pending upload is abandoned (a completion may be in flight). */
  graceSeconds?: number
  /** Age (since rejection) at which rejected rows are dropped; kept a while so the client can read the reason. */
  rejectedAfterSeconds?: number
  batchSize?: number
  log?: (line: string) => void
}

interface Claimed { id: string, key: string }

export interface CleanupResult { pendingRemoved: number, objectsDeleted: number, rejectedRemoved: number }

/**
 * Batches run in a transaction that claims rows with FOR UPDATE SKIP LOCKED, deletes their
 * objects, then the rows. Two runs at once claim disjoint rows; if S3 fails the transaction
 * rolls back and the rows stay for the next run (no row without an object is left behind, and
 * no object loses its row while it is still referenced). A completion racing a claimed row
 * waits on the lock and then finds the row gone (404).
 */
export async function cleanupUploads (sql: Sql, storage: Storage, opts: CleanupOptions = {}): Promise<CleanupResult> {
  const grace = opts.graceSeconds ?? 15 * 60
  const rejectedAfter = opts.rejectedAfterSeconds ?? 24 * 3600
  const batchSize = opts.batchSize ?? 500
  const log = opts.log ?? (() => {})
  const result: CleanupResult = { pendingRemoved: 0, objectsDeleted: 0, rejectedRemoved: 0 }

  const sweep = async (status: 'pending' | 'rejected'): Promise<void> => {
    for (;;) {
      const claimed = await sql.begin(async (tx): Promise<Claimed[]> => {
        const rows = status === 'pending'
          ? await tx<Claimed[]>`
              select id, key from images
              where status = 'pending' and expires_at < now() - make_interval(secs => ${grace})
              order by expires_at limit ${batchSize} for update skip locked`
          : await tx<Claimed[]>`
              select id, key from images
              where status = 'rejected' and updated_at < now() - make_interval(secs => ${rejectedAfter})
              order by updated_at limit ${batchSize} for update skip locked`
        if (rows.length === 0) return []
        // Both keys of each upload: the incoming one the form writes (and can write again until
        // it expires, even after a rejection) and the final one, which a completion that failed
        // between its copy and its update may have left. Deleting a missing key is harmless.
        await storage.deleteMany(rows.flatMap(r => [incomingKey(r.key), r.key]))
        await tx`delete from images where id = any(${rows.map(r => r.id)}::uuid[])`
        return [...rows]
      }) as Claimed[]
      for (const r of claimed) log(`removed ${status} upload ${r.id} (${r.key})`)
      if (status === 'pending') {
        result.pendingRemoved += claimed.length
        result.objectsDeleted += claimed.length
      } else {
        result.rejectedRemoved += claimed.length
      }
      if (claimed.length < batchSize) return
    }
  }

  await sweep('pending')
  await sweep('rejected')
  return result
}

export interface DeletePrefixContext {
  environment: string
  prefix: string
  /** HEROKU_PR_NUMBER: Heroku sets it in review apps (app.json declares it), nowhere else. */
  prNumber?: string | undefined
  force: boolean
}

/**
 * Why deleting every object under this app's prefix is refused, or null when it may go ahead.
 * Only review apps may run it unasked: staging's prefix is its app name too when HEROKU_APP_NAME
 * is set, so "not production" is not enough. --force overrides everything but production.
 */
export function deletePrefixRefusal ({ environment, prefix, prNumber, force }: DeletePrefixContext): string | null {
  if (environment === 'production') return 'refusing to delete objects in production (ENVIRONMENT=production)'
  if (force) return null
  if (prNumber === undefined || prNumber === '') return `refusing to delete every object under "${prefix}/": this is not a review app (HEROKU_PR_NUMBER is not set); pass --force if you mean it`
  if (prefix === 'images') return 'refusing to delete the default prefix "images" (shared by staging/production images); pass --force if you mean it'
  return null
}

/** Deletes every object under `<prefix>/` (the slash keeps app-pr-1 from matching app-pr-12). */
export async function deletePrefix (storage: Storage, prefix: string, { log = () => {}, pageSize }: { log?: (line: string) => void, pageSize?: number } = {}): Promise<number> {
  let deleted = 0
  // Deleting while listing is fine: each page starts after the last key of the previous one
  for await (const keys of storage.listByPrefix(`${prefix}/`, { pageSize })) {
    deleted += await storage.deleteMany(keys)
    log(`deleted ${deleted} object(s) so far`)
  }
  return deleted
}
