// The cleanup command removes abandoned uploads (pending past expiry + grace) and their objects,
// keeps ready images and fresh pending ones, and two runs at once never trip over each other.
// delete-prefix (review apps' pr-predestroy) empties exactly this app's prefix.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { build } from '../helpers/build.ts'
import { testEnv } from '../helpers/services.ts'
import { spawnNode } from '../helpers/spawn.ts'
import { makePng, upload, complete, presign, postToBucket, finalKey, pinIncomingFolder, type Presigned } from '../helpers/uploads.ts'
import { cleanupUploads, deletePrefix, deletePrefixRefusal } from '../../lib/upload-cleanup.ts'
import { createSql } from '../../lib/db.ts'
import { createStorage } from '../../lib/storage.ts'
import type { App } from '../../app.ts'

const exists = async (app: App, id: string) => (await app.sql`select 1 from images where id = ${id}`).length === 1
const age = async (app: App, id: string, minutes: number) => {
  await app.sql`update images set expires_at = now() - make_interval(mins => ${minutes}) where id = ${id}`
}

test('cleanup removes expired pending uploads and their objects, and keeps ready and fresh ones', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|cleanup' })
  await pinIncomingFolder(app)

  // Abandoned: uploaded but never completed, expired 20 min ago (past the 15 min grace)
  const abandoned = await upload(app, token, makePng(6, 6), 'image/png')
  await age(app, abandoned.id, 20)
  // Abandoned before uploading anything: a row without an object
  const neverSent = (await presign(app, token, { contentType: 'image/png', size: 10 })).json<Presigned>()
  await age(app, neverSent.id, 60)
  // Within the grace period: a completion may still be on its way
  const inGrace = await upload(app, token, makePng(6, 6), 'image/png')
  await age(app, inGrace.id, 5)
  // Ready, with an expiry long past: never touched
  const ready = await upload(app, token, makePng(6, 6), 'image/png')
  assert.equal((await complete(app, token, ready.id)).statusCode, 200)
  await age(app, ready.id, 600)
  // Rejected two days ago: the row goes (its object was already deleted)
  const html = await upload(app, token, Buffer.from('<html></html>'), 'image/png')
  assert.equal((await complete(app, token, html.id)).statusCode, 422)
  await app.sql`update images set updated_at = now() - interval '2 days' where id = ${html.id}`
  // ... and its form POSTed again after the rejection: that object goes with the row
  assert.equal((await postToBucket(html, makePng(2, 2), { type: 'image/png' })).status, 204)
  // Rejected just now: kept, so the client can still read why
  const recent = await upload(app, token, Buffer.from('<html></html>'), 'image/png')
  assert.equal((await complete(app, token, recent.id)).statusCode, 422)

  const lines: string[] = []
  const result = await cleanupUploads(app.sql, app.storage, { log: l => lines.push(l) })
  assert.equal(result.pendingRemoved, 2)
  assert.equal(result.rejectedRemoved, 1)
  assert.ok(lines.some(l => l.includes(abandoned.id)), lines.join('\n'))

  assert.equal(await exists(app, abandoned.id), false)
  assert.equal(await app.storage.headObject(abandoned.fields.key!), null, 'the abandoned object is deleted')
  assert.equal(await exists(app, neverSent.id), false)
  assert.equal(await exists(app, inGrace.id), true)
  assert.ok(await app.storage.headObject(inGrace.fields.key!))
  assert.equal(await exists(app, ready.id), true)
  assert.ok(await app.storage.headObject(finalKey(ready)), 'a ready image keeps its object')
  assert.equal(await exists(app, html.id), false)
  assert.equal(await app.storage.headObject(html.fields.key!), null, 'the object re-POSTed after the rejection is deleted')
  assert.equal(await exists(app, recent.id), true)

  // A completion after cleanup finds nothing to complete
  assert.equal((await complete(app, token, abandoned.id)).statusCode, 404)
  // Running again finds nothing
  assert.deepEqual(await cleanupUploads(app.sql, app.storage), { pendingRemoved: 0, objectsDeleted: 0, rejectedRemoved: 0 })
})

