// Writes: permissions (401 without a token, 403 without write:gallery), mass assignment,
// slug conflicts, publish rules, collection delete and reorder, image delete with its S3 object.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import postgres from 'postgres'
import { buildGallery, insertCollection, insertImage, objectExists, putObject, reader, testDb, unique, until, writer } from '../helpers/gallery-fixtures.ts'

const ZERO = '00000000-0000-4000-8000-000000000000'

test('every write answers 401 without a token and 403 without write:gallery, and changes nothing', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql)
  const writes = [
    { method: 'POST', url: '/api/v1/collections', payload: { slug: unique('w'), title: 'x' } },
    { method: 'PATCH', url: `/api/v1/collections/${c.id}`, payload: { title: 'changed' } },
    { method: 'DELETE', url: `/api/v1/collections/${c.id}` },
    { method: 'POST', url: '/api/v1/collections/reorder', payload: { ids: [c.id] } },
    { method: 'PATCH', url: `/api/v1/images/${img.id}`, payload: { title: 'changed' } },
    { method: 'DELETE', url: `/api/v1/images/${img.id}` }
  ] as const
  for (const w of writes) {
    const anonymous = await app.inject(w)
    assert.equal(anonymous.statusCode, 401, `${w.method} ${w.url}`)
    assert.equal(anonymous.json().statusCode, 401)
    const forbidden = await app.inject({ ...w, headers: reader(services) })
    assert.equal(forbidden.statusCode, 403, `${w.method} ${w.url}`)
    assert.match(forbidden.json().message, /write:gallery/)
  }
  const [coll] = await sql`select title from collections where id = ${c.id}`
  assert.equal(coll?.title, `Collection ${c.slug}`)
  const [image] = await sql`select title from images where id = ${img.id}`
  assert.equal(image?.title, '')
})

test('PATCH refuses id, key, status, created_at (mass assignment) and changes nothing', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const img = await insertImage(sql, { status: 'pending', published: false })
  const [before] = await sql`select * from images where id = ${img.id}`
  for (const extra of [{ id: ZERO }, { key: 'images/evil.jpg' }, { status: 'ready' }, { created_at: '2000-01-01T00:00:00Z' }, { uploadedBy: 'someone' }]) {
    const res = await app.inject({ method: 'PATCH', url: `/api/v1/images/${img.id}`, headers: writer(services), payload: { title: 'new', ...extra } })
    assert.equal(res.statusCode, 400, JSON.stringify(extra))
    assert.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
  const [after] = await sql`select * from images where id = ${img.id}`
  assert.deepEqual(after, before)

  const c = await insertCollection(sql)
  const res = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${c.id}`, headers: writer(services), payload: { id: ZERO, title: 'x' } })
  assert.equal(res.statusCode, 400)
  const [coll] = await sql`select id, title from collections where id = ${c.id}`
  assert.equal(coll?.title, `Collection ${c.slug}`)
})

test('PATCH image edits the allowed fields; publishing a pending image is a 409', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { published: false })
  const res = await app.inject({
    method: 'PATCH',
    url: `/api/v1/images/${img.id}`,
    headers: writer(services),
    payload: { title: 'Sunset', description: 'd', altText: 'a sunset', tags: ['sea', ' sea ', 'sky'], collectionId: c.id, position: 7, published: true }
  })
  assert.equal(res.statusCode, 200)
  const body = res.json()
  assert.equal(body.title, 'Sunset')
  assert.equal(body.altText, 'a sunset')
  assert.deepEqual(body.tags, ['sea', 'sky'])
  assert.equal(body.collectionId, c.id)
  assert.equal(body.position, 7)
  assert.equal(body.published, true)
  assert.equal('key' in body, false)
  assert.equal('uploadedBy' in body, false)

  const pending = await insertImage(sql, { status: 'pending', published: false })
  const refused = await app.inject({ method: 'PATCH', url: `/api/v1/images/${pending.id}`, headers: writer(services), payload: { published: true } })
  assert.equal(refused.statusCode, 409)
  const [row] = await sql`select published from images where id = ${pending.id}`
  assert.equal(row?.published, false)

  const unknownCollection = await app.inject({ method: 'PATCH', url: `/api/v1/images/${img.id}`, headers: writer(services), payload: { collectionId: ZERO } })
  assert.equal(unknownCollection.statusCode, 422)
  const missing = await app.inject({ method: 'PATCH', url: `/api/v1/images/${ZERO}`, headers: writer(services), payload: { title: 'x' } })
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), { statusCode: 404, error: 'Not Found', message: 'Image not found', code: 'GALLERY_NOT_FOUND' })
  const empty = await app.inject({ method: 'PATCH', url: `/api/v1/images/${img.id}`, headers: writer(services), payload: {} })
  assert.equal(empty.statusCode, 400)
})

test('collections: create, slug conflict 409, update, 404 shape', async (t) => {
  const { app, services } = await buildGallery(t)
  const slug = unique('create')
  const created = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: writer(services), payload: { slug, title: 'Prints' } })
  assert.equal(created.statusCode, 201)
  assert.equal(created.json().slug, slug)
  assert.equal(created.json().published, false)

  const again = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: writer(services), payload: { slug, title: 'Other' } })
  assert.equal(again.statusCode, 409)
  assert.equal(again.json().code, 'GALLERY_CONFLICT')

  const second = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: writer(services), payload: { slug: unique('second'), title: 'Second' } })
  assert.ok(second.json().position > created.json().position, 'new collections go last')
  const rename = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${second.json().id}`, headers: writer(services), payload: { slug } })
  assert.equal(rename.statusCode, 409)

  const updated = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${created.json().id}`, headers: writer(services), payload: { title: 'Prints 2026', published: true } })
  assert.equal(updated.statusCode, 200)
  assert.equal(updated.json().title, 'Prints 2026')
  assert.equal((await app.inject(`/api/v1/collections/${slug}`)).json().title, 'Prints 2026')

  const badSlug = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: writer(services), payload: { slug: 'Bad Slug', title: 'x' } })
  assert.equal(badSlug.statusCode, 400)
  const missing = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${ZERO}`, headers: writer(services), payload: { title: 'x' } })
  assert.deepEqual(missing.json(), { statusCode: 404, error: 'Not Found', message: 'Collection not found', code: 'GALLERY_NOT_FOUND' })
})

