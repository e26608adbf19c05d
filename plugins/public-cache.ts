// Provides fastify.publicCache and fastify.servePublic: the per-process cache of public GET
// responses, with Cache-Control, strong ETags, 304s and a gzip copy for clients that accept it,
// invalidated in every process through Postgres LISTEN/NOTIFY so a writer's change is visible
// on all dynos within a second.
// The LISTEN connection is a dedicated one (one extra connection per process, outside the pool).
// A heartbeat NOTIFY detects a dead listener (e.g. Postgres restarted and postgres.js could not
// re-LISTEN) and reconnects; until LISTEN is up the cache stores nothing (single flight only).
// The cache is bounded by count and bytes, and a timer sweeps expired entries so a burst of
// distinct keys (e.g. forged cursors) does not stay in memory after its TTL.
// @see https://www.postgresql.org/docs/current/sql-notify.html
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { negotiate } from '@fastify/accept-negotiator'
import { APPLICATION_NAME, createSql, type Sql } from '../lib/db.ts'
import { appendVary } from '../lib/vary.ts'
import { briefError } from '../lib/errors.ts'
import { CHANGE_CHANNEL, createPublicCache, etagMatches, type PublicCacheOptions as CacheLimits } from '../lib/public-cache.ts'

declare module 'fastify' {
  interface FastifyInstance {
    publicCache: ReturnType<typeof createPublicCache>
    /** Answer a public GET from the cache; on a miss `load` gives the data, serialized by the route's response schema. */
    servePublic: (request: FastifyRequest, reply: FastifyReply, load: () => Promise<unknown>) => Promise<FastifyReply>
  }
}

// Browsers and CDNs may keep a public response briefly; the ETag makes revalidation cheap
export const PUBLIC_CACHE_CONTROL = 'public, max-age=30, stale-while-revalidate=60'
const HEARTBEAT_PREFIX = 'heartbeat:'

export interface PublicCacheOptions extends Pick<CacheLimits, 'ttlMs' | 'maxEntries' | 'maxBytes' | 'maxEntryBytes'> {
  heartbeatMs?: number
  /** How often expired entries are dropped; defaults to the TTL, at most a second */
  sweepMs?: number
}

// Identity first: the library reads `*` as the first value, so `gzip;q=0, *` must not come
// out as gzip; a bare `*` gets identity too, which is always acceptable
const ENCODINGS = ['identity', 'gzip']
// Clients send a handful of distinct Accept-Encoding values, so the answers are memoised; the
// header is the client's to choose, so the memo is bounded (emptied when full)
const acceptsGzipMemo = new Map<string, boolean>()
const ACCEPTS_GZIP_MEMO_MAX = 64

/** RFC 9110 12.5.3 through @fastify/accept-negotiator: `gzip;q=0` or `identity` alone means no. */
export function acceptsGzip (header: string | undefined): boolean {
  if (header === undefined || header === '') return false
  let yes = acceptsGzipMemo.get(header)
  if (yes === undefined) {
    yes = negotiate(header, ENCODINGS) === 'gzip'
    if (acceptsGzipMemo.size >= ACCEPTS_GZIP_MEMO_MAX) acceptsGzipMemo.clear()
    acceptsGzipMemo.set(header, yes)
  }
  return yes
}