test('two cleanups at once remove each abandoned upload exactly once', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|parallel' })
  await pinIncomingFolder(app)
  const ids: string[] = []
  for (let i = 0; i < 24; i++) {
    const p = await upload(app, token, makePng(2, 2), 'image/png')
    ids.push(p.id)
  }
  await app.sql`update images set expires_at = now() - interval '1 hour' where id = any(${ids}::uuid[])`

  // Separate pools and clients, as two scheduler dynos would have
  const config = app.config
  const runners = [0, 1].map(() => ({ sql: createSql(config, { max: 1 }), storage: createStorage(config) }))
  t.after(async () => { for (const r of runners) { await r.sql.end(); r.storage.destroy() } })
  const results = await Promise.all(runners.map(r => cleanupUploads(r.sql, r.storage, { batchSize: 4 })))
  assert.equal(results[0]!.pendingRemoved + results[1]!.pendingRemoved, ids.length)
  const left = await app.sql`select count(*)::int as n from images where id = any(${ids}::uuid[])`
  assert.equal(left[0]!.n, 0)
})

test('cleanup skips a row another transaction holds (SKIP LOCKED) instead of waiting for it, and removes it on the next run', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|locked' })
  await pinIncomingFolder(app)
  const uploads: Presigned[] = []
  for (let i = 0; i < 3; i++) uploads.push(await upload(app, token, makePng(2, 2), 'image/png'))
  const ids = uploads.map(u => u.id)
  await app.sql`update images set expires_at = now() - interval '1 hour' where id = any(${ids}::uuid[])`
  const [held, ...free] = uploads as [Presigned, ...Presigned[]]

  // A completion (or another cleanup) holding one row: its transaction stays open until released
  const config = app.config
  const holder = createSql(config, { max: 1 })
  const cleaner = { sql: createSql(config, { max: 1 }), storage: createStorage(config) }
  t.after(async () => { await holder.end(); await cleaner.sql.end(); cleaner.storage.destroy() })
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let locked!: () => void
  const isLocked = new Promise<void>(resolve => { locked = resolve })
  const holding = holder.begin(async (tx) => {
    await tx`select id from images where id = ${held.id} for update`
    locked()
    await released
  })
  await isLocked

  // Without SKIP LOCKED the claim would wait on that row for as long as it is held
  const run = cleanupUploads(cleaner.sql, cleaner.storage)
  const timer = new Promise<'blocked'>(resolve => setTimeout(resolve, 5000, 'blocked').unref())
  const first = await Promise.race([run, timer])
  release()
  await holding
  assert.notEqual(first, 'blocked', 'cleanup waited on the locked row instead of skipping it')
  assert.equal((first as Awaited<typeof run>).pendingRemoved, free.length)
  for (const u of free) {
    assert.equal(await exists(app, u.id), false)
    assert.equal(await app.storage.headObject(u.fields.key!), null)
  }
  assert.equal(await exists(app, held.id), true, 'the locked row is left for the next run')
  assert.ok(await app.storage.headObject(held.fields.key!), '... with its object')

  // Once released, the next run removes it
  const second = await cleanupUploads(cleaner.sql, cleaner.storage)
  assert.equal(second.pendingRemoved, 1)
  assert.equal(await exists(app, held.id), false)
  assert.equal(await app.storage.headObject(held.fields.key!), null)
})

