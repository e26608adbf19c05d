// The public read path: per-process cache with single flight, strong ETags and 304s,
// Cache-Control, and invalidation across processes through Postgres LISTEN/NOTIFY.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import postgres from 'postgres'
import { gunzipSync } from 'node:zlib'
import { createPublicCache, etagMatches, notifyChanged, type CachedResponse } from '../../lib/public-cache.ts'
import { acceptsGzip } from '../../plugins/public-cache.ts'
import { createImageUrls } from '../../lib/image-urls.ts'
import { S3Client } from '@aws-sdk/client-s3'
import type { App } from '../../app.ts'
import { buildGallery, insertCollection, insertImage, testDb, unique, until, writer } from '../helpers/gallery-fixtures.ts'

/** The identity body a get() returned with (fills and bodies without a gzip copy have it at hand) */
function text (r: CachedResponse): string {
  assert.ok(r.payload !== undefined, 'the identity body is at hand')
  return r.payload.toString()
}

async function listening (app: App): Promise<void> {
  await until(() => app.publicCache.enabled, 'LISTEN to be established')
}

test('single flight: a burst of misses runs one fill; later hits run none', async () => {
  const cache = createPublicCache()
  cache.setEnabled(true)
  let fills = 0
  let release!: (v: string) => void
  const gate = new Promise<string>(resolve => { release = resolve })
  const burst = Array.from({ length: 50 }, () => cache.get('k', async () => { fills++; return await gate }))
  release('{"a":1}')
  const results = await Promise.all(burst)
  assert.equal(fills, 1)
  assert.ok(results.every(r => text(r) === '{"a":1}' && r.etag === results[0]!.etag))
  await cache.get('k', async () => { fills++; return 'x' })
  assert.equal(fills, 1)
})

test('a fill that started before an invalidation is not stored; entries expire; nothing is stored while LISTEN is down', async () => {
  let now = 0
  const cache = createPublicCache({ ttlMs: 5000, now: () => now })
  cache.setEnabled(true)
  let release!: (v: string) => void
  const stale = cache.get('k', async () => await new Promise<string>(resolve => { release = resolve }))
  cache.invalidate()
  release('old')
  assert.equal(text(await stale), 'old')
  assert.equal(text(await cache.get('k', async () => 'new')), 'new')
  assert.equal(text(await cache.get('k', async () => 'newer')), 'new')
  now += 5000
  assert.equal(text(await cache.get('k', async () => 'after-ttl')), 'after-ttl')

  cache.setEnabled(false)
  assert.equal(text(await cache.get('k', async () => 'a')), 'a')
  assert.equal(text(await cache.get('k', async () => 'b')), 'b')
  assert.equal(cache.size(), 0)
})

test('the cache is bounded by bytes: many distinct keys stay under the cap, least recently used out first', async () => {
  // Identity bodies only, so that each entry holds its 9 KB (a run of x's gzips to ~50 bytes)
  const cache = createPublicCache({ maxBytes: 50_000, maxEntryBytes: 20_000, gzipMinBytes: Infinity })
  cache.setEnabled(true)
  const page = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(9000) })
  // Like the reviewer's forged cursors: every request a new key, every payload large
  for (let n = 0; n < 200; n++) await cache.get(`k${n}`, async () => page(n))
  assert.ok(cache.size() * 9000 <= 50_000, `${cache.size()} entries of 9 KB kept under a 50 KB cap`)
  assert.ok(cache.stats().bytes <= 50_000)
  assert.equal(cache.stats().entries, cache.size())

  // Five 9 KB entries fit: the last five stored. Reading one makes it the most recent, so the
  // next store evicts the least recently used instead
  const refills: string[] = []
  const read = async (key: string) => await cache.get(key, async () => { refills.push(key); return page(-1) })
  await read('k195')
  await read('new')
  await read('k195')
  assert.deepEqual(refills, ['new'], 'k195 was read recently and kept')
  await read('k196')
  assert.deepEqual(refills, ['new', 'k196'], 'k196 was the least recently used and went')

  // A payload over the per-entry cap is served but not stored, and evicts nothing
  const before = cache.stats()
  const big = await cache.get('big', async () => 'y'.repeat(30_000))
  assert.equal(text(big).length, 30_000)
  assert.equal(cache.stats().entries, before.entries)
  assert.equal(cache.stats().bytes, before.bytes)
  assert.equal(text(await cache.get('big', async () => 'again')), 'again')
})

