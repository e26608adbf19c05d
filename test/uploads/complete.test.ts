// End to end over real HTTP: presign through the API, POST the multipart form straight to
// s3rver with fetch + FormData (what a browser does), then complete. s3rver does not enforce
// the policy, so this is also where oversize and mislabelled files get caught: at completion.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3'
import { build } from '../helpers/build.ts'
import { makePng, makeGif, fixture, upload, presign, complete, postToBucket, type Presigned } from '../helpers/uploads.ts'
import type { AddressInfo } from 'node:net'
import { completeUpload } from '../../lib/uploads.ts'
import type { App } from '../../app.ts'

async function tagsOf (app: App, key: string): Promise<Record<string, string>> {
  const out = await app.storage.client.send(new GetObjectTaggingCommand({ Bucket: app.storage.bucket, Key: key }))
  return Object.fromEntries((out.TagSet ?? []).map(t => [t.Key, t.Value]))
}

async function rowOf (app: App, id: string) {
  const [row] = await app.sql<{ status: string, size: string | null, width: number | null, height: number | null, rejection_reason: string | null, completed_at: Date | null }[]>`select * from images where id = ${id}`
  return row
}

test('real PNG, JPEG, WebP and GIF files upload straight to S3 and complete as ready images with dimensions', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|artist' })
  const cases = [
    { type: 'image/png', bytes: makePng(64, 48), width: 64, height: 48 },
    { type: 'image/jpeg', bytes: fixture('sample.jpg'), width: 40, height: 30 },
    { type: 'image/webp', bytes: fixture('sample.webp'), width: 40, height: 30 },
    { type: 'image/gif', bytes: makeGif(), width: 1, height: 1 }
  ]
  for (const c of cases) {
    const presigned = await upload(app, token, c.bytes, c.type)
    const key = presigned.fields.key!
    assert.equal((await tagsOf(app, key)).state, undefined, 's3rver ignores the tagging form field; completion must still work')
    const res = await complete(app, token, presigned.id)
    assert.equal(res.statusCode, 200, `${c.type}: ${res.body}`)
    const image = res.json()
    assert.equal(image.id, presigned.id)
    assert.equal(image.status, 'ready')
    assert.equal(image.contentType, c.type)
    assert.equal(image.size, c.bytes.length)
    assert.equal(image.width, c.width)
    assert.equal(image.height, c.height)
    assert.equal(image.published, false, 'a new image is a draft until the owner publishes it')
    assert.equal(typeof image.url, 'string')
    // The URL serves the bytes from the bucket origin, not from the API
    assert.ok(image.url.startsWith(services.s3.endpoint), image.url)
    const served = Buffer.from(await (await fetch(image.url)).arrayBuffer())
    assert.ok(served.equals(c.bytes), `${c.type}: served bytes differ`)
    // The pending tag is replaced, so the lifecycle rule for abandoned uploads never matches it
    assert.deepEqual(await tagsOf(app, key), { state: 'ready' })
    const row = await rowOf(app, presigned.id)
    assert.equal(row!.status, 'ready')
    assert.ok(row!.completed_at instanceof Date)
  }
})

test('completion is idempotent and concurrent completions agree', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|twice' })
  const presigned = await upload(app, token, makePng(8, 8), 'image/png')
  const all = await Promise.all(Array.from({ length: 6 }, () => complete(app, token, presigned.id)))
  for (const res of all) assert.equal(res.statusCode, 200, res.body)
  const firstAt = (await rowOf(app, presigned.id))!.completed_at!.getTime()
  const bodies = all.map(r => r.json())
  for (const b of bodies) assert.deepEqual({ ...b, url: null }, { ...bodies[0], url: null })
  const again = await complete(app, token, presigned.id)
  assert.equal(again.statusCode, 200)
  assert.equal(again.json().updatedAt, bodies[0].updatedAt)
  assert.equal((await rowOf(app, presigned.id))!.completed_at!.getTime(), firstAt)
})

test('an HTML file renamed .png is rejected at completion (422) and its object deleted', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|html' })
  const html = Buffer.from('<!doctype html><html><body><script>alert(document.domain)</script></body></html>')
  const presigned = await upload(app, token, html, 'image/png')
  const key = presigned.fields.key!
  assert.ok(await app.storage.headObject(key), 'the object is in the bucket before completion')

  const res = await complete(app, token, presigned.id)
  assert.equal(res.statusCode, 422, res.body)
  assert.equal(res.json().code, 'GALLERY_UNPROCESSABLE')
  assert.match(res.json().message, /not an accepted image type, not image\/png/)
  assert.equal(await app.storage.headObject(key), null, 'the rejected object is deleted')
  const row = await rowOf(app, presigned.id)
  assert.equal(row!.status, 'rejected')
  assert.match(row!.rejection_reason!, /not image\/png/)
  // Asking again gives the same answer, not a 409 for the now-missing object
  const again = await complete(app, token, presigned.id)
  assert.equal(again.statusCode, 422)
  assert.equal(again.json().message, res.json().message)
})

test('a completion that loses the race to one rejecting the same file answers 422, not 503 for the deleted object', async (t) => {
  const { app, services } = await build(t)
  const subject = 'auth0|race'
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: subject })
  const presigned = await upload(app, token, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'), 'image/png')
  const deps = { sql: app.sql, config: app.config }
  // Deterministic interleaving: after our HEAD saw the object, another completion runs to the
  // end (rejects, deletes the object) before our ranged GET
  let other: Awaited<ReturnType<typeof completeUpload>> | undefined
  const racing: typeof app.storage = {
    ...app.storage,
    getRange: async (key, start, end, signal) => {
      other ??= await completeUpload({ ...deps, storage: app.storage }, { id: presigned.id, subject })
      return await app.storage.getRange(key, start, end, signal)
    }
  }
  const ours = await completeUpload({ ...deps, storage: racing }, { id: presigned.id, subject })
  assert.equal(other?.outcome, 'rejected')
  assert.equal(ours.outcome, 'rejected')
  assert.equal(ours.row.rejection_reason, other.row.rejection_reason)
})

