// Per-process cache of public GET responses (serialized body + strong ETag), keyed by route and
// validated query. Single flight: a burst of misses for one key runs one query, so the queries
// in flight stay bounded by the distinct keys being filled and then by the pool itself.
// Invalidation is global (any gallery change clears everything): writes NOTIFY a channel that
// every process LISTENs to (see plugins/public-cache.ts). Entries also expire after ttlMs, so a
// lost LISTEN connection can only make data stale for that long.
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib'
import type postgres from 'postgres'

const gzip = promisify(gzipCallback)
const gunzip = promisify(gunzipCallback)

export const CHANGE_CHANNEL = 'gallery_changed'

/** Inside the write's transaction: Postgres delivers the notification only if it commits. */
export async function notifyChanged (tx: postgres.TransactionSql | postgres.Sql): Promise<void> {
  await tx`select pg_notify(${CHANGE_CHANNEL}, '')`
}

// The body is kept encoded: a hit writes these bytes as they are, where a string would be
// measured and UTF-8 encoded again on every response (a 20 KB page, thousands of times a second)
export interface Representation { payload: Buffer, etag: string }
/**
 * The identity body and, for bodies worth it, a gzip copy made once at fill time. Heroku's
 * router does not compress, and compressing per response (@fastify/compress) would spend the
 * CPU again on every hit; a cached page is read thousands of times, so it is gzipped once.
 * A 20 KB list page is ~3.4 KB gzipped: less to write per hit, far less for a phone to fetch.
 *
 * An entry with a gzip copy keeps only that copy: browsers and phone HTTP stacks all send
 * Accept-Encoding: gzip, so the identity body is for the odd client (curl, a script), and
 * keeping both held ~6x the bytes per page (20 KB + 3.4 KB against 3.4 KB), under a byte cap
 * that anonymous clients can fill with forged cursors. The identity body is inflated from
 * the copy when a client first asks for it (identity() below) and then kept with the entry.
 * `payload` is the identity body when at hand: always for the requests that waited on the
 * fill, and for entries without a gzip copy; `etag` is always the identity body's.
 */
export interface CachedResponse { payload: Buffer | undefined, etag: string, gzip: Representation | undefined }

export interface PublicCacheOptions {
  ttlMs?: number
  /** Most entries kept */
  maxEntries?: number
  /** Most bytes kept, over every entry (payload, ETag and key) */
  maxBytes?: number
  /** A payload larger than this is served but never stored: one entry must not evict the rest */
  maxEntryBytes?: number
  /** A hit older than this share of ttlMs starts a background refill of its key */
  refreshAt?: number
  /** Bodies of at least this many bytes also get a gzip copy (kept only if smaller); Infinity: none */
  gzipMinBytes?: number
  now?: () => number
}

export const CACHE_MAX_ENTRIES = 2000
export const CACHE_MAX_BYTES = 32 * 1024 * 1024
export const CACHE_MAX_ENTRY_BYTES = 1024 * 1024
// Below ~1 KB gzip saves a few bytes at best (the collection record: 248 -> 186) while the
// client pays for inflating; @fastify/compress uses the same threshold
export const GZIP_MIN_BYTES = 1024

export function strongEtag (payload: string | Buffer): string {
  return `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`
}

/**
 * A copy that owns exactly its bytes. Buffer.from() and zlib hand out slices of Node's shared
 * 64 KB pool slabs (Buffer.poolSize is 64 KB in Node 24), and a slice kept in the cache keeps
 * its whole slab alive, with whatever short-lived buffers shared it. Measured on the built
 * server walking 300 list pages (RSS growth): with gzip 33 MB pooled against 21 MB copied;
 * without gzip ~22 MB against ~19 MB.
 */
export function exactBuffer (from: string | Buffer): Buffer {
  const size = typeof from === 'string' ? Buffer.byteLength(from) : from.length
  const own = Buffer.allocUnsafeSlow(size)
  if (typeof from === 'string') own.write(from)
  else from.copy(own)
  return own
}

/** The gzip copy is another representation, so it has its own strong ETag (RFC 9110 8.8.3) */
export function gzipEtag (identityEtag: string): string {
  return `${identityEtag.slice(0, -1)}-gzip"`
}