test('refresh ahead: a hit late in its TTL is served at once and refilled in the background; nothing is served past the TTL', async () => {
  let now = 0
  const cache = createPublicCache({ ttlMs: 5000, refreshAt: 0.8, now: () => now })
  cache.setEnabled(true)
  assert.equal(text(await cache.get('k', async () => 'v1')), 'v1')
  now = 3999
  assert.equal(text(await cache.get('k', async () => { throw new Error('no refill before refreshAt') })), 'v1')
  assert.equal(cache.stats().refreshes, 0)

  // Late in the TTL: the reader gets v1 without waiting on the (gated) refill, and so do the
  // readers that come while it runs; one refill only
  now = 4000
  let release!: (v: string) => void
  let refills = 0
  const refill = async () => { refills++; return await new Promise<string>(resolve => { release = resolve }) }
  assert.equal(text(await cache.get('k', refill)), 'v1')
  assert.equal(text(await cache.get('k', refill)), 'v1')
  assert.equal(refills, 1)
  release('v2')
  await new Promise(resolve => setImmediate(resolve))
  now = 4500
  assert.equal(text(await cache.get('k', async () => 'unused')), 'v2', 'the refill replaced the entry')
  assert.deepEqual([cache.stats().refreshes, cache.stats().misses], [1, 1])

  // A refill that fails leaves the entry to expire on time; a refill that started before an
  // invalidation is not stored
  now = 4000 + 4000
  assert.equal(text(await cache.get('k', async () => { throw new Error('database down') })), 'v2')
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(cache.stats().refreshErrors, 1)
  now = 4000 + 5000
  await assert.rejects(cache.get('k', async () => { throw new Error('database down') }), /database down/)
  assert.equal(text(await cache.get('k', async () => 'v3')), 'v3')
  now += 4500
  const late = cache.get('k', async () => await new Promise<string>(resolve => { release = resolve }))
  assert.equal(text(await late), 'v3')
  cache.invalidate()
  release('from before the change')
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(text(await cache.get('k', async () => 'v4')), 'v4')
})

test('expired entries go on access and on sweep(), and give their bytes back', async () => {
  let now = 0
  const cache = createPublicCache({ ttlMs: 1000, now: () => now })
  cache.setEnabled(true)
  for (let n = 0; n < 10; n++) await cache.get(`k${n}`, async () => `payload ${n}`)
  assert.equal(cache.size(), 10)
  assert.ok(cache.stats().bytes > 0)
  now += 1000
  // On access: the expired entry is refilled, not served
  assert.equal(text(await cache.get('k0', async () => 'fresh')), 'fresh')
  // The rest go on the sweep, without anyone asking for them again
  assert.equal(cache.sweep(), 9)
  assert.equal(cache.size(), 1)
  now += 1000
  cache.sweep()
  assert.deepEqual([cache.size(), cache.stats().bytes], [0, 0])
})

test('a fill keeps a gzip copy of bodies of 1 KB and more, with its own ETag, and stores that copy alone', async () => {
  const cache = createPublicCache()
  cache.setEnabled(true)
  const page = JSON.stringify({ items: Array.from({ length: 40 }, (_, n) => ({ n, title: `Image ${n}` })) })
  const big = await cache.get('big', async () => page)
  assert.ok(big.gzip !== undefined, 'a 1 KB+ body has a gzip copy')
  assert.equal(text(big), page, 'the request that waited on the fill has the identity body at hand')
  assert.equal(gunzipSync(big.gzip.payload).toString(), page, 'the copy inflates to the same bytes')
  assert.ok(big.gzip.payload.length < page.length)
  assert.match(big.gzip.etag, /^"[A-Za-z0-9_-]+-gzip"$/)
  assert.notEqual(big.gzip.etag, big.etag)
  assert.equal(cache.stats().bytes, big.etag.length + big.gzip.payload.length + big.gzip.etag.length + 'big'.length, 'the entry holds the gzip copy, not the identity body')

  // Each body owns exactly its bytes: not a slice of a shared 64 KB pool slab it would pin
  assert.equal(big.payload?.buffer.byteLength, page.length)
  assert.equal(big.gzip.payload.buffer.byteLength, big.gzip.payload.length)

  const small = await cache.get('small', async () => '{"a":1}')
  assert.equal(small.gzip, undefined, 'under 1 KB: identity only')
  assert.equal(small.payload?.buffer.byteLength, small.payload?.length)
  assert.equal((await cache.get('small', async () => 'unused')).payload, small.payload, 'and stored as such')
  const multiByte = '{"t":"\u00e4 \u20ac \u{1f5bc}"}'
  assert.equal(text(await cache.get('utf8', async () => multiByte)), multiByte, 'multi-byte text kept whole')

  // Kept only when smaller: one byte gzips to ~20
  const tiny = createPublicCache({ gzipMinBytes: 1 })
  assert.equal((await tiny.get('k', async () => 'x')).gzip, undefined)
  assert.notEqual((await tiny.get('k2', async () => page)).gzip, undefined)
  const never = createPublicCache({ gzipMinBytes: Infinity })
  assert.equal((await never.get('k', async () => page)).gzip, undefined)
})