test('a real image of another type than declared is rejected', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|liar' })
  const presigned = await upload(app, token, makePng(4, 4), 'image/jpeg')
  const res = await complete(app, token, presigned.id)
  assert.equal(res.statusCode, 422)
  assert.match(res.json().message, /content is image\/png, not image\/jpeg/)
  assert.equal(await app.storage.headObject(presigned.fields.key!), null)
})

test('an object larger than declared is rejected (S3 would refuse it; s3rver does not) and deleted', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|big' })
  const bytes = makePng(32, 32)
  const presigned = await upload(app, token, bytes, 'image/png', 100)
  assert.equal((await app.storage.headObject(presigned.fields.key!))!.size, bytes.length)
  const res = await complete(app, token, presigned.id)
  assert.equal(res.statusCode, 422)
  assert.match(res.json().message, new RegExp(`${bytes.length} bytes but 100 were declared`))
  assert.equal(await app.storage.headObject(presigned.fields.key!), null)
  assert.equal((await rowOf(app, presigned.id))!.status, 'rejected')
})

test('an object stored with another Content-Type than signed is rejected', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|retype' })
  const bytes = makePng(4, 4)
  const res = await presign(app, token, { contentType: 'image/png', size: bytes.length })
  const presigned = res.json<Presigned>()
  // Real S3 refuses this form (the policy pins Content-Type); s3rver stores it
  const s3 = await postToBucket({ ...presigned, fields: { ...presigned.fields, 'Content-Type': 'text/html' } }, bytes, { type: 'text/html' })
  assert.ok(s3.ok)
  const done = await complete(app, token, presigned.id)
  assert.equal(done.statusCode, 422)
  assert.match(done.json().message, /stored as text\/html but image\/png was declared/)
})

test("completing someone else's upload is 404, like an unknown id; a malformed id is 400", async (t) => {
  const { app, services } = await build(t)
  const owner = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|owner' })
  const intruder = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|intruder' })
  const presigned = await upload(app, owner, makePng(4, 4), 'image/png')
  const res = await complete(app, intruder, presigned.id)
  assert.equal(res.statusCode, 404)
  assert.equal(res.json().code, 'GALLERY_NOT_FOUND')
  assert.equal((await rowOf(app, presigned.id))!.status, 'pending', 'the intruder changed nothing')
  const unknown = await complete(app, intruder, '00000000-0000-4000-8000-000000000000')
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().message, res.json().message)
  assert.equal((await complete(app, owner, 'not-a-uuid')).statusCode, 400)
  // Without write:gallery, or without a token, nothing is revealed either
  const reader = services.issuer.token({ permissions: [], sub: 'auth0|owner' })
  assert.equal((await complete(app, reader, presigned.id)).statusCode, 403)
  assert.equal((await app.inject({ method: 'POST', url: `/api/v1/uploads/${presigned.id}/complete` })).statusCode, 401)
  // The owner still completes it
  assert.equal((await complete(app, owner, presigned.id)).statusCode, 200)
})

test('completing before the file is uploaded is 409, and works once it is', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|early' })
  const bytes = makePng(5, 5)
  const res = await presign(app, token, { contentType: 'image/png', size: bytes.length })
  const presigned = res.json<Presigned>()
  const early = await complete(app, token, presigned.id)
  assert.equal(early.statusCode, 409)
  assert.match(early.json().message, /not been uploaded yet/)
  assert.equal((await rowOf(app, presigned.id))!.status, 'pending')
  assert.ok((await postToBucket(presigned, bytes, { type: 'image/png' })).ok)
  assert.equal((await complete(app, token, presigned.id)).statusCode, 200)
})

test('an upload past its expiry is still completed when the object exists (S3 checked the expiry on receipt)', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|late' })
  const presigned = await upload(app, token, makePng(3, 3), 'image/png')
  await app.sql`update images set expires_at = now() - interval '1 minute' where id = ${presigned.id}`
  const res = await complete(app, token, presigned.id)
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().status, 'ready')
})

test('over real HTTP, presign (JSON body) and complete (empty or {} body) do not cancel their own work', async (t) => {
  // Fastify 5.12 aborts request.signal once a request body has been read (fastify/fastify#6725);
  // app.inject does not show it, a socket does
  const { app, services } = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|http' })
  const auth = { authorization: `Bearer ${token}` }
  for (const body of ['', '{}']) {
    const bytes = makePng(7, 7)
    const res = await fetch(`${base}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ contentType: 'image/png', size: bytes.length })
    })
    assert.equal(res.status, 201, await res.clone().text())
    const presigned = await res.json() as Presigned
    assert.ok((await postToBucket(presigned, bytes, { type: 'image/png' })).ok)
    const done = await fetch(`${base}/api/v1/uploads/${presigned.id}/complete`, {
      method: 'POST',
      headers: body === '' ? auth : { ...auth, 'content-type': 'application/json' },
      body
    })
    assert.equal(done.status, 200, await done.clone().text())
    assert.equal((await done.json() as { status: string }).status, 'ready')
  }
})