test('a collection can be named by id or slug in get, update and delete', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  assert.equal((await app.inject(`/api/v1/collections/${c.id}`)).json().slug, c.slug)
  const bySlug = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${c.slug}`, headers: writer(services), payload: { title: 'By slug' } })
  assert.equal(bySlug.statusCode, 200)
  assert.equal(bySlug.json().id, c.id)
  // A slug shaped like another collection's id never reaches that collection
  const other = await insertCollection(sql, { slug: c.id })
  const byId = await app.inject({ method: 'PATCH', url: `/api/v1/collections/${c.id}`, headers: writer(services), payload: { title: 'By id' } })
  assert.equal(byId.json().id, c.id)
  const [untouched] = await sql`select title from collections where id = ${other.id}`
  assert.equal(untouched?.title, `Collection ${c.id}`)
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/collections/${c.slug}`, headers: writer(services) })).statusCode, 204)
  assert.equal((await sql`select 1 from collections where id = ${c.id}`).length, 0)
})

test('deleting a draft collection keeps its images hidden from the public; a published one\'s stay public', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const draft = await insertCollection(sql, { published: false })
  const hidden = await insertImage(sql, { collectionId: draft.id, published: true })
  const shown = await insertCollection(sql, { published: true })
  const visible = await insertImage(sql, { collectionId: shown.id, published: true })
  assert.equal((await app.inject(`/api/v1/images/${hidden.id}`)).statusCode, 404)
  assert.equal((await app.inject(`/api/v1/images/${visible.id}`)).statusCode, 200)

  for (const c of [draft, shown]) {
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/collections/${c.id}`, headers: writer(services) })).statusCode, 204)
  }
  assert.equal((await app.inject(`/api/v1/images/${hidden.id}`)).statusCode, 404, 'the draft\'s image stays hidden')
  const publicIds = (await app.inject('/api/v1/images?limit=100')).json().items.map((i: { id: string }) => i.id)
  assert.equal(publicIds.includes(hidden.id), false)
  const [row] = await sql`select published, collection_id from images where id = ${hidden.id}`
  assert.deepEqual({ ...row }, { published: false, collection_id: null })
  assert.equal((await app.inject(`/api/v1/images/${visible.id}`)).statusCode, 200, 'the published collection\'s image stays public')
})

test('deleting a collection keeps its images, without a collection', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const img = await insertImage(sql, { collectionId: c.id })
  const res = await app.inject({ method: 'DELETE', url: `/api/v1/collections/${c.id}`, headers: writer(services) })
  assert.equal(res.statusCode, 204)
  assert.equal(res.body, '')
  const [row] = await sql`select collection_id from images where id = ${img.id}`
  assert.equal(row?.collection_id, null)
  assert.equal((await app.inject(`/api/v1/collections/${c.slug}`)).statusCode, 404)
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/collections/${c.id}`, headers: writer(services) })).statusCode, 404)
})