test('identity(): the identity body is inflated from the stored gzip copy once, kept with its entry and counted', async () => {
  const cache = createPublicCache({ maxBytes: 64_000 })
  cache.setEnabled(true)
  const page = JSON.stringify({ items: Array.from({ length: 200 }, (_, n) => ({ n, title: `Image ${n}`, alt: `A photograph, number ${n * 7919}` })) })
  await cache.get('p', async () => page)
  const stored = cache.stats().bytes
  const hit = await cache.get('p', async () => { throw new Error('no refill') })
  assert.equal(hit.payload, undefined, 'a hit on a gzip entry has no identity body at hand')
  // Concurrent identity requests: one inflation, one body
  const bodies = await Promise.all(Array.from({ length: 20 }, async () => await cache.identity('p', hit)))
  assert.ok(bodies.every(b => b === bodies[0]))
  assert.equal(bodies[0]!.toString(), page)
  assert.equal(bodies[0]!.buffer.byteLength, page.length, 'an exact-size buffer, not a pool slice')
  assert.equal(cache.stats().inflations, 1)
  assert.equal(cache.stats().bytes, stored + page.length, 'the kept identity body is counted in the byte cap')
  // Kept: later hits have it at hand, no second inflation
  const again = await cache.get('p', async () => { throw new Error('no refill') })
  assert.equal(again.payload, bodies[0])
  assert.equal(await cache.identity('p', again), bodies[0])
  assert.equal(cache.stats().inflations, 1)

  // A value no longer stored (invalidated) is inflated for its caller but kept nowhere
  await cache.get('q', async () => page)
  const old = await cache.get('q', async () => { throw new Error('no refill') })
  cache.invalidate()
  assert.equal((await cache.identity('q', old)).toString(), page)
  assert.equal(old.payload, undefined)
  assert.deepEqual([cache.size(), cache.stats().bytes], [0, 0])

  // An identity body that would take its entry past the per-entry cap is served, not kept
  const capped = createPublicCache({ maxEntryBytes: stored + 100 })
  capped.setEnabled(true)
  await capped.get('p', async () => page)
  const gz = capped.stats().bytes
  assert.equal(gz, stored, 'the gzip entry fits and is stored')
  const h = await capped.get('p', async () => { throw new Error('no refill') })
  assert.equal((await capped.identity('p', h)).toString(), page)
  assert.equal(h.payload, undefined)
  assert.equal(capped.stats().bytes, gz)

  // Keeping an identity body evicts least recently used entries to stay under the byte cap
  const tight = createPublicCache({ maxBytes: page.length + stored + 500 })
  tight.setEnabled(true)
  await tight.get('a', async () => page)
  await tight.get('b', async () => page.replace('Image', 'Picture'))
  const b = await tight.get('b', async () => { throw new Error('no refill') })
  await tight.identity('b', b)
  assert.ok(tight.stats().bytes <= page.length + stored + 500, `${tight.stats().bytes} bytes under the cap`)
  assert.equal(tight.size(), 1, 'a, the least recently used, went')
  assert.equal((await tight.get('b', async () => { throw new Error('no refill') })).payload, b.payload)
})