test('npm run cleanup prints what it did and exits 0; a bad configuration exits non-zero', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|cli' })
  const abandoned = await upload(app, token, makePng(3, 3), 'image/png')
  await age(app, abandoned.id, 30)

  const env = await testEnv()
  const run = spawnNode(['bin/cleanup.ts'], env)
  const { code } = await run.exited
  assert.equal(code, 0, run.output())
  assert.match(run.output(), new RegExp(`removed pending upload ${abandoned.id}`))
  assert.match(run.output(), /cleanup: 1 abandoned pending upload\(s\) removed \(1 object\(s\) deleted\)/)
  assert.equal(await app.storage.headObject(abandoned.fields.key!), null)

  const broken = spawnNode(['bin/cleanup.ts'], { ...env, DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' })
  const failed = await broken.exited
  assert.equal(failed.code, 1, broken.output())
  assert.match(broken.output(), /cleanup failed/)
})

test('delete-prefix empties exactly this app prefix, only in a review app (or with --force), never in production', async (t) => {
  const { app } = await build(t, { S3_KEY_PREFIX: 'gallery-pr-1' })
  const put = (key: string) => app.storage.client.send(new PutObjectCommand({ Bucket: app.storage.bucket, Key: key, Body: 'x' }))
  // Seven keys listed three at a time: pages of 3, 3 and 1. (s3rver's DeleteObjects deletes a
  // batch concurrently and races itself removing the folder once it is empty, answering
  // InternalError; a last page of exactly one key keeps the test clear of that s3rver bug.)
  const mine = Array.from({ length: 7 }, (_, i) => `gallery-pr-1/${i}.png`)
  await Promise.all(mine.map(put))
  await put('gallery-pr-12/keep.png')
  await put('gallery-staging/keep.png')
  await put('images/keep.png')

  const log: string[] = []
  assert.equal(await deletePrefix(app.storage, app.storage.prefix, { pageSize: 3, log: l => log.push(l) }), 7)
  assert.deepEqual(log, ['deleted 3 object(s) so far', 'deleted 6 object(s) so far', 'deleted 7 object(s) so far'])
  for (const key of mine) assert.equal(await app.storage.headObject(key), null)
  assert.ok(await app.storage.headObject('gallery-pr-12/keep.png'), 'a sibling prefix sharing the first characters is untouched')
  assert.ok(await app.storage.headObject('images/keep.png'))

  const review = { environment: 'staging', prefix: 'gallery-pr-1', prNumber: '1', force: false }
  assert.equal(deletePrefixRefusal(review), null)
  assert.match(deletePrefixRefusal({ ...review, environment: 'production' })!, /production/)
  assert.match(deletePrefixRefusal({ ...review, environment: 'production', force: true })!, /production/, '--force never overrides production')
  // Staging with HEROKU_APP_NAME set has its app name as prefix too: not being production is not enough
  assert.match(deletePrefixRefusal({ ...review, prefix: 'gallery-staging', prNumber: undefined })!, /not a review app \(HEROKU_PR_NUMBER is not set\).*--force/)
  assert.match(deletePrefixRefusal({ ...review, prefix: 'gallery-staging', prNumber: '' })!, /not a review app/)
  assert.equal(deletePrefixRefusal({ ...review, prefix: 'gallery-staging', prNumber: undefined, force: true }), null)
  assert.match(deletePrefixRefusal({ ...review, prefix: 'images' })!, /--force/)
  assert.equal(deletePrefixRefusal({ ...review, prefix: 'images', prNumber: undefined, force: true }), null)

  // The command itself, as pr-predestroy runs it (review app) and as someone might by hand on staging
  const env = await testEnv()
  const refused = spawnNode(['bin/delete-prefix.ts'], env)
  assert.equal((await refused.exited).code, 3, refused.output())
  assert.ok(await app.storage.headObject('images/keep.png'))
  const staging = spawnNode(['bin/delete-prefix.ts'], { ...env, HEROKU_APP_NAME: 'gallery-staging' })
  assert.equal((await staging.exited).code, 3, staging.output())
  assert.match(staging.output(), /not a review app/)
  assert.ok(await app.storage.headObject('gallery-staging/keep.png'), 'staging keeps its images')
  const predestroy = spawnNode(['bin/delete-prefix.ts'], { ...env, HEROKU_APP_NAME: 'gallery-pr-12', HEROKU_PR_NUMBER: '12' })
  assert.equal((await predestroy.exited).code, 0, predestroy.output())
  assert.match(predestroy.output(), /1 object\(s\) deleted/)
  assert.equal(await app.storage.headObject('gallery-pr-12/keep.png'), null)
  assert.ok(await app.storage.headObject('images/keep.png'))
  const forced = spawnNode(['bin/delete-prefix.ts', '--force'], { ...env, HEROKU_APP_NAME: 'gallery-staging' })
  assert.equal((await forced.exited).code, 0, forced.output())
  assert.equal(await app.storage.headObject('gallery-staging/keep.png'), null)
})
