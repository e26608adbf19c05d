// Keyset pagination: opaque validated cursors, limit default and cap, and no duplicates or gaps
// across pages while rows are being inserted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts'
import { buildGallery, insertCollection, insertImage, testDb, until, writer } from '../helpers/gallery-fixtures.ts'

test('cursor round-trips and refuses anything the server did not make', () => {
  const c = { position: -5, id: '0b0e4a8c-4c2a-4f5e-9d55-2f4f0b5b7a11' }
  assert.deepEqual(decodeCursor(encodeCursor(c)), c)
  const bad = ['', '!!!', 'a'.repeat(300), Buffer.from('1:not-a-uuid').toString('base64url'), Buffer.from(`99999999999:${c.id}`).toString('base64url'),
    Buffer.from(`1.5:${c.id}`).toString('base64url'), Buffer.from(`:${c.id}`).toString('base64url'), Buffer.from(`1:${c.id}'; drop table images;--`).toString('base64url')]
  for (const value of bad) assert.throws(() => decodeCursor(value), { statusCode: 400, message: 'Invalid cursor' }, value)
})

test('a bad cursor is a 400 in the Fastify error shape, not a 500, for the public and for writers, every time', async (t) => {
  const { app, services } = await buildGallery(t)
  await until(() => app.publicCache.enabled, 'LISTEN to be established')
  // Empty and overlong ones too: decodeCursor is the one validator of a cursor, so every bad one gets the same answer
  const urls = ['/api/v1/images?cursor=', `/api/v1/images?cursor=${'a'.repeat(201)}`, '/api/v1/collections?cursor=', `/api/v1/collections?cursor=${'A'.repeat(5000)}`, '/api/v1/images?cursor=%21%21', `/api/v1/images?cursor=${Buffer.from('x:y').toString('base64url')}`, `/api/v1/collections?cursor=${Buffer.from('1:zzz').toString('base64url')}`, `/api/v1/images?cursor=${Buffer.from('1:00000000-0000-0000-0000-00000000000g').toString('base64url')}`]
  // Twice each: the public path decodes the cursor when the cache fills, and a refused fill must store nothing
  for (const headers of [{}, {}, writer(services)]) {
    for (const url of urls) {
      const res = await app.inject({ url, headers })
      assert.equal(res.statusCode, 400, url)
      assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
      assert.equal(res.json().message, 'Invalid cursor', url)
    }
  }
  assert.equal(app.publicCache.size(), 0, 'no entry for a refused cursor')
})

test('limit defaults to 24, is capped at 100, and must be positive', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  for (let i = 0; i < 110; i++) await insertImage(sql, { collectionId: c.id, position: i })
  const first = await app.inject(`/api/v1/images?collection=${c.slug}`)
  assert.equal(first.json().items.length, 24)
  assert.equal(typeof first.json().nextCursor, 'string')
  const max = await app.inject(`/api/v1/images?collection=${c.slug}&limit=100`)
  assert.equal(max.json().items.length, 100)
  for (const limit of ['101', '100000', '0', '-1', 'abc']) {
    const res = await app.inject(`/api/v1/images?collection=${c.slug}&limit=${limit}`)
    assert.equal(res.statusCode, 400, limit)
  }
  const rest = await app.inject(`/api/v1/images?collection=${c.slug}&limit=100&cursor=${max.json().nextCursor}`)
  assert.equal(rest.json().items.length, 10)
  assert.equal(rest.json().nextCursor, null)
})

test('pages have no duplicates and no gaps while images are inserted concurrently', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const original: string[] = []
  // Ties on position are broken by id, so equal positions must paginate correctly too
  for (let i = 0; i < 60; i++) original.push((await insertImage(sql, { collectionId: c.id, position: Math.floor(i / 3) * 10 })).id)

  const state = { done: false }
  const inserted: string[] = []
  const inserter = (async () => {
    let i = 0
    while (!state.done) {
      // Some land before the cursor, some after it, some on existing positions
      inserted.push((await insertImage(sql, { collectionId: c.id, position: (i * 37) % 220 - 5 })).id)
      i++
    }
  })()

  const seen: string[] = []
  const keys: [number, string][] = []
  let cursor: string | null = null
  let pages = 0
  try {
    do {
      const url: string = `/api/v1/images?collection=${c.id}&limit=7${cursor ? `&cursor=${cursor}` : ''}`
      const res = await app.inject({ url, headers: writer(services) })
      assert.equal(res.statusCode, 200)
      const body = res.json() as { items: { id: string, position: number }[], nextCursor: string | null }
      for (const item of body.items) { seen.push(item.id); keys.push([item.position, item.id]) }
      cursor = body.nextCursor
      pages++
      // Let the inserter run between pages
      await new Promise(resolve => setImmediate(resolve))
    } while (cursor !== null && pages < 200)
  } finally {
    state.done = true
    await inserter
  }
  assert.ok(inserted.length > 0, 'rows were inserted during pagination')
  assert.equal(new Set(seen).size, seen.length, 'no duplicates')
  for (const id of original) assert.ok(seen.includes(id), `original image ${id} missing`)
  for (let i = 1; i < keys.length; i++) {
    const [p0, id0] = keys[i - 1]!
    const [p1, id1] = keys[i]!
    assert.ok(p0 < p1 || (p0 === p1 && id0 < id1), 'strictly increasing (position, id)')
  }
})

test('collections paginate by (position, id) too', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  for (let i = 0; i < 5; i++) await insertCollection(sql, { position: 1000 + i })
  const all: string[] = []
  let cursor: string | null = null
  do {
    const res = await app.inject(`/api/v1/collections?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    const body = res.json() as { items: { id: string }[], nextCursor: string | null }
    all.push(...body.items.map(c => c.id))
    cursor = body.nextCursor
  } while (cursor !== null)
  const everything = (await app.inject('/api/v1/collections?limit=100')).json().items.map((c: { id: string }) => c.id)
  assert.deepEqual(all, everything)
  assert.ok(all.length >= 5)
})