test('Accept-Encoding: gzip only where the client accepts it (q-values, identity, *)', () => {
  for (const header of ['gzip', 'gzip, deflate, br, zstd', 'deflate, gzip, br', 'gzip;q=0.5', 'gzip;q=1.0, identity; q=0.5, *;q=0']) {
    assert.equal(acceptsGzip(header), true, header)
  }
  for (const header of [undefined, '', 'identity', 'br', 'br, zstd', 'gzip;q=0', 'gzip;q=0, *', '*;q=0', 'deflate, gzip;q=0.5, identity;q=0.9']) {
    assert.equal(acceptsGzip(header), false, String(header))
  }
  // Memoised, and the memo is bounded: many distinct headers still answer right
  for (let n = 0; n < 500; n++) assert.equal(acceptsGzip(`gzip;q=0.${n % 9 + 1}, x-${n}`), true)
  assert.equal(acceptsGzip('gzip;q=0'), false)
})

test('If-None-Match uses weak comparison and accepts lists and *', () => {
  assert.equal(etagMatches('"abc"', '"abc"'), true)
  assert.equal(etagMatches('W/"abc"', '"abc"'), true)
  assert.equal(etagMatches('"x", "abc"', '"abc"'), true)
  assert.equal(etagMatches('*', '"abc"'), true)
  assert.equal(etagMatches('"abd"', '"abc"'), false)
  assert.equal(etagMatches(undefined, '"abc"'), false)
})

test('presigned URLs are stable within a window and change with the next one', async () => {
  const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  let now = Date.parse('2026-01-01T10:05:00Z')
  const urls = createImageUrls({ client, bucket: 'b', now: () => now })
  const first = await urls.url('images/a.jpg')
  now += 50 * 60_000
  assert.equal(await urls.url('images/a.jpg'), first)
  assert.match(first, /X-Amz-Date=20260101T100000Z/)
  assert.match(first, /X-Amz-Expires=7200/)
  now += 10 * 60_000
  const next = await urls.url('images/a.jpg')
  assert.notEqual(next, first)
  assert.match(next, /X-Amz-Date=20260101T110000Z/)
  assert.notEqual(await urls.url('images/b.jpg'), next)
  client.destroy()

  // Concurrent callers share one signing; the URL stays the same once it is kept as a string
  const together = await Promise.all([urls.url('images/c.jpg'), urls.url('images/c.jpg')])
  assert.equal(together[0], together[1])
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(await urls.url('images/c.jpg'), together[0])
  assert.equal(urls.size(), 3)

  // Bounded, least recently used first out
  const small = createImageUrls({ client, bucket: 'b', now: () => now, maxEntries: 2 })
  const a = await small.url('images/a.jpg')
  await small.url('images/b.jpg')
  assert.equal(await small.url('images/a.jpg'), a)
  await small.url('images/c.jpg')
  assert.deepEqual(small.keys(), ['images/a.jpg', 'images/c.jpg'], 'b, the least recently used, went')
  assert.equal(small.size(), 2)

  // A failed signing is not kept: the next call signs again
  let attempts = 0
  const failing = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: async () => { attempts++; throw new Error('no credentials') } })
  const broken = createImageUrls({ client: failing, bucket: 'b' })
  await assert.rejects(broken.url('images/a.jpg'), /no credentials/)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(broken.size(), 0)
  await assert.rejects(broken.url('images/a.jpg'), /no credentials/)
  assert.equal(attempts, 2)
  failing.destroy()

  const cdn = createImageUrls({ client, bucket: 'b', assetBaseUrl: 'https://cdn.example.com/' })
  assert.equal(await cdn.url('images/a b.jpg'), 'https://cdn.example.com/images/a%20b.jpg')
})