/** Same validated query in any parameter order: one key. A loop, not map/join: it runs on every hit. */
function canonical (value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value) ?? 'null'
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
  if (keys.length > 1) keys.sort()
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    out += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${canonical(obj[k])}`
  }
  return `${out}}`
}

export default fp<PublicCacheOptions>(async (fastify, opts) => {
  const { sql, config } = fastify
  const ttlMs = opts.ttlMs ?? 5000
  const cache = createPublicCache({ ttlMs, maxEntries: opts.maxEntries, maxBytes: opts.maxBytes, maxEntryBytes: opts.maxEntryBytes })
  const heartbeatMs = opts.heartbeatMs ?? 45_000
  const heartbeat = `${HEARTBEAT_PREFIX}${randomUUID()}`
  let listener: Sql | undefined
  let heartbeatSeen = false
  let closed = false
  let timer: NodeJS.Timeout | undefined
  // Every second at most: a pass over at most maxEntries entries is cheap
  const sweeper = setInterval(() => { cache.sweep() }, opts.sweepMs ?? Math.min(ttlMs, 1000))
  sweeper.unref()

  function onNotify (payload: string): void {
    if (payload.startsWith(HEARTBEAT_PREFIX)) {
      if (payload === heartbeat) heartbeatSeen = true
      return
    }
    cache.invalidate()
  }

  let connecting: Promise<void> | undefined
  async function connect (): Promise<void> {
    connecting ??= reconnect().finally(() => { connecting = undefined })
    await connecting
  }

  async function reconnect (): Promise<void> {
    cache.setEnabled(false)
    const previous = listener
    listener = undefined
    if (previous) await previous.end({ timeout: 1 }).catch(() => {})
    if (closed) return
    const next = createSql(config, { max: 1, applicationName: `${APPLICATION_NAME}-listen`, connectTimeoutSeconds: 3 })
    try {
      // onlisten runs on every (re)connect: notifications may have been missed, so it clears
      await next.listen(CHANGE_CHANNEL, onNotify, () => { if (!closed) cache.setEnabled(true) })
      // Closed while connecting: close() is waiting for this attempt; end what it opened
      if (closed) { await next.end({ timeout: 1 }).catch(() => {}); return }
      listener = next
    } catch (err) {
      cache.setEnabled(false)
      await next.end({ timeout: 1 }).catch(() => {})
      if (!closed) fastify.log.warn({ err: briefError(err) }, 'public cache: LISTEN failed; caching off until it is back')
    }
  }

  async function check (): Promise<void> {
    if (listener) {
      heartbeatSeen = false
      await sql`select pg_notify(${CHANGE_CHANNEL}, ${heartbeat})`.catch(() => {})
      await sleep(2000)
      if (closed || heartbeatSeen) return
      fastify.log.warn('public cache: LISTEN heartbeat lost; reconnecting')
    }
    await connect()
  }

  function schedule (): void {
    if (closed) return
    // Retry quickly while LISTEN is down; otherwise a slow heartbeat (the pool may idle out in between)
    timer = setTimeout(() => { check().finally(schedule) }, listener ? heartbeatMs : 2000)
    timer.unref()
  }

  async function close (): Promise<void> {
    closed = true
    clearTimeout(timer)
    clearInterval(sweeper)
    cache.setEnabled(false)
    // Boot does not wait for LISTEN, so a close can come while it is still connecting; wait
    // for that attempt (it ends its own connection once it sees closed) so nothing outlives onClose
    await connecting?.catch(() => {})
    const l = listener
    listener = undefined
    if (l) await l.end({ timeout: 1 }).catch(() => {})
  }

  fastify.decorate('publicCache', cache)
  fastify.decorate('servePublic', async (request: FastifyRequest, reply: FastifyReply, load: () => Promise<unknown>) => {
    // The validated params and query (defaults applied) name the response, not the raw URL; the
    // querystring schemas refuse unknown parameters, so junk cannot make new keys
    const key = `${request.routeOptions.url ?? ''} ${canonical(request.params)} ${canonical(request.query)}`
    // The route's 200 schema filters the data once per fill, exactly as for an uncached reply.
    // Named explicitly: a refresh runs after its request has finished, maybe as a 304, and
    // reply.serialize() would pick the schema of the reply's status at that moment (null)
    const cached = await cache.get(key, async () => String(reply.serializeInput(await load() as Record<string, unknown>, '200')))
    const zipped = cached.gzip !== undefined && acceptsGzip(request.headers['accept-encoding']) ? cached.gzip : undefined
    const etag = zipped?.etag ?? cached.etag
    reply.header('etag', etag)
    // Appended to CORS's Origin and identify's Authorization: the body depends on all three
    reply.header('vary', appendVary(reply.getHeader('vary'), 'Accept-Encoding'))
    // A signed-in reader gets public data but keeps the private, no-store set by the auth hook
    if (request.principal === null) reply.header('cache-control', PUBLIC_CACHE_CONTROL)
    // Compared with the tag of the representation this request would get: a client (or a
    // shared cache) holding the other one has different bytes, so it gets them in full
    if (etagMatches(request.headers['if-none-match'], etag)) return await reply.code(304).send()
    reply.type('application/json; charset=utf-8')
    if (zipped !== undefined) return await reply.header('content-encoding', 'gzip').send(zipped.payload)
    // Stored entries keep the gzip copy alone; the identity body is inflated on first demand
    return await reply.send(cached.payload ?? await cache.identity(key, cached))
  })

  fastify.addHook('onReady', async () => {
    // Not awaited: binding $PORT must not wait on Postgres. Until LISTEN is up the cache
    // stores nothing (single flight only), so serving before it is correct, just uncached.
    connect().finally(schedule).catch(() => {})
  })
  fastify.addHook('onClose', close)
}, { name: 'public-cache', dependencies: ['config', 'db'] })