test('reorder: one id given twice in different letter cases is a 400 naming it, and changes nothing', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const a = await insertCollection(sql, { position: 0 })
  const b = await insertCollection(sql, { position: 1 })
  const before = await sql`select id, position from collections order by id`
  const res = await app.inject({ method: 'POST', url: '/api/v1/collections/reorder', headers: writer(services), payload: { ids: [b.id, a.id, b.id.toUpperCase()] } })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().code, 'GALLERY_BAD_REQUEST')
  assert.match(res.json().message, new RegExp(b.id))
  assert.deepEqual(await sql`select id, position from collections order by id`, before)
})

test('reorder puts the named collections first, in order, atomically', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const cs = []
  for (let i = 0; i < 4; i++) cs.push(await insertCollection(sql, { position: i }))
  const before = (await app.inject({ url: '/api/v1/collections?limit=100', headers: writer(services) })).json().items.map((c: { id: string }) => c.id)
  const wanted = [cs[3]!.id, cs[1]!.id]
  const res = await app.inject({ method: 'POST', url: '/api/v1/collections/reorder', headers: writer(services), payload: { ids: wanted } })
  assert.equal(res.statusCode, 200)
  const after = res.json().items.map((c: { id: string }) => c.id)
  assert.deepEqual(after, [...wanted, ...before.filter((id: string) => !wanted.includes(id))])
  const listed = (await app.inject({ url: '/api/v1/collections?limit=100', headers: writer(services) })).json().items.map((c: { id: string }) => c.id)
  assert.deepEqual(listed, after)

  // An unknown id refuses the whole reorder
  const refused = await app.inject({ method: 'POST', url: '/api/v1/collections/reorder', headers: writer(services), payload: { ids: [cs[0]!.id, ZERO] } })
  assert.equal(refused.statusCode, 422)
  const unchanged = (await app.inject({ url: '/api/v1/collections?limit=100', headers: writer(services) })).json().items.map((c: { id: string }) => c.id)
  assert.deepEqual(unchanged, after)
  const dup = await app.inject({ method: 'POST', url: '/api/v1/collections/reorder', headers: writer(services), payload: { ids: [cs[0]!.id, cs[0]!.id] } })
  assert.equal(dup.statusCode, 400)
})

test('deleting an image removes the row and its S3 object; a missing object is fine', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const img = await insertImage(sql)
  await putObject(services, img.key)
  assert.equal(await objectExists(services, img.key), true)

  const res = await app.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })
  assert.equal(res.statusCode, 204)
  assert.equal(await objectExists(services, img.key), false)
  assert.equal((await sql`select 1 from images where id = ${img.id}`).length, 0)
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })).statusCode, 404)

  const noObject = await insertImage(sql, { status: 'pending' })
  const res2 = await app.inject({ method: 'DELETE', url: `/api/v1/images/${noObject.id}`, headers: writer(services) })
  assert.equal(res2.statusCode, 204)
  assert.equal((await sql`select 1 from images where id = ${noObject.id}`).length, 0)
})