test('public GETs carry Cache-Control, a strong ETag and Vary; If-None-Match gives 304; writers get no-store', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { collectionId: c.id, title: 'first' })
  for (const url of [`/api/v1/images?collection=${c.slug}`, `/api/v1/images/${img.id}`, '/api/v1/collections', `/api/v1/collections/${c.slug}`]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.match(String(res.headers['cache-control']), /^public, max-age=\d+/)
    const etag = String(res.headers.etag)
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/, 'strong ETag')
    assert.match(String(res.headers.vary), /authorization/i)

    const notModified = await app.inject({ url, headers: { 'if-none-match': etag } })
    assert.equal(notModified.statusCode, 304, url)
    assert.equal(notModified.body, '')
    assert.equal(notModified.headers.etag, etag)
    assert.equal((await app.inject({ url, headers: { 'if-none-match': `W/${etag}` } })).statusCode, 304)
    assert.equal((await app.inject({ url, headers: { 'if-none-match': '"something-else"' } })).statusCode, 200)

    const asWriter = await app.inject({ url, headers: writer(services) })
    assert.equal(asWriter.headers['cache-control'], 'private, no-store', url)
  }

  // A change gives a new ETag: the old one no longer answers 304
  const url = `/api/v1/images/${img.id}`
  const before = String((await app.inject(url)).headers.etag)
  const patched = await app.inject({ method: 'PATCH', url, headers: writer(services), payload: { title: 'second' } })
  assert.equal(patched.statusCode, 200)
  const after = await app.inject({ url, headers: { 'if-none-match': before } })
  assert.equal(after.statusCode, 200)
  assert.equal(after.json().title, 'second')
  assert.notEqual(after.headers.etag, before)
})

test('public GETs are gzipped for clients that accept it: same JSON, own ETag and 304, Vary: Accept-Encoding, HEAD', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  for (let n = 0; n < 6; n++) await insertImage(sql, { collectionId: c.id, title: `image ${n}` })
  const url = `/api/v1/images?collection=${c.slug}`
  const gzipOk = { 'accept-encoding': 'gzip, deflate, br, zstd' }

  const plain = await app.inject(url)
  assert.equal(plain.statusCode, 200)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.ok(plain.rawPayload.length >= 1024, `the page is over the gzip threshold (${plain.rawPayload.length} bytes)`)
  const zipped = await app.inject({ url, headers: gzipOk })
  assert.equal(zipped.statusCode, 200)
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.equal(zipped.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(Number(zipped.headers['content-length']), zipped.rawPayload.length)
  assert.ok(zipped.rawPayload.length < plain.rawPayload.length)
  assert.deepEqual(JSON.parse(gunzipSync(zipped.rawPayload).toString()), plain.json())
  assert.equal(gunzipSync(zipped.rawPayload).toString(), plain.body, 'byte for byte')
  for (const res of [plain, zipped]) {
    assert.match(String(res.headers.vary), /(^|, )Accept-Encoding$/, 'Vary names Accept-Encoding')
    assert.match(String(res.headers.vary), /authorization/i, 'and keeps Authorization')
  }
  const plainTag = String(plain.headers.etag)
  const zippedTag = String(zipped.headers.etag)
  assert.notEqual(zippedTag, plainTag, 'each representation has its own strong ETag')

  // gzip refused explicitly: identity, and its tag
  const refused = await app.inject({ url, headers: { 'accept-encoding': 'gzip;q=0, br' } })
  assert.equal(refused.headers['content-encoding'], undefined)
  assert.equal(refused.body, plain.body)
  assert.equal(refused.headers.etag, plainTag)

  // 304 only for the tag of the representation this request would get
  const notModified = await app.inject({ url, headers: { ...gzipOk, 'if-none-match': zippedTag } })
  assert.equal(notModified.statusCode, 304)
  assert.equal(notModified.headers.etag, zippedTag)
  assert.equal(notModified.headers['content-encoding'], undefined, 'no body, so no coding')
  assert.match(String(notModified.headers.vary), /Accept-Encoding/)
  assert.equal((await app.inject({ url, headers: { 'if-none-match': zippedTag } })).statusCode, 200, 'a gzip tag does not validate the identity body')
  assert.equal((await app.inject({ url, headers: { ...gzipOk, 'if-none-match': plainTag } })).statusCode, 200, 'nor the other way round')
  assert.equal((await app.inject({ url, headers: { ...gzipOk, 'if-none-match': `${plainTag}, ${zippedTag}` } })).statusCode, 304, 'a cache holding both names both')

  // HEAD: the headers a GET would get, no body
  const head = await app.inject({ method: 'HEAD', url, headers: gzipOk })
  assert.equal(head.statusCode, 200)
  assert.equal(head.headers['content-encoding'], 'gzip')
  assert.equal(head.headers.etag, zippedTag)
  assert.equal(head.body, '')

  // A body under 1 KB is not worth it: identity for everyone, and still Vary
  const small = await app.inject({ url: `/api/v1/collections/${c.slug}`, headers: gzipOk })
  assert.equal(small.statusCode, 200)
  assert.equal(small.headers['content-encoding'], undefined)
  assert.equal(small.json().slug, c.slug)
  assert.match(String(small.headers.vary), /Accept-Encoding/)
})

