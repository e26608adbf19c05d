// The public sees published collections and ready + published images outside draft collections;
// writers see everything. Checked through lists, gets, filters and the status filter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildGallery, insertCollection, insertImage, reader, testDb, unique, writer } from '../helpers/gallery-fixtures.ts'

test('public lists and gets never show drafts, pending or rejected images; writers see them all', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const tag = unique('vis')
  const visible = await insertImage(sql, { tags: [tag], position: 1 })
  const draft = await insertImage(sql, { tags: [tag], published: false, position: 2 })
  const pending = await insertImage(sql, { tags: [tag], status: 'pending', published: true, position: 3 })
  const rejected = await insertImage(sql, { tags: [tag], status: 'rejected', published: true, position: 4 })
  const draftCollection = await insertCollection(sql, { published: false })
  const inDraftCollection = await insertImage(sql, { tags: [tag], collectionId: draftCollection.id, position: 5 })

  const ids = (res: { json: () => { items: { id: string }[] } }) => res.json().items.map(i => i.id)

  const pub = await app.inject(`/api/v1/images?tag=${tag}`)
  assert.equal(pub.statusCode, 200)
  assert.deepEqual(ids(pub), [visible.id])
  assert.match(pub.json().items[0].url, /^http/)

  // A token without write:gallery sees the public view
  const asReader = await app.inject({ url: `/api/v1/images?tag=${tag}`, headers: reader(services) })
  assert.deepEqual(ids(asReader), [visible.id])

  // Asking for another status publicly yields nothing
  for (const status of ['pending', 'rejected']) {
    const res = await app.inject(`/api/v1/images?tag=${tag}&status=${status}`)
    assert.deepEqual(ids(res), [], status)
  }

  for (const hidden of [draft, pending, rejected, inDraftCollection]) {
    const res = await app.inject(`/api/v1/images/${hidden.id}`)
    assert.equal(res.statusCode, 404)
    assert.deepEqual(res.json(), { statusCode: 404, error: 'Not Found', message: 'Image not found', code: 'GALLERY_NOT_FOUND' })
    const asWriter = await app.inject({ url: `/api/v1/images/${hidden.id}`, headers: writer(services) })
    assert.equal(asWriter.statusCode, 200)
  }
  assert.equal((await app.inject(`/api/v1/images/${visible.id}`)).statusCode, 200)

  const all = await app.inject({ url: `/api/v1/images?tag=${tag}`, headers: writer(services) })
  assert.deepEqual(ids(all), [visible.id, draft.id, pending.id, rejected.id, inDraftCollection.id])
  const pendingOnly = await app.inject({ url: `/api/v1/images?tag=${tag}&status=pending`, headers: writer(services) })
  assert.deepEqual(ids(pendingOnly), [pending.id])
  // Pending images have no object to serve yet
  assert.equal(pendingOnly.json().items[0].url, null)
})

test('draft collections are hidden from the public, visible to writers', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const published = await insertCollection(sql, { published: true })
  const draft = await insertCollection(sql, { published: false })

  const list = await app.inject('/api/v1/collections?limit=100')
  const slugs = list.json().items.map((c: { slug: string }) => c.slug)
  assert.ok(slugs.includes(published.slug))
  assert.ok(!slugs.includes(draft.slug))

  const get = await app.inject(`/api/v1/collections/${draft.slug}`)
  assert.equal(get.statusCode, 404)
  assert.equal(get.json().message, 'Collection not found')

  const asWriter = await app.inject({ url: `/api/v1/collections/${draft.slug}`, headers: writer(services) })
  assert.equal(asWriter.statusCode, 200)
  assert.equal(asWriter.json().published, false)
  const writerList = await app.inject({ url: '/api/v1/collections?limit=100', headers: writer(services) })
  assert.ok(writerList.json().items.some((c: { slug: string }) => c.slug === draft.slug))
})

test('images filter by collection id or slug, and by tag', async (t) => {
  const { app, services } = await buildGallery(t)
  const sql = testDb(t, services)
  const c = await insertCollection(sql)
  const other = await insertCollection(sql)
  const tag = unique('tag')
  const a = await insertImage(sql, { collectionId: c.id, tags: [tag, 'x'], position: 1 })
  const b = await insertImage(sql, { collectionId: c.id, tags: ['x'], position: 2 })
  await insertImage(sql, { collectionId: other.id, tags: [tag] })

  const bySlug = await app.inject(`/api/v1/images?collection=${c.slug}`)
  assert.deepEqual(bySlug.json().items.map((i: { id: string }) => i.id), [a.id, b.id])
  const byId = await app.inject(`/api/v1/images?collection=${c.id}`)
  assert.deepEqual(byId.json().items.map((i: { id: string }) => i.id), [a.id, b.id])
  const both = await app.inject(`/api/v1/images?collection=${c.slug}&tag=${tag}`)
  assert.deepEqual(both.json().items.map((i: { id: string }) => i.id), [a.id])
  const unknown = await app.inject('/api/v1/images?collection=no-such-collection')
  assert.deepEqual(unknown.json().items, [])
})