/** RFC 9110 If-None-Match: weak comparison, a list of tags, or "*". */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some(tag => tag.trim().replace(/^W\//, '') === etag)
}

/**
 * Bounded by count and by bytes: anonymous requests choose the keys (any valid cursor is a new
 * one), so without a byte cap 2000 large pages could hold hundreds of MB. Least recently used
 * entries go first (a Map iterates in insertion order; a hit re-inserts its entry). Expired
 * entries go on access and on sweep(), which the plugin runs on a timer, so an idle process
 * does not keep a burst's entries.
 */
export function createPublicCache ({
  ttlMs = 5000,
  maxEntries = CACHE_MAX_ENTRIES,
  maxBytes = CACHE_MAX_BYTES,
  maxEntryBytes = CACHE_MAX_ENTRY_BYTES,
  refreshAt = 0.8,
  gzipMinBytes = GZIP_MIN_BYTES,
  now = Date.now
}: PublicCacheOptions = {}) {
  const entries = new Map<string, { value: CachedResponse, at: number, bytes: number }>()
  const inFlight = new Map<string, Promise<CachedResponse>>()
  // Identity bodies being inflated, by the value they are for
  const inflating = new WeakMap<CachedResponse, Promise<Buffer>>()
  let bytes = 0
  // Bumped by every invalidation: a fill that started before it must not store its (maybe stale) result
  let generation = 0
  // Only store entries while invalidations can reach us (LISTEN established)
  let enabled = false
  const counters = { hits: 0, misses: 0, fills: 0, refreshes: 0, refreshErrors: 0, invalidations: 0, evictions: 0, expired: 0, tooLarge: 0, inflations: 0 }
  const refreshAfterMs = ttlMs * refreshAt

  function remove (key: string): void {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    bytes -= entry.bytes
  }

  function clear (): void {
    entries.clear()
    bytes = 0
  }

  /** Least recently used first, until `incoming` more bytes (and one more entry, if `adding`) fit. */
  function makeRoom (incoming: number, adding: boolean): void {
    for (const [oldest] of entries) {
      if (entries.size + (adding ? 1 : 0) <= maxEntries && bytes + incoming <= maxBytes) break
      remove(oldest)
      counters.evictions++
    }
  }

  function store (key: string, value: CachedResponse): void {
    // Bytes held: the bodies kept, their ETags and the key
    const size = (value.payload?.length ?? 0) + value.etag.length + (value.gzip === undefined ? 0 : value.gzip.payload.length + value.gzip.etag.length) + Buffer.byteLength(key)
    remove(key)
    if (size > maxEntryBytes || size > maxBytes) { counters.tooLarge++; return }
    makeRoom(size, true)
    entries.set(key, { value, at: now(), bytes: size })
    bytes += size
  }

  /** Keeps an inflated identity body with its entry, if the entry is still the stored one and it fits. */
  function keepIdentity (key: string, value: CachedResponse, body: Buffer): void {
    const entry = entries.get(key)
    if (entry?.value !== value || entry.bytes + body.length > maxEntryBytes) return
    value.payload = body
    entry.bytes += body.length
    bytes += body.length
    // The entry was just read, so it is the most recently used: the oldest others go first
    makeRoom(0, false)
  }

  /** One fill per key at a time (single flight); stores the result unless an invalidation came first. */
  function startFill (key: string, fill: () => Promise<string>): Promise<CachedResponse> {
    const pending = inFlight.get(key)
    if (pending !== undefined) return pending
    const started = generation
    const promise = (async () => {
      counters.fills++
      const payload = exactBuffer(await fill())
      const etag = strongEtag(payload)
      let zipped: Representation | undefined
      if (payload.length >= gzipMinBytes) {
        // On the libuv thread pool, not the event loop (~0.13 ms of CPU for a 16-20 KB page)
        const body = await gzip(payload)
        if (body.length < payload.length) {
          zipped = { payload: exactBuffer(body), etag: gzipEtag(etag) }
        }
      }
      const value: CachedResponse = { payload, etag, gzip: zipped }
      // Stored with the gzip copy alone when there is one; the requests waiting on this fill
      // get the identity body at hand
      if (enabled && started === generation) store(key, zipped === undefined ? value : { payload: undefined, etag, gzip: zipped })
      return value
    })()
    inFlight.set(key, promise)
    const done = () => { if (inFlight.get(key) === promise) inFlight.delete(key) }
    promise.then(done, done)
    return promise
  }

  return {
    async get (key: string, fill: () => Promise<string>): Promise<CachedResponse> {
      const hit = entries.get(key)
      if (hit !== undefined) {
        const age = now() - hit.at
        if (age < ttlMs) {
          counters.hits++
          // Most recently used goes last
          entries.delete(key)
          entries.set(key, hit)
          // Refresh ahead: a key still being read is refilled in the background before it
          // expires, so under steady traffic no reader waits on a query at expiry (those waits
          // were the cached list's p99). Nothing is served past ttlMs either way.
          if (age >= refreshAfterMs && !inFlight.has(key)) {
            counters.refreshes++
            startFill(key, fill).catch(() => { counters.refreshErrors++ })
          }
          return hit.value
        }
        remove(key)
        counters.expired++
      }
      counters.misses++
      return await startFill(key, fill)
    },
    /**
     * The identity body of the value get(key) returned: at hand, or inflated from its gzip copy
     * (once per value however many requests ask at a time, on the libuv thread pool) and then
     * kept with its entry, if that is still stored under key, counted in the byte cap.
     */
    async identity (key: string, value: CachedResponse): Promise<Buffer> {
      if (value.payload !== undefined) return value.payload
      let pending = inflating.get(value)
      if (pending === undefined) {
        const zipped = value.gzip
        if (zipped === undefined) throw new Error('a cached response has neither body')
        counters.inflations++
        pending = gunzip(zipped.payload).then(inflated => {
          const body = exactBuffer(inflated)
          keepIdentity(key, value, body)
          return body
        })
        inflating.set(value, pending)
        const done = () => { inflating.delete(value) }
        pending.then(done, done)
      }
      return await pending
    },
    /** Drops every expired entry; returns how many went. */
    sweep (): number {
      const t = now()
      let removed = 0
      for (const [key, entry] of entries) {
        if (t - entry.at >= ttlMs) { remove(key); removed++ }
      }
      counters.expired += removed
      return removed
    },
    invalidate (): void {
      generation++
      counters.invalidations++
      clear()
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
    stats: () => ({ ...counters, entries: entries.size, bytes, inFlight: inFlight.size, maxEntries, maxBytes, maxEntryBytes })
  }
}

export type PublicCache = ReturnType<typeof createPublicCache>