test('a refresh started by a conditional request (answered 304) stores the 200 body', async (t) => {
  // Date is mocked from before the app is built, so the cache's clock can be moved late into
  // the 5 s TTL; timers stay real
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  await insertImage(sql, { collectionId: c.id, title: 'kept' })
  await listening(app)
  const url = `/api/v1/images?collection=${c.slug}`
  const first = await app.inject(url)
  assert.equal(first.json().items[0].title, 'kept')

  t.mock.timers.tick(4500)
  const fills = app.publicCache.stats().fills
  const conditional = await app.inject({ url, headers: { 'if-none-match': String(first.headers.etag) } })
  assert.equal(conditional.statusCode, 304)
  assert.equal(app.publicCache.stats().refreshes, 1, 'the late hit refreshes in the background')
  await until(() => app.publicCache.stats().fills === fills + 1 && app.publicCache.stats().inFlight === 0, 'the refresh to finish')

  // Past the first entry's TTL, inside the refreshed one's: the answer is the refreshed entry
  t.mock.timers.tick(1000)
  const misses = app.publicCache.stats().misses
  const after = await app.inject(url)
  assert.equal(app.publicCache.stats().misses, misses, 'served from the refreshed entry')
  assert.equal(after.statusCode, 200)
  assert.equal(after.json()?.items?.[0]?.title, 'kept', `served: ${after.body}`)
})

test('a burst of identical public requests makes one query', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  await insertImage(sql, { collectionId: c.id })
  await listening(app)
  const fills = app.publicCache.stats().fills
  const responses = await Promise.all(Array.from({ length: 40 }, () => app.inject(`/api/v1/images?collection=${c.slug}`)))
  assert.ok(responses.every(r => r.statusCode === 200 && r.body === responses[0]!.body))
  assert.equal(app.publicCache.stats().fills - fills, 1)
})

test('a write through instance A invalidates the cache of instance B (LISTEN/NOTIFY)', async (t) => {
  const a = await buildGallery(t)
  const b = await buildGallery(t)
  const sql = testDb(t, a.services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { collectionId: c.id, title: 'before' })
  await listening(b.app)
  const url = `/api/v1/images?collection=${c.slug}`

  assert.equal((await b.app.inject(url)).json().items[0].title, 'before')
  const hits = b.app.publicCache.stats().hits
  assert.equal((await b.app.inject(url)).json().items[0].title, 'before')
  assert.equal(b.app.publicCache.stats().hits, hits + 1, 'B answers from its cache')
  // Both processes sign the same URL for the same key within a window
  assert.equal((await a.app.inject(url)).json().items[0].url, (await b.app.inject(url)).json().items[0].url)

  const invalidations = b.app.publicCache.stats().invalidations
  const started = performance.now()
  const res = await a.app.inject({ method: 'PATCH', url: `/api/v1/images/${img.id}`, headers: writer(a.services), payload: { title: 'after' } })
  assert.equal(res.statusCode, 200)
  await until(() => b.app.publicCache.stats().invalidations > invalidations, 'B to receive the NOTIFY')
  t.diagnostic(`B invalidated ${Math.round(performance.now() - started)} ms after A's write`)
  assert.equal((await b.app.inject(url)).json().items[0].title, 'after')

  // Deleting a collection through B is seen by A's cached collection list
  const list = '/api/v1/collections?limit=100'
  assert.ok((await a.app.inject(list)).json().items.some((x: { id: string }) => x.id === c.id))
  const del = await b.app.inject({ method: 'DELETE', url: `/api/v1/collections/${c.id}`, headers: writer(b.services) })
  assert.equal(del.statusCode, 204)
  await until(async () => !(await a.app.inject(list)).json().items.some((x: { id: string }) => x.id === c.id), 'A to drop the deleted collection')
})