test('when S3 fails, deleting an image answers 503 and keeps the row, hidden from the public, for a retry', async (t) => {
  // Port 9 (discard) on loopback: connection refused, S3 unreachable
  const { app, services } = await buildGallery(t, { S3_ENDPOINT: 'http://127.0.0.1:9' })
  const sql = testDb(t, services)
  const img = await insertImage(sql)
  await putObject(services, img.key)
  const res = await app.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GALLERY_STORAGE_UNAVAILABLE')
  const [row] = await sql`select published from images where id = ${img.id}`
  assert.equal(row?.published, false, 'kept, unpublished')
  assert.equal((await app.inject(`/api/v1/images/${img.id}`)).statusCode, 404)

  // S3 back: the retry finishes the delete
  const { app: healthy } = await buildGallery(t)
  assert.equal((await healthy.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })).statusCode, 204)
  assert.equal((await sql`select 1 from images where id = ${img.id}`).length, 0)
  assert.equal(await objectExists(services, img.key), false)
})

test('when the commit fails after S3 deleted the object, the public never sees the image without it', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const img = await insertImage(sql)
  await putObject(services, img.key)
  // A deferred trigger refuses this one row's delete at COMMIT, after the S3 call
  const admin = postgres(services.databaseUrl, { max: 1, onnotice: () => {} })
  const name = `fail_commit_${img.id.replaceAll('-', '_')}`
  await admin.unsafe(`create function ${name}() returns trigger language plpgsql as $$
    begin if old.id = '${img.id}' then raise exception 'commit refused by the test'; end if; return null; end $$`)
  await admin.unsafe(`create constraint trigger ${name} after delete on images deferrable initially deferred for each row execute function ${name}()`)
  const dropTrigger = async () => {
    await admin.unsafe(`drop trigger if exists ${name} on images`)
    await admin.unsafe(`drop function if exists ${name}()`)
  }
  t.after(async () => { await dropTrigger(); await admin.end({ timeout: 5 }) })

  const res = await app.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })
  assert.ok(res.statusCode >= 500, `answered ${res.statusCode}`)
  assert.equal(await objectExists(services, img.key), false, 'S3 did delete')
  assert.equal((await app.inject(`/api/v1/images/${img.id}`)).statusCode, 404, 'no public image without its object')
  assert.equal((await app.inject('/api/v1/images?limit=100')).json().items.some((i: { id: string }) => i.id === img.id), false)

  await dropTrigger()
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/v1/images/${img.id}`, headers: writer(services) })).statusCode, 204)
  assert.equal((await sql`select 1 from images where id = ${img.id}`).length, 0)
})

/** An HTTP proxy to S3 that holds back the answer to a DELETE until released (or the caller hangs up). */
async function holdingS3Proxy (t: { after: (fn: () => unknown) => void }, target: string) {
  let arrived!: () => void
  const deleted = new Promise<void>(resolve => { arrived = resolve })
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  const server = http.createServer((req, res) => {
    const upstream = http.request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (up) => {
      const chunks: Buffer[] = []
      up.on('data', (c: Buffer) => chunks.push(c))
      up.on('end', () => {
        const answer = () => { if (!res.destroyed) res.writeHead(up.statusCode!, up.headers).end(Buffer.concat(chunks)) }
        if (req.method !== 'DELETE') return answer()
        arrived()
        Promise.race([released, once(res, 'close')]).then(answer, answer)
      })
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deleted, release }
}

test('a client that hangs up while S3 deletes the object does not leave a public image without it', async (t) => {
  const { services } = await buildGallery(t)
  const proxy = await holdingS3Proxy(t, services.s3.endpoint)
  const { app } = await buildGallery(t, { S3_ENDPOINT: proxy.url })
  const sql = testDb(t, services)
  const img = await insertImage(sql)
  await putObject(services, img.key)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  const req = http.request({ host: '127.0.0.1', port, method: 'DELETE', path: `/api/v1/images/${img.id}`, headers: writer(services) })
  req.on('error', () => {})
  req.end()
  await proxy.deleted
  assert.equal(await objectExists(services, img.key), false, 'S3 received the DELETE')
  req.destroy()
  // Let the server see the client go before S3's answer comes back
  await sleep(300)
  proxy.release()

  await until(async () => (await sql`select 1 from images where id = ${img.id}`).length === 0, 'the delete to finish although the client left')
  assert.equal((await app.inject(`/api/v1/images/${img.id}`)).statusCode, 404)
})
