// Per-process cache of public GET responses (serialized body + strong ETag), keyed by route and
// validated query. Single flight: a burst of misses for one key runs one query, so the queries
// in flight stay bounded by the distinct keys being filled and then by the pool itself.
// Invalidation is global (any gallery change clears everything): writes NOTIFY a channel that
// every process LISTENs to (see plugins/public-cache.ts). Entries also expire after ttlMs, so a
// lost LISTEN connection can only make data stale for that long.
import { createHash } from 'node:crypto'
import type postgres from 'postgres'

export const CHANGE_CHANNEL = 'gallery_changed'

/** Inside the write's transaction: Postgres delivers the notification only if it commits. */
export async function notifyChanged (tx: postgres.TransactionSql | postgres.Sql): Promise<void> {
  await tx`select pg_notify(${CHANGE_CHANNEL}, '')`
}

export interface CachedResponse { payload: string, etag: string }

export interface PublicCacheOptions {
  ttlMs?: number
  maxEntries?: number
  now?: () => number
}

export function strongEtag (payload: string): string {
  return `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`
}

/** RFC 9110 If-None-Match: weak comparison, a list of tags, or "*". */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some(tag => tag.trim().replace(/^W\//, '') === etag)
}

export function createPublicCache ({ ttlMs = 5000, maxEntries = 2000, now = Date.now }: PublicCacheOptions = {}) {
  const entries = new Map<string, { value: CachedResponse, at: number }>()
  const inFlight = new Map<string, Promise<CachedResponse>>()
  // Bumped by every invalidation: a fill that started before it must not store its (maybe stale) result
  let generation = 0
  // Only store entries while invalidations can reach us (LISTEN established)
  let enabled = false
  const stats = { hits: 0, misses: 0, fills: 0, invalidations: 0 }

  return {
    async get (key: string, fill: () => Promise<string>): Promise<CachedResponse> {
      const hit = entries.get(key)
      if (hit !== undefined && now() - hit.at < ttlMs) { stats.hits++; return hit.value }
      stats.misses++
      const pending = inFlight.get(key)
      if (pending !== undefined) return await pending
      const started = generation
      const promise = (async () => {
        stats.fills++
        const payload = await fill()
        const value = { payload, etag: strongEtag(payload) }
        if (enabled && started === generation) {
          entries.delete(key)
          // Map keeps insertion order: the first key is the oldest entry
          if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!)
          entries.set(key, { value, at: now() })
        }
        return value
      })()
      inFlight.set(key, promise)
      try {
        return await promise
      } finally {
        if (inFlight.get(key) === promise) inFlight.delete(key)
      }
    },
    invalidate (): void {
      generation++
      stats.invalidations++
      entries.clear()
      // Requests arriving after a change must not join a fill that may predate it
      inFlight.clear()
    },
    /** Turn storing on (LISTEN is up) or off (it is not: single flight only). Either way clears. */
    setEnabled (value: boolean): void {
      enabled = value
      this.invalidate()
    },
    get enabled (): boolean { return enabled },
    size: () => entries.size,
    stats
  }
}

export type PublicCache = ReturnType<typeof createPublicCache>