test('after the LISTEN connection is killed, the cache reconnects and stays correct', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql, { slug: unique('relisten') })
  await insertImage(sql, { collectionId: c.id, title: 'v1' })
  await listening(app)
  const url = `/api/v1/images?collection=${c.slug}`
  assert.equal((await app.inject(url)).json().items[0].title, 'v1')

  const admin = postgres(services.databaseUrl, { max: 1, onnotice: () => {} })
  t.after(() => admin.end({ timeout: 5 }))
  const invalidations = app.publicCache.stats().invalidations
  const killed = await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'gallery-api-listen' and datname = current_database()`
  assert.ok(killed.length >= 1, 'a LISTEN connection existed')
  // Reconnecting clears the cache (notifications may have been missed meanwhile)
  await until(() => app.publicCache.stats().invalidations > invalidations && app.publicCache.enabled, 'LISTEN to come back')

  // A change made elsewhere (another process: plain SQL + NOTIFY) still reaches this one
  assert.equal((await app.inject(url)).json().items[0].title, 'v1')
  await admin.begin(async (tx) => {
    await tx`update images set title = 'v2' where collection_id = ${c.id}`
    await notifyChanged(tx)
  })
  await until(async () => (await app.inject(url)).json().items[0].title === 'v2', 'the change after reconnect')
})

test('app.close() ends the LISTEN connection', async (t) => {
  const { app, services } = await buildGallery(t)
  await listening(app)
  const admin = postgres(services.databaseUrl, { max: 1, onnotice: () => {} })
  t.after(() => admin.end({ timeout: 5 }))
  const count = async () => (await admin`select count(*)::int as n from pg_stat_activity where application_name = 'gallery-api-listen' and datname = current_database()`)[0]!.n as number
  const before = await count()
  assert.ok(before >= 1)
  await app.close()
  await until(async () => (await count()) === before - 1, 'the LISTEN connection to close')
})

test('with ASSET_BASE_URL, image URLs point at the CDN', async (t) => {
  const { app, services } = await buildGallery(t, { ASSET_BASE_URL: 'https://cdn.example.com' })
  const sql = testDb(t, services)
  const img = await insertImage(sql)
  const res = await app.inject(`/api/v1/images/${img.id}`)
  assert.equal(res.json().url, `https://cdn.example.com/${img.key}`)
})

test('public responses also vary on Origin when CORS names origins', async (t) => {
  const { app } = await buildGallery(t)
  const res = await app.inject({ url: '/api/v1/collections', headers: { origin: 'http://127.0.0.1:5173' } })
  assert.match(String(res.headers.vary), /origin/i)
  assert.match(String(res.headers.vary), /authorization/i)
})

test('unknown query parameters are a 400 on every public GET and make no cache entry; parameter order makes none either', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { collectionId: c.id })
  await listening(app)
  const urls = ['/api/v1/collections', `/api/v1/collections/${c.slug}`, '/api/v1/images', `/api/v1/images/${img.id}`]
  for (const url of urls) {
    for (let n = 0; n < 3; n++) {
      const res = await app.inject(`${url}?junk=${n}`)
      assert.equal(res.statusCode, 400, `${url}?junk=${n}`)
      assert.equal(res.json().code, 'FST_ERR_VALIDATION')
    }
  }
  assert.equal((await app.inject('/api/v1/collections?limit=5&junk=1')).statusCode, 400)
  assert.equal(app.publicCache.size(), 0)

  const first = await app.inject(`/api/v1/images?limit=5&collection=${c.slug}`)
  const second = await app.inject(`/api/v1/images?collection=${c.slug}&limit=5`)
  assert.equal(second.body, first.body)
  assert.equal(app.publicCache.size(), 1)
})

test('expired entries leave the cache without further requests (periodic sweep)', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { collectionId: c.id })
  await listening(app)
  for (const url of ['/api/v1/collections', `/api/v1/collections/${c.slug}`, `/api/v1/images/${img.id}`]) {
    assert.equal((await app.inject(url)).statusCode, 200)
  }
  assert.ok(app.publicCache.size() >= 3)
  // TTL 5 s, swept every second: gone about 6 s after being stored
  await until(() => app.publicCache.size() === 0, 'the sweep to drop expired entries')
  assert.equal(app.publicCache.stats().bytes, 0)
})
